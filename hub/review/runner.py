"""Runs the automated checks of submitted requests, and resumes those a crash interrupted."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from hub.db.engine import Database
from hub.db.models import DataListItem, Decision, Request
from hub.masking.policy import PII_ENTITIES, pii_kind
from hub.production import imports, jobs, publishing
from hub.production.rules import ProductionRules
from hub.review import lifecycle
from hub.review.checks import Context, Limits, RawSource, run_all, worst
from hub.serving.refusals import BadRequest

log = logging.getLogger("shuyu.review")


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
        ids = [c["name"] for c in schema if pii_kind(c) in PII_ENTITIES and pii_kind(c) != "name"]
        quasi = [c["name"] for c in schema if c.get("quasi")]
        out.append(
            RawSource(item.dataset.name, str(store / item.dataset.path), tuple(ids), tuple(quasi))
        )
    return tuple(out)


def releases(s, request: Request) -> tuple[pd.DataFrame, ...]:
    """Every result the tenant had approved before, of the same kind, newest first: the
    differencing check compares against the company's whole release history."""
    earlier = s.scalars(
        select(Request)
        .where(
            Request.tenant_id == request.tenant_id,
            Request.kind == request.kind,
            Request.status.in_((lifecycle.APPROVED, lifecycle.RELEASED)),
            Request.id != request.id,
        )
        .order_by(Request.id.desc())
    )
    return tuple(pd.read_parquet(r.content_path) for r in earlier)


def check(
    db: Database,
    request_id: int,
    store: Path,
    limits: Limits = Limits(),  # noqa: B008 - frozen
    production: ProductionRules = ProductionRules(),  # noqa: B008 - frozen
) -> str:
    """Run every check of its kind on a submitted request and open its review (or approve it,
    where a production rule says so); return the worst verdict."""
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        lifecycle.start_checks(s, request)
        kind = request.kind
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        content = Path(request.content_path).read_bytes()
        findings, rows = _findings(s, request, content, store, limits, production)
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        if request.status == lifecycle.CHECKING:  # not withdrawn meanwhile
            lifecycle.record_checks(s, request, findings, rows)
            if kind == "job" and request.scenario.category.value in production.auto_approve:
                lifecycle.auto_approve(
                    s,
                    request,
                    f"policy: {request.scenario.category.value} jobs are approved when every check passes",
                )
    return worst(findings)


def _findings(s, request: Request, content: bytes, store: Path, limits: Limits, production: ProductionRules) -> tuple[list, int]:  # fmt: skip
    if request.kind == "job":
        approved = jobs.approved_datasets(s, request.scenario_id)
        return jobs.checks(content, dict(request.meta), approved, production), 0
    if request.kind == "model":
        return publishing.checks(s, request, content, store, production), 0
    if request.kind == "import":
        try:
            frame = imports.read(content, request.meta.get("format", "csv"))
        except BadRequest as e:
            return [imports.failed_format(e)], 0
        ctx = Context(limits=limits, size_bytes=len(content))
        return [imports.format_finding(frame, request.meta.get("format", "csv")),
                *run_all(frame, ctx, names=["pii_scan", "limits"])], len(frame)  # fmt: skip
    ctx = Context(
        limits=limits,
        raw=raw_sources(s, request.scenario_id, store),
        releases=releases(s, request),
        table=dict(request.meta.get("table") or {}),
        size_bytes=len(content),
    )
    frame = pd.read_parquet(io.BytesIO(content))
    return run_all(frame, ctx), len(frame)


def resume(
    db: Database,
    store: Path,
    limits: Limits = Limits(),  # noqa: B008 - frozen
    production: ProductionRules = ProductionRules(),  # noqa: B008 - frozen
) -> list[int]:
    """Check every request a crash left submitted or mid-check; return their ids."""
    with db.session() as s:
        pending = s.scalars(
            select(Request.id).where(Request.status.in_((lifecycle.SUBMITTED, lifecycle.CHECKING)))
        ).all()
    for request_id in pending:
        try:
            check(db, request_id, store, limits, production)
        except Exception:  # noqa: BLE001 - one broken request must not stop the others
            log.exception("checks of request %s failed", request_id)
    return list(pending)
