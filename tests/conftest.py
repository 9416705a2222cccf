"""Shared fixtures: a fresh platform DB per test, on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest

from hub.db.engine import Database
from hub.ops import Ctx
from tests.cli_helpers import run_cli
from tests.pg import PG_ADMIN_URL, pg_available, pg_create_template, pg_drop, pg_from_template

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# The CLI fixtures' tenant, first processor's ID number and password.
CLI_USCC = "91330106MA2H0A1B2T"
CLI_ID1 = "33010619900101123X"
CLI_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def pg_template():
    if not pg_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    name = pg_create_template()
    yield name
    pg_drop(name)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path: Path) -> str:
    """A fresh, migrated platform DB URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'platform.sqlite'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"shuyu_t_{uuid.uuid4().hex[:12]}"
    yield pg_from_template(template, name)
    pg_drop(name)


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def shuyu_home(tmp_path: Path, monkeypatch, db_url: str) -> Path:
    """Point the CLI and config at a temporary home and the test's DB."""
    home = tmp_path / "home"
    monkeypatch.setenv("SHUYU_HOME", str(home))
    monkeypatch.setenv("SHUYU_DB_URL", db_url)
    return home


@pytest.fixture
def ctx_factory(db):
    """Run ops in a transaction the way the CLI does: ``with ctx_factory() as ctx: ...``."""
    from contextlib import contextmanager

    @contextmanager
    def make(actor: str = "test-admin", today: date | None = None):
        with db.session() as s:
            yield Ctx(session=s, actor=actor, pepper=b"p" * 32, today=today or date.today())

    return make


@pytest.fixture
def cli(shuyu_home, monkeypatch, capsys):
    def call(*argv, stdin=""):
        return run_cli(monkeypatch, capsys, *argv, stdin=stdin)

    assert call("init")[0] == 0
    return call


@pytest.fixture
def world(cli):
    """One tenant with an agreement, one department, one processor."""
    assert cli("tenant", "add", "--name", "甲科技", "--uscc", CLI_USCC)[0] == 0
    assert cli("agreement", "sign", "--tenant", "甲科技")[0] == 0
    assert cli("department", "add", "--name", "市卫生健康委员会")[0] == 0
    rc, out, err = cli(
        "staff",
        "add",
        "--username",
        "alice",
        "--real-name",
        "张三",
        "--id-number",
        CLI_ID1,
        "--mobile",
        "13812345678",
        "--role",
        "processor",
        "--tenant",
        "甲科技",
        "--password-stdin",
        stdin=CLI_PASSWORD + "\n",
    )
    assert rc == 0, err
    return cli
