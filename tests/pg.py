"""PostgreSQL helpers for tests: a migrated template database, cloned per test."""

from __future__ import annotations

import os
import uuid

import psycopg

from hub.db.engine import Database

PG_ADMIN_URL = os.environ.get("SHUYU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin():
    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


def pg_available() -> bool:
    try:
        with _admin() as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def _url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def pg_create_template() -> str:
    name = f"shuyu_tpl_{uuid.uuid4().hex[:10]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    Database(_url(name)).dispose()  # runs the migrations
    return name


def pg_from_template(template: str, name: str) -> str:
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _url(name)


def pg_drop(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
