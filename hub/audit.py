"""The audit trail: append-only and hash-chained.

Each event stores the SHA-256 of its own fields together with the previous event's hash, so
changing, removing or reordering any stored event breaks the chain from that event on, and
``verify`` names the first broken one. No code path updates or deletes events; the migration adds
database triggers that refuse UPDATE and DELETE.

Appending takes the chain lock (``BEGIN IMMEDIATE`` on SQLite, an advisory transaction lock on
PostgreSQL) so that concurrent writers from the hub, services and the CLI form one chain. The event
is written in the caller's transaction: an admin action and its audit event commit together or not
at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from hub.db.models import AuditEvent

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x5348555955  # "SHUYU"
FIELDS = ("id", "ts", "actor", "tenant", "action", "object", "outcome", "reason", "details")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any] | None) -> str:
    return json.dumps(
        details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )


def event_hash(prev_hash: str, values: tuple) -> str:
    """SHA-256 over the previous hash and the event's fields (``FIELDS`` order), as a JSON array."""
    payload = json.dumps([prev_hash, *values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _lock_and_head(session: Session) -> tuple[int, str]:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    row = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def append_many(session: Session, events: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Append events in the caller's transaction; each is a dict with ``action`` and optionally
    ``actor``, ``tenant``, ``object``, ``outcome``, ``reason`` and ``details``."""
    last_id, prev = _lock_and_head(session)
    rows = []
    for ev in events:
        last_id += 1
        values = (
            last_id,
            ev.get("ts") or _now(),
            str(ev.get("actor") or ""),
            str(ev.get("tenant") or ""),
            str(ev["action"]),
            str(ev.get("object") or ""),
            str(ev.get("outcome") or "ok"),
            str(ev.get("reason") or ""),
            canonical_details(ev.get("details")),
        )
        row = dict(zip(FIELDS, values, strict=True))
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(prev, values)
        rows.append(row)
    if rows:
        session.execute(insert(AuditEvent), rows)
    return rows


def append(session: Session, action: str, **fields: Any) -> dict:
    """Append one event in the caller's transaction and return it as a dict."""
    return append_many(session, [{"action": action, **fields}])[0]


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify`."""

    ok: bool
    count: int
    head: str
    broken_id: int | None = None
    problem: str = ""


def verify(engine: Engine, batch: int = 20_000) -> ChainReport:
    """Recompute the whole chain; report the first event whose link or hash does not hold."""
    cols = ", ".join(FIELDS)
    sql = f"SELECT {cols}, prev_hash, hash FROM audit_events ORDER BY id"
    prev, expected_id, count = GENESIS, 1, 0
    with engine.connect().execution_options(stream_results=True, yield_per=batch) as conn:
        for row in conn.exec_driver_sql(sql):
            values = tuple(row[:9])
            eid, stored_prev, stored_hash = values[0], row[9], row[10]
            if eid != expected_id:
                return ChainReport(
                    False,
                    count,
                    prev,
                    eid,
                    f"event id {eid} follows {expected_id - 1}: events missing",
                )
            if stored_prev != prev:
                return ChainReport(False, count, prev, eid, "link to the previous event is broken")
            if event_hash(prev, values) != stored_hash:
                return ChainReport(False, count, prev, eid, "event content does not match its hash")
            prev, expected_id, count = stored_hash, eid + 1, count + 1
    return ChainReport(True, count, prev)
