"""Asking parties again: a computation in review whose party has not answered yet (its node was
unreachable, or its operator has not decided) is proposed again, so the reviewer sees the party's
approval when it comes rather than only when the computation runs; and an active party whose
tables the platform has not learnt lately is asked for them (``hello``: schema only), so its
company can develop against them (``ws.privacy.stand_in``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from hub import kinds
from hub.db.engine import Database
from hub.db.models import Party, PartyStatus, Request
from hub.ops import parties
from hub.privacy.node import Node, NodeError
from hub.review import lifecycle
from hub.review.checks import Limits

log = logging.getLogger("shuyu.production")
UNANSWERED = (None, "not_proposed", "pending", "unreachable")
REFRESH_SECONDS = 30.0
SCHEMA_AGE = timedelta(minutes=10)  # how old a party's declared tables may get


def unanswered(db: Database) -> list[int]:
    """Computations in review whose party has not approved or rejected them yet."""
    with db.session() as s:
        found = s.scalars(
            select(Request).where(Request.kind == "privacy", Request.status == lifecycle.IN_REVIEW)
        )
        return [
            r.id for r in found if (r.meta.get("party_approval") or {}).get("status") in UNANSWERED
        ]


def learn_schemas(db: Database, node: Node, now: datetime | None = None) -> list[str]:
    """Ask each active party whose tables are unknown or stale for them; return who answered."""
    now = now or datetime.now(UTC)
    with db.session() as s:
        found = s.scalars(select(Party).where(Party.status == PartyStatus.ACTIVE))
        due = [(p.id, p.address) for p in found
               if p.schema_at is None or _aware(p.schema_at) < now - SCHEMA_AGE]  # fmt: skip
    answered = []
    for party_id, address in due:
        try:
            tables = node.hello(party_id, address).get("tables")
        except NodeError as e:
            log.info("party %s did not answer hello: %s", party_id, e.detail or e.msg)
            continue
        with db.session() as s:
            party = s.get(Party, party_id)
            parties.record_schema(s, party, tables)
            party.schema_at = now
        answered.append(party_id)
    return answered


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # SQLite drops the zone


def refresh(db: Database, node: Node, store: Path, limits: Limits) -> list[int]:
    """Learn stale parties' tables, and propose every unanswered computation again; return
    the computations' ids."""
    learn_schemas(db, node)
    kind = kinds.get("privacy")
    checking = kinds.checking(store, limits, None, node)
    ids = unanswered(db)
    for request_id in ids:
        try:
            kind.after_checks(db, request_id, checking)
        except Exception:  # noqa: BLE001 - one party's trouble must not stop the others
            log.exception("computation %s could not be proposed again", request_id)
    return ids
