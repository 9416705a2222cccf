"""Runs the automated checks of submitted requests, and resumes those a crash interrupted."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from hub.db.engine import Database
from hub.db.models import DataListItem, Decision, Request
from hub.masking.sample import PII_ENTITIES
from hub.review import lifecycle
from hub.review.checks import Context, Limits, RawSource, run_all, worst

log = logging.getLogger("shuyu.review")
MAX_RELEASES = 20  # earlier releases the differencing check compares against


def raw_sources(s, scenario_id: int, store: Path) -> tuple[RawSource, ...]:
    """The raw datasets the scenario is approved for, with their identifying and quasi columns."""
    items = s.scalars(
        select(DataListItem).where(
            DataListItem.scenario_id == scenario_id, DataListItem.decision == Decision.APPROVED
        )
    )
    out = []
    for item in items:
        schema = item.dataset.schema
        ids = [c["name"] for c in schema if c.get("pii") in PII_ENTITIES and c.get("pii") != "name"]
        quasi = [c["name"] for c in schema if c.get("quasi")]
        out.append(
            RawSource(item.dataset.name, str(store / item.dataset.path), tuple(ids), tuple(quasi))
        )
    return tuple(out)


def releases(s, request: Request) -> tuple[pd.DataFrame, ...]:
    """The tenant's earlier approved results of the same kind, newest first."""
    earlier = s.scalars(
        select(Request)
        .where(
            Request.tenant_id == request.tenant_id,
            Request.kind == request.kind,
            Request.status.in_((lifecycle.APPROVED, lifecycle.RELEASED)),
            Request.id != request.id,
        )
        .order_by(Request.id.desc())
        .limit(MAX_RELEASES)
    )
    return tuple(pd.read_parquet(r.content_path) for r in earlier)


def check(db: Database, request_id: int, store: Path, limits: Limits = Limits()) -> str:  # noqa: B008
    """Run every check on a submitted request and open its review; return the worst verdict."""
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        lifecycle.start_checks(s, request)
        content = Path(request.content_path).read_bytes()
        ctx = Context(
            limits=limits,
            raw=raw_sources(s, request.scenario_id, store),
            releases=releases(s, request),
            table=dict(request.meta.get("table") or {}),
            size_bytes=len(content),
        )
    frame = pd.read_parquet(io.BytesIO(content))
    findings = run_all(frame, ctx)
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        if request.status == lifecycle.CHECKING:  # not withdrawn meanwhile
            lifecycle.record_checks(s, request, findings, len(frame))
    return worst(findings)


def resume(db: Database, store: Path, limits: Limits = Limits()) -> list[int]:  # noqa: B008
    """Check every request a crash left submitted or mid-check; return their ids."""
    with db.session() as s:
        pending = s.scalars(
            select(Request.id).where(Request.status.in_((lifecycle.SUBMITTED, lifecycle.CHECKING)))
        ).all()
    for request_id in pending:
        try:
            check(db, request_id, store, limits)
        except Exception:  # noqa: BLE001 - one broken request must not stop the others
            log.exception("checks of request %s failed", request_id)
    return list(pending)
