"""Hashing and verification of the audit chain.

Kept free of SQLAlchemy so verification workers start fast. The hash of an event is the SHA-256 of
its fields, each written as ``<length>:<text>``, preceded by the previous event's hash. The same
encoding is computed in SQL on PostgreSQL, so the database verifies a million events itself.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

GENESIS = "0" * 64
FIELDS = ("id", "ts", "actor", "tenant", "action", "object", "outcome", "reason", "details")
_SELECT = f"SELECT {', '.join(FIELDS)}, prev_hash, hash FROM audit_events"
PARALLEL_FROM = 50_000  # events; below this one process is quicker than starting workers


def event_hash(prev_hash: str, values: tuple) -> str:
    """SHA-256 over the previous hash and the event's fields in ``FIELDS`` order."""
    payload = "".join(f"{len(v)}:{v}" for v in (prev_hash, *map(str, values)))
    return hashlib.sha256(payload.encode()).hexdigest()


def sql_event_hash() -> str:
    """The same hash as a PostgreSQL expression over an audit_events row."""
    parts = ["prev_hash"] + [f"{c}::text" if c == "id" else c for c in FIELDS]
    payload = " || ".join(f"length({p})::text || ':' || {p}" for p in parts)
    return f"encode(sha256(convert_to({payload}, 'UTF8')), 'hex')"


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: ``broken_id`` is the first event that does not hold."""

    ok: bool
    count: int
    head: str
    broken_id: int | None = None
    problem: str = ""
    base: int = 0  # the last pruned event's id: the trail holds ids base+1 .. base+count


@dataclass(frozen=True)
class _Segment:
    first_id: int | None
    first_prev: str
    last_id: int | None
    last_hash: str
    count: int
    broken_id: int | None = None
    problem: str = ""


MISSING = "events missing before this one"
LINK = "link to the previous event is broken"
CONTENT = "event content does not match its hash"


def _check_rows(rows) -> _Segment:
    """Check links, hashes and id continuity inside one run of consecutive rows."""
    first_id = first_prev = prev = None
    expected = None
    count = 0
    for row in rows:
        values, stored_prev, stored_hash = row[:9], row[9], row[10]
        eid = values[0]
        if first_id is None:
            first_id, first_prev = eid, stored_prev
        else:
            if eid != expected:
                return _Segment(first_id, first_prev, eid, prev, count, eid, MISSING)
            if stored_prev != prev:
                return _Segment(first_id, first_prev, eid, prev, count, eid, LINK)
        if event_hash(stored_prev, values) != stored_hash:
            return _Segment(first_id, first_prev, eid, prev, count, eid, CONTENT)
        prev, expected, count = stored_hash, eid + 1, count + 1
    return _Segment(
        first_id, first_prev or GENESIS, expected - 1 if expected else None, prev or GENESIS, count
    )


def _sqlite_segment(path: str, lo: int, hi: int) -> _Segment:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cur = con.execute(f"{_SELECT} WHERE id >= ? AND id < ? ORDER BY id", (lo, hi))
        return _check_rows(cur)
    finally:
        con.close()


def _join(segments: list[_Segment], base: tuple[int, str] = (0, GENESIS)) -> ChainReport:
    """Combine consecutive segments; the chain starts after ``base`` (the last pruned event's id
    and hash; id 0 and the genesis hash when nothing was pruned)."""
    prev_last, prev_hash = base
    count = 0
    for seg in segments:
        if seg.first_id is None:
            continue
        if seg.first_id != prev_last + 1:
            return ChainReport(False, count, prev_hash, seg.first_id, MISSING, base[0])
        if seg.first_prev != prev_hash:
            return ChainReport(False, count, prev_hash, seg.first_id, LINK, base[0])
        count += seg.count
        if seg.broken_id is not None:
            return ChainReport(False, count, seg.last_hash, seg.broken_id, seg.problem, base[0])
        prev_hash, prev_last = seg.last_hash, seg.last_id
    return ChainReport(True, count, prev_hash, base=base[0])


def verify_sqlite(
    path: str, workers: int | None = None, base: tuple[int, str] = (0, GENESIS)
) -> ChainReport:
    """Verify a SQLite trail, splitting the id range over worker processes when it is large;
    it starts right after ``base``."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        lo, hi = con.execute("SELECT min(id), max(id) FROM audit_events").fetchone()
    finally:
        con.close()
    if lo is None:
        return ChainReport(True, 0, base[1], base=base[0])
    workers = workers or os.cpu_count() or 1
    if hi - lo < PARALLEL_FROM or workers == 1:
        return _join([_sqlite_segment(path, lo, hi + 1)], base)
    step = (hi - lo + workers) // workers
    bounds = [(lo + i * step, min(lo + (i + 1) * step, hi + 1)) for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        segments = list(pool.map(_sqlite_segment, [path] * len(bounds), *zip(*bounds, strict=True)))
    return _join(segments, base)


def stored_hash(engine, event_id: int) -> str | None:
    """The hash stored for one event, read without a write lock (a SQLite transaction on the
    platform's engine begins IMMEDIATE, which would wait on any caller's open transaction)."""
    if engine.dialect.name == "sqlite":
        con = sqlite3.connect(f"file:{engine.url.database}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT hash FROM audit_events WHERE id = ?", (event_id,)).fetchone()
        finally:
            con.close()
        return row[0] if row else None
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT hash FROM audit_events WHERE id = %(id)s", {"id": event_id}
        ).scalar()


def verify_postgres(conn, base: tuple[int, str] = (0, GENESIS)) -> ChainReport:
    """Verify a PostgreSQL trail in the database: one scan with a window over the previous row;
    the first row follows ``base``."""
    base_id, base_hash = int(base[0]), base[1]
    if not all(c in "0123456789abcdef" for c in base_hash):
        raise ValueError("a chain hash is hexadecimal")
    first_bad = conn.exec_driver_sql(
        f"""
        SELECT id, CASE
                 WHEN id <> coalesce(before_id, {base_id}) + 1 THEN 'missing'
                 WHEN prev_hash <> coalesce(before_hash, '{base_hash}') THEN 'link'
                 ELSE 'content' END
        FROM (SELECT id, prev_hash, hash,
                     lag(id) OVER w AS before_id, lag(hash) OVER w AS before_hash,
                     {sql_event_hash()} AS computed
              FROM audit_events WINDOW w AS (ORDER BY id)) chain
        WHERE id <> coalesce(before_id, {base_id}) + 1
           OR prev_hash <> coalesce(before_hash, '{base_hash}')
           OR computed <> hash
        ORDER BY id LIMIT 1
        """
    ).first()
    if first_bad is None:
        count, head = conn.exec_driver_sql(
            "SELECT count(*), (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1) FROM audit_events"
        ).one()
        return ChainReport(True, count, head or base_hash, base=base_id)
    eid, kind = first_bad
    count, head = conn.exec_driver_sql(
        "SELECT count(*), (SELECT hash FROM audit_events WHERE id < %(i)s ORDER BY id DESC LIMIT 1) "
        "FROM audit_events WHERE id < %(i)s",
        {"i": eid},
    ).one()
    problem = {"missing": MISSING, "link": LINK, "content": CONTENT}[kind]
    return ChainReport(False, count, head or base_hash, eid, problem, base_id)
