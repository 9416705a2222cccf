"""What the checks compare a request against: the scenario's raw datasets and the tenant's earlier
releases. Read by the export checks and by the production zone's release gate alike."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import DataListItem, Decision, Request
from hub.masking.policy import PII_ENTITIES, pii_kind
from hub.review.checks import RawSource
from hub.store import of as store_of
from sdk.statuses import RequestStatus


def raw_sources(s: Session, scenario_id: int, store: Path) -> tuple[RawSource, ...]:
    """The raw datasets the scenario is approved for, with their identifying and quasi columns."""
    items = s.scalars(
        select(DataListItem).where(
            DataListItem.scenario_id == scenario_id, DataListItem.decision == Decision.APPROVED
        )
    )
    out, domain = [], store_of(store)
    for item in items:
        schema = item.dataset.schema
        ids = [c["name"] for c in schema if pii_kind(c) in PII_ENTITIES and pii_kind(c) != "name"]
        quasi = [c["name"] for c in schema if c.get("quasi")]
        out.append(
            RawSource(
                item.dataset.name, str(domain.fetch(item.dataset.path)), tuple(ids), tuple(quasi)
            )
        )
    return tuple(out)


def releases(s: Session, request: Request) -> tuple[pd.DataFrame, ...]:
    """Every result the tenant had approved before, of the same kind, newest first: the
    differencing check compares against the company's whole release history."""
    earlier = s.scalars(
        select(Request)
        .where(
            Request.tenant_id == request.tenant_id,
            Request.kind == request.kind,
            Request.status.in_((RequestStatus.APPROVED, RequestStatus.RELEASED)),
            Request.id != request.id,
        )
        .order_by(Request.id.desc())
    )
    return tuple(pd.read_parquet(r.content_path) for r in earlier)
