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

import json
import queue
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from hub.audit_anchor import FORGED, REWRITTEN, TRUNCATED, Anchor, Checkpoint
from hub.audit_chain import (  # noqa: F401 - re-exported for callers of hub.audit
    FIELDS,
    GENESIS,
    ChainReport,
    event_hash,
    stored_hash,
    verify_postgres,
    verify_sqlite,
)
from hub.db.models import AuditEvent

_PG_LOCK_KEY = 0x5348555955  # "SHUYU"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any] | None) -> str:
    return json.dumps(
        details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )


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
        # Anchored outside the database once the transaction commits (hub.db.engine.Database).
        session.info["audit_head"] = (last_id, prev)
    return rows


def append(session: Session, action: str, **fields: Any) -> dict:
    """Append one event in the caller's transaction and return it as a dict."""
    return append_many(session, [{"action": action, **fields}])[0]


def verify(engine: Engine, anchor: Anchor | None = None) -> ChainReport:
    """Recompute the whole chain; report the first event whose link or hash does not hold.

    With an ``anchor``, the chain must also reach its signed checkpoint with the same hash: a
    trail whose tail was cut (triggers dropped, newest events deleted) still links up, but no
    longer reaches the head recorded outside the database.

    The checkpoint is read before the chain: it only ever names committed events, so a chain
    read afterwards holds them all, however many writers append meanwhile.
    """
    point, signed = anchor.read() if anchor is not None else (None, True)
    base, bases_signed = chain_base(engine, anchor)
    if not bases_signed:
        return ChainReport(False, 0, GENESIS, None, FORGED_BASE)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            report = verify_postgres(conn, base)
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        report = verify_sqlite(engine.url.database, base=base)
    else:
        raise NotImplementedError(f"audit verification for {engine.dialect.name}")
    if not signed and report.ok:
        return ChainReport(False, report.count, report.head, report.count, FORGED, report.base)
    return reaches(engine, report, point)


FORGED_BASE = "the chain's base (where pruning left it) is not signed by this platform"


def chain_base(engine: Engine, anchor: Anchor | None) -> tuple[tuple[int, str], bool]:
    """Where the trail in the database starts: after the signed base whose id is one before
    its oldest event (old events archived and pruned), else at id 1 from the genesis hash.
    Only the platform's signed bases count, so cutting the oldest events is still detected."""
    if anchor is None:
        return (0, GENESIS), True
    bases, signed = anchor.read_bases()
    if not signed:
        return (0, GENESIS), False
    if not bases:
        return (0, GENESIS), True
    first = first_id(engine)
    for b in bases:
        if first is not None and b.id + 1 == first:
            return (b.id, b.hash), True
    return (0, GENESIS), True


def first_id(engine: Engine) -> int | None:
    """The oldest event's id, read without the write lock (as :func:`stored_hash`)."""
    if engine.dialect.name == "sqlite":
        import sqlite3

        con = sqlite3.connect(f"file:{engine.url.database}?mode=ro", uri=True)
        try:
            return con.execute("SELECT min(id) FROM audit_events").fetchone()[0]
        finally:
            con.close()
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT min(id) FROM audit_events").scalar()


def reaches(engine: Engine, report: ChainReport, point: Checkpoint | None) -> ChainReport:
    """``report`` unless the verified chain falls short of ``point`` (a checkpoint read from the
    anchor or from an export an auditor kept) or holds another event there."""
    if point is None or not report.ok:
        return report
    last = report.base + report.count  # ids run base+1..base+count in an unbroken chain
    if point.id > last:
        return ChainReport(False, report.count, report.head, last + 1, TRUNCATED, report.base)
    if point.id <= report.base:  # archived and pruned: the signed base vouches for it
        return report
    if stored_hash(engine, point.id) != point.hash:
        return ChainReport(False, report.count, report.head, point.id, REWRITTEN, report.base)
    return report


class AuditWriter:
    """Group commit for events that stand alone (logins refused, spawns, gateway calls).

    Callers block until their event is committed, so nothing is reported done before it is
    recorded, but events from concurrent callers share one transaction: throughput grows with
    load instead of being capped by one commit per event.
    """

    def __init__(self, db, max_batch: int = 1000):
        self.db = db
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def write(self, action: str, **fields: Any) -> dict:
        """Append one event and return it once committed; raises what the commit raised."""
        future: Future = Future()
        self._queue.put(({"action": action, **fields}, future))
        self._ensure_thread()
        return future.result()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="audit-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.db.session() as s:
                    rows = append_many(s, [event for event, _ in batch])
            except Exception as e:  # every waiting caller learns of the failure
                for _, future in batch:
                    future.set_exception(e)
            else:
                for (_, future), row in zip(batch, rows, strict=True):
                    future.set_result(row)
