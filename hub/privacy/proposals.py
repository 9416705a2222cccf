"""Asking parties again: a computation in review whose party has not answered yet (its node was
unreachable, or its operator has not decided) is proposed again, so the reviewer sees the party's
approval when it comes rather than only when the computation runs."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select

from hub import kinds
from hub.db.engine import Database
from hub.db.models import Request
from hub.privacy.node import Node
from hub.review import lifecycle
from hub.review.checks import Limits

log = logging.getLogger("shuyu.production")
UNANSWERED = (None, "not_proposed", "pending", "unreachable")
REFRESH_SECONDS = 30.0


def unanswered(db: Database) -> list[int]:
    """Computations in review whose party has not approved or rejected them yet."""
    with db.session() as s:
        found = s.scalars(
            select(Request).where(Request.kind == "privacy", Request.status == lifecycle.IN_REVIEW)
        )
        return [
            r.id for r in found if (r.meta.get("party_approval") or {}).get("status") in UNANSWERED
        ]


def refresh(db: Database, node: Node, store: Path, limits: Limits) -> list[int]:
    """Propose every unanswered computation again; return their ids."""
    kind = kinds.get("privacy")
    checking = kinds.checking(store, limits, None, node)
    ids = unanswered(db)
    for request_id in ids:
        try:
            kind.after_checks(db, request_id, checking)
        except Exception:  # noqa: BLE001 - one party's trouble must not stop the others
            log.exception("computation %s could not be proposed again", request_id)
    return ids
