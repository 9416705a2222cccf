"""Archives of the audit trail: old events exported with their chain hashes, verifiable alone.

Audit events and access logs must be kept at least six months (``Settings.retention``). An archive
carries a contiguous run of the oldest events (ids ``first_id..last_id``, every event older than
the cut-off date), each with its ``prev_hash`` and ``hash``, behind one header line that names the
run's ends and the platform's signed checkpoint at export time and is itself signed with the
anchor key (:mod:`hub.audit_anchor`). So :func:`verify_archive` proves three things: every event
in the file matches its hash and links to the one before; the run starts at the genesis hash (or
at the ``first_prev`` it declares) and the header was signed by this platform, so no event was
cut from either end; and the run continues into what stays in the database — the event after
``last_id`` links to the archive's last hash.

The format is JSON lines: line 1 the header (``"format": "shuyu-audit-archive/1"``), then one
event a line in id order with the fields of :data:`hub.audit_chain.FIELDS` plus ``prev_hash`` and
``hash``. Exporting changes nothing in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.audit_anchor import Anchor, Checkpoint
from hub.audit_chain import FIELDS, GENESIS, event_hash
from hub.db.models import AuditEvent

FORMAT = "shuyu-audit-archive/1"

NOT_ARCHIVE = "not an audit archive (unreadable header)"
UNSIGNED = "the archive header's signature is not this platform's"
CHECKPOINT = "the checkpoint in the archive is not signed by this platform"
START = "the archive does not start where it says (first id or genesis hash)"
LINK = "link to the previous event is broken"
CONTENT = "event content does not match its hash"
MISSING = "events missing before this one"
END = "the archive does not end where its signed header says"
GAP = "the trail in the database does not continue from the archive's last hash"


@dataclass(frozen=True)
class ArchiveSummary:
    """What an export wrote: ids ``first_id..last_id`` (``count`` events; 0 when none)."""

    path: Path
    count: int
    first_id: int | None
    last_id: int | None
    last_hash: str


@dataclass(frozen=True)
class ArchiveReport:
    """The outcome of :func:`verify_archive`; ``broken_id`` names the first event that fails."""

    ok: bool
    count: int
    last_id: int | None = None
    last_hash: str = GENESIS
    broken_id: int | None = None
    problem: str = ""


def _ts(day: datetime) -> str:
    """The cut-off in the trail's own timestamp format, so string order is time order."""
    return day.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _header_mac(key: bytes, header: dict) -> str:
    body = json.dumps(
        {k: v for k, v in header.items() if k != "mac"},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _row(event: AuditEvent) -> dict:
    return {
        **{f: getattr(event, f) for f in FIELDS},
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def export(engine: Engine, anchor: Anchor, before: datetime, out: Path) -> ArchiveSummary:
    """Write every event older than ``before`` to ``out``, as one contiguous run from the oldest.

    The run stops at the first event at or after ``before`` (by id order), so it never leaves a
    hole: an event with an earlier timestamp behind a later one stays for the next archive.
    """
    cut = _ts(before)
    with engine.connect() as conn:
        first_young = conn.execute(
            select(func.min(AuditEvent.id)).where(AuditEvent.ts >= cut)
        ).scalar()
        bound = select(AuditEvent).order_by(AuditEvent.id)
        if first_young is not None:
            bound = bound.where(AuditEvent.id < first_young)
        with Session(bind=conn) as s:
            rows = [_row(e) for e in s.scalars(bound)]
    point, _signed = anchor.read()
    header = {
        "format": FORMAT,
        "before": cut,
        "created": _ts(datetime.now(UTC)),
        "count": len(rows),
        "first_id": rows[0]["id"] if rows else None,
        "first_prev": rows[0]["prev_hash"] if rows else GENESIS,
        "last_id": rows[-1]["id"] if rows else None,
        "last_hash": rows[-1]["hash"] if rows else GENESIS,
        "checkpoint": point.as_dict() if point is not None else None,
    }
    header["mac"] = _header_mac(anchor.key, header)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return ArchiveSummary(
        out, len(rows), header["first_id"], header["last_id"], header["last_hash"]
    )


def verify_archive(path: Path, anchor: Anchor, engine: Engine | None = None) -> ArchiveReport:
    """Check an archive alone (hashes, links, signed ends) and, with ``engine``, its continuity
    with the trail in the database."""
    try:
        with open(path, encoding="utf-8") as f:
            header = json.loads(f.readline())
            if header.get("format") != FORMAT:
                return ArchiveReport(False, 0, problem=NOT_ARCHIVE)
            if not hmac.compare_digest(str(header.get("mac", "")), _header_mac(anchor.key, header)):
                return ArchiveReport(False, 0, problem=UNSIGNED)
            point = header.get("checkpoint")
            if point is not None:
                cp = Checkpoint(int(point["id"]), point["hash"], point["ts"], point["mac"])
                if not anchor.signed(cp):
                    return ArchiveReport(False, 0, problem=CHECKPOINT)
            first_id, prev = header["first_id"], header["first_prev"]
            if first_id == 1 and prev != GENESIS:
                return ArchiveReport(False, 0, broken_id=1, problem=START)
            expected, count, last_id = first_id, 0, None
            for line in f:
                row = json.loads(line)
                eid = row["id"]
                if eid != expected:
                    problem = START if count == 0 else MISSING
                    return ArchiveReport(False, count, last_id, prev, eid, problem)
                if row["prev_hash"] != prev:
                    return ArchiveReport(False, count, last_id, prev, eid, LINK)
                values = tuple(row[k] for k in FIELDS)
                if event_hash(row["prev_hash"], values) != row["hash"]:
                    return ArchiveReport(False, count, last_id, prev, eid, CONTENT)
                prev, last_id, expected, count = row["hash"], eid, eid + 1, count + 1
    except (OSError, ValueError, KeyError, TypeError):
        return ArchiveReport(False, 0, problem=NOT_ARCHIVE)
    if count != header["count"] or last_id != header["last_id"] or prev != header["last_hash"]:
        return ArchiveReport(False, count, last_id, prev, expected, END)
    if engine is not None and last_id is not None and not _continues(engine, last_id, prev):
        return ArchiveReport(False, count, last_id, prev, last_id + 1, GAP)
    return ArchiveReport(True, count, last_id, prev)


def _continues(engine: Engine, last_id: int, last_hash: str) -> bool:
    """Whether the database's trail holds the archive's last event or links to it next."""
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(AuditEvent.id, AuditEvent.hash).where(
                    AuditEvent.id.in_([last_id, last_id + 1])
                )
            ).all()
        )
        nxt = conn.execute(
            select(AuditEvent.prev_hash).where(AuditEvent.id == last_id + 1)
        ).scalar()
    if last_id in rows:
        return rows[last_id] == last_hash and (nxt is None or nxt == last_hash)
    return nxt == last_hash


# --- pruning -----------------------------------------------------------------------------------
_SQLITE_TRIGGERS = (
    ("audit_events_no_delete", "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON "
     "audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"),
)  # fmt: skip


@dataclass(frozen=True)
class PruneSummary:
    """Events ``first_id..last_id`` left the database; the trail now starts after ``last_id``."""

    count: int
    first_id: int | None
    last_id: int | None
    last_hash: str


class PruneRefused(Exception):
    """Pruning would lose events or break the chain; nothing was deleted."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


def prune(db, archive: Path, retention_days: int, actor: str, now: datetime | None = None):
    """Delete from the database the events held by ``archive`` that are past retention.

    Only a contiguous run of the oldest events goes, each in the archive (which must verify and
    continue into the database) and older than ``retention_days``; the chain in the database
    must verify first. The last deleted event's id and hash become a signed base
    (:meth:`hub.audit_anchor.Anchor.record_base`) from which the remaining trail verifies, and
    the prune is itself an audit event, in the same transaction as the deletion.
    """
    from sqlalchemy import delete, text

    from hub import audit

    anchor = db.anchor
    rep = verify_archive(archive, anchor, db.engine)
    if not rep.ok or rep.last_id is None:
        raise PruneRefused(
            f"归档未通过校验或为空，未删除任何事件：{rep.problem}",
            f"the archive does not verify or is empty; nothing deleted: {rep.problem or 'empty'}",
        )
    chain = audit.verify(db.engine, anchor)
    if not chain.ok:
        raise PruneRefused(
            f"数据库中的审计链断裂于 #{chain.broken_id}，未删除任何事件",
            f"the trail in the database is broken at #{chain.broken_id}; nothing deleted",
        )
    cut = _ts((now or datetime.now(UTC)) - timedelta(days=retention_days))
    with db.session() as s:
        head_id, _ = audit._lock_and_head(s)  # the chain lock: no append runs meanwhile
        first = s.scalar(select(func.min(AuditEvent.id)))
        young = s.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.ts >= cut))
        last = min(rep.last_id, young - 1 if young is not None else rep.last_id)
        last = min(last, head_id - 1)  # the newest event always stays: the chain goes on from it
        if first is None or last < first:
            return PruneSummary(0, None, None, chain.head)
        last_hash = s.scalar(select(AuditEvent.hash).where(AuditEvent.id == last))
        # Written before the deletion commits: a base that never took effect is harmless (the
        # trail then still starts at an earlier base, which stays in the file).
        anchor.record_base(last, last_hash)
        if db.engine.dialect.name == "postgresql":
            s.execute(
                text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
            )
            s.execute(delete(AuditEvent).where(AuditEvent.id <= last))
            s.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))
        else:
            for name, create in _SQLITE_TRIGGERS:
                s.execute(text(f"DROP TRIGGER {name}"))
                s.execute(delete(AuditEvent).where(AuditEvent.id <= last))
                s.execute(text(create))
        audit.append(s, "audit.prune", actor=actor, object=str(archive),
                     details={"first_id": first, "last_id": last, "last_hash": last_hash,
                              "retention_days": retention_days, "before": cut})  # fmt: skip
    return PruneSummary(last - first + 1, first, last, last_hash)
