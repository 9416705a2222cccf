"""Runs the automated checks of submitted requests, and resumes those a crash interrupted.

Which checks run is the request's kind's (:mod:`hub.kinds`); so is whether a production rule
approves it when every check passes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub import kinds
from hub.db.engine import Database
from hub.db.models import Request
from hub.review import lifecycle
from hub.review.checks import Limits, worst
from hub.store import of as store_of

log = logging.getLogger("shuyu.review")


def check(
    db: Database,
    request_id: int,
    store: Path,
    limits: Limits = Limits(),  # noqa: B008 - frozen
    production: Any = None,
    privacy: Any = None,
    caps: Any = None,
) -> str:
    """Run every check of its kind on a submitted request and open its review (or approve it,
    where a production rule says so); return the worst verdict. ``production`` is the production
    zone's rules (``ProductionRules``; ``None``: their defaults, see :func:`hub.kinds.checking`);
    ``privacy`` the platform's privacy node (``hub.privacy.node.Node``), if configured; ``caps`` the
    guided product price caps (``ProductCaps``; ``None``: the defaults)."""
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        lifecycle.start_checks(s, request)
        kind = kinds.get(request.kind)
    checking = kinds.checking(store, limits, production, privacy, caps)
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        content = store_of(store).restore(request.content_path).read_bytes()
        findings, rows = kind.checks(s, request, content, checking)
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        if request.status == lifecycle.CHECKING:  # not withdrawn meanwhile
            lifecycle.record_checks(s, request, findings, rows)
            rule = kind.auto_approval(request, checking.production)
            if rule is not None:
                lifecycle.auto_approve(s, request, rule)
    kind.after_checks(db, request_id, checking)
    return worst(findings)


def resume(
    db: Database,
    store: Path,
    limits: Limits = Limits(),  # noqa: B008 - frozen
    production: Any = None,
    privacy: Any = None,
    caps: Any = None,
) -> list[int]:
    """Check every request a crash left submitted or mid-check; return their ids."""
    with db.session() as s:
        pending = s.scalars(
            select(Request.id).where(Request.status.in_((lifecycle.SUBMITTED, lifecycle.CHECKING)))
        ).all()
    for request_id in pending:
        try:
            check(db, request_id, store, limits, production, privacy, caps)
        except Exception:  # noqa: BLE001 - one broken request must not stop the others
            log.exception("checks of request %s failed", request_id)
    return list(pending)
