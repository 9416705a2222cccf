"""The catalog, scenarios and data lists as a tenant's staff may see them.

The catalog's descriptions (names, titles, column types, classification, masking) are public to
admitted processors, so they can choose what to request; the raw row count and storage location
are not. Whether a column is approved is always relative to one of the caller's scenarios.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.access.caller import Caller
from hub.db.models import DataListItem, Dataset, Decision, Scenario
from hub.masking.sample import column_policy


def masking_of(column: dict) -> dict | None:
    """A column's masking as the caller sees it: operator and parameters, or ``None``."""
    policy = column_policy(column)
    if policy is None:
        return None
    operator, params = policy
    return {"operator": operator, "params": params}


def scenario_view(s: Scenario) -> dict:
    return {
        "id": s.id,
        "name": s.name,
        "field": s.field,
        "purpose": s.purpose,
        "category": s.category.value,
        "status": s.status.value,
    }


def item_view(item: DataListItem) -> dict:
    return {
        "id": item.id,
        "scenario": item.scenario.name,
        "scenario_id": item.scenario_id,
        "dataset": item.dataset.name,
        "columns": list(item.columns),
        "decision": item.decision.value,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "reason": item.reason,
    }


def dataset_view(ds: Dataset, items: list[DataListItem]) -> dict:
    """One dataset as the caller's scenarios see it: each column with its masking and whether
    one of ``items`` (the scenarios' data-list items for it) approves it now."""
    approvals = [
        {
            "scenario_id": item.scenario_id,
            "scenario": item.scenario.name,
            "item": item.id,
            "decision": item.decision.value,
            "columns": list(item.columns),
        }
        for item in items
    ]
    approved = {c for item in items if item.decision == Decision.APPROVED for c in item.columns}
    return {
        "name": ds.name,
        "title": ds.title,
        "department": ds.department.name,
        "level": ds.level,
        "prohibited": ds.prohibited,
        "approvals": approvals,
        "columns": [
            {
                "name": c["name"],
                "title": c.get("title") or c["name"],
                "type": c.get("type", "string"),
                "approved": c["name"] in approved and not c.get("prohibited") and not ds.prohibited,
                "prohibited": bool(c.get("prohibited")),
                "quasi_identifier": bool(c.get("quasi")),
                "masking": masking_of(c),
            }
            for c in ds.schema
        ],
    }


def latest_items(session: Session, scenarios: list[Scenario]) -> dict[int, list[DataListItem]]:
    """The newest data-list item of each of ``scenarios`` per dataset id."""
    newest: dict[tuple[int, int], DataListItem] = {}
    items = session.scalars(
        select(DataListItem)
        .where(DataListItem.scenario_id.in_([s.id for s in scenarios]))
        .order_by(DataListItem.id)
    )
    for item in items:
        newest[(item.scenario_id, item.dataset_id)] = item
    by_dataset: dict[int, list[DataListItem]] = {}
    for (_, dataset_id), item in sorted(newest.items()):
        by_dataset.setdefault(dataset_id, []).append(item)
    return by_dataset


def datasets(session: Session, scenarios: list[Scenario], name: str | None = None) -> list[dict]:
    """The catalog (or the one dataset ``name``) as ``scenarios`` see it."""
    query = select(Dataset).order_by(Dataset.name)
    if name is not None:
        query = query.where(Dataset.name == name)
    items = latest_items(session, scenarios)
    return [
        dataset_view(ds, items.get(ds.id, []))
        for ds in session.scalars(query)
        if ds.id in items or not is_import(ds)  # another company's imports stay its own
    ]


def is_import(ds: Dataset) -> bool:
    """Whether ``ds`` is a company's own imported data (see :mod:`hub.production.imports`)."""
    return ds.path.startswith("imports/")


def data_list(session: Session, caller: Caller) -> list[dict]:
    """Every data-list item of the caller's tenant, oldest first."""
    items = session.scalars(
        select(DataListItem)
        .join(Scenario, DataListItem.scenario_id == Scenario.id)
        .where(Scenario.tenant_id == caller.tenant_id)
        .order_by(DataListItem.id)
    )
    return [item_view(i) for i in items]
