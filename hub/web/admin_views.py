"""What the administration console reads: tenants with their agreements, budgets and spending;
staff; parties; the audit trail filtered and exported with its chain hashes. Read-only queries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import admission, csv_cells
from hub.audit_anchor import Checkpoint
from hub.billing import statements
from hub.billing.prices import PriceBook
from hub.db.models import (
    AuditEvent,
    DataListItem,
    Dataset,
    Party,
    Request,
    Scenario,
    Staff,
    Tenant,
)
from hub.ops import parties as party_ops
from hub.ops.enforcement import reminder_for

MAX_ROWS = 500
EXPORT_FIELDS = (
    "id",
    "ts",
    "actor",
    "tenant",
    "action",
    "object",
    "outcome",
    "reason",
    "details",
    "prev_hash",
    "hash",
)


def state(tenant: Tenant, today: date) -> str:
    """The company's state as admission sees it: an active company without an agreement in
    force is not 正常 but ``agreement_expired`` (or missing, terminated, not started)."""
    problem = admission.agreement_problem(tenant, today)
    if tenant.status.value == "active" and problem:
        return problem.removeprefix("tenant_")
    return tenant.status.value


def tenants(s: Session, book: PriceBook, today: date) -> list[dict]:
    out = []
    for t in s.scalars(select(Tenant).order_by(Tenant.id)):
        current = admission.current_agreement(t, today)
        problem = (admission.agreement_problem(t, today) or "").removeprefix("tenant_")
        out.append({
            "id": t.id, "name": t.name, "uscc": t.uscc, "status": t.status.value,
            "state": state(t, today), "qualification": t.qualification.value,
            "reason": t.status_reason or "",
            "term": f"{current.start} – {current.end}" if current else "",
            "problem": problem,
            "days_left": (current.end - today).days if current else None,
            "remind": reminder_for(t, today) is not None,
            "budget": "" if t.monthly_budget_fen is None else f"{t.monthly_budget_fen / 100:.2f}",
            "spent": str(statements.spent(s, t, book, today)),
            "staff": s.scalar(select(func.count()).select_from(Staff).where(Staff.tenant_id == t.id)),
        })  # fmt: skip
    return out


def staff(s: Session, today: date) -> list[dict]:
    out = []
    for x in s.scalars(select(Staff).order_by(Staff.role, Staff.username)):
        valid = max((r.valid_until for r in x.training if r.passed), default=None)
        out.append({
            "username": x.username, "real_name": x.real_name, "role": x.role.value,
            "company": x.tenant.name if x.tenant else (x.department.name if x.department else ""),
            "verified": x.real_name_verified, "active": x.active,
            "training": str(valid) if valid else "", "admitted": admission.admit(x, today).code,
        })  # fmt: skip
    return out


def _query(filters: dict[str, str]):
    q = select(AuditEvent)
    if filters.get("tenant"):
        q = q.where(AuditEvent.tenant == filters["tenant"])
    if filters.get("actor"):
        q = q.where(AuditEvent.actor == filters["actor"])
    if filters.get("action"):
        q = q.where(AuditEvent.action.startswith(filters["action"]))
    for key, op in (("since", "__ge__"), ("until", "__le__")):
        if filters.get(key):
            bound = datetime.fromisoformat(filters[key]).strftime("%Y-%m-%dT%H:%M:%S")
            q = q.where(getattr(AuditEvent.ts, op)(bound if key == "since" else bound + "\uffff"))
    return q


def events(s: Session, filters: dict[str, str], limit: int = MAX_ROWS) -> list[AuditEvent]:
    """The newest events matching ``filters`` (tenant group, actor, action prefix, since/until)."""
    return list(s.scalars(_query(filters).order_by(AuditEvent.id.desc()).limit(limit)))


def export(
    s: Session, filters: dict[str, str], fmt: str, checkpoint: Checkpoint | None = None
) -> str:
    """Every matching event, oldest first, with ``prev_hash`` and ``hash`` so a regulator can
    recompute the chain: CSV or JSON. The JSON carries the signed ``checkpoint`` of the chain's
    head, so whoever keeps the file can later prove the trail was not cut after it."""
    rows = [
        {f: getattr(e, f) for f in EXPORT_FIELDS}
        for e in s.scalars(_query(filters).order_by(AuditEvent.id))
    ]
    if fmt == "json":
        point = checkpoint.as_dict() if checkpoint else None
        return json.dumps(
            {"events": rows, "filters": filters, "checkpoint": point}, ensure_ascii=False, indent=1
        )
    # Actors, objects and reasons are text users chose: no cell may run as a formula. A cell
    # that began with = + - @ carries a leading ' (the JSON export holds every value as stored).
    return csv_cells.dicts_text(EXPORT_FIELDS, rows)


def data_list_items(s: Session, provider: str | None) -> list[dict]:
    """Every data-list item, or only those of ``provider``'s department's datasets; pending first."""
    q = select(DataListItem).join(Dataset, DataListItem.dataset_id == Dataset.id)
    if provider is not None:
        department = s.scalars(
            select(Staff.department_id).where(Staff.username == provider)
        ).first()
        q = q.where(Dataset.department_id == department)
    items = sorted(s.scalars(q), key=lambda i: (i.decision.value != "pending", -i.id))
    return [{
        "id": i.id, "tenant": i.scenario.tenant.name, "scenario": i.scenario.name,
        "category": i.scenario.category.value, "dataset": i.dataset.name, "level": i.dataset.level,
        "department": i.dataset.department.name, "columns": ", ".join(i.columns),
        "decision": i.decision.value, "decided_by": i.decided_by or "", "reason": i.reason or "",
    } for i in items]  # fmt: skip


def dashboard(s: Session, tenant_id: int, book: PriceBook, today: date, days: int = 30) -> dict:
    """One company at a glance: its daily activity, its requests by kind and status, this
    month's fees by item, its staff."""
    tenant = s.get(Tenant, tenant_id)
    if tenant is None:
        return {}
    since = (today - timedelta(days=days - 1)).isoformat()
    per_day: dict[str, int] = {
        (today - timedelta(days=d)).isoformat(): 0 for d in range(days - 1, -1, -1)
    }
    for ts in s.scalars(
        select(AuditEvent.ts).where(AuditEvent.tenant == tenant.group, AuditEvent.ts >= since)
    ):
        if ts[:10] in per_day:
            per_day[ts[:10]] += 1
    requests: dict[str, int] = {}
    for kind, status in s.execute(
        select(Request.kind, Request.status).where(Request.tenant_id == tenant_id)
    ):
        requests[f"{kind}:{status}"] = requests.get(f"{kind}:{status}", 0) + 1
    st = statements.statement(s, tenant, today.strftime("%Y-%m"), book)
    fees: dict[str, float] = {}
    for line in st.lines:
        fees[line.item] = fees.get(line.item, 0.0) + float(line.amount)
    return {
        "tenant": tenant.name, "group": tenant.group, "status": state(tenant, today),
        "activity": [(day[5:], n) for day, n in per_day.items()],
        "requests": sorted(requests.items()), "fees": sorted(fees.items()),
        "total": str(st.total), "currency": st.currency, "month": st.month,
        "staff": [x for x in staff(s, today) if x["company"] == tenant.name],
    }  # fmt: skip


def scenarios(s: Session) -> list[dict]:
    out = []
    for x in s.scalars(select(Scenario).order_by(Scenario.id)):
        items = s.scalars(
            select(DataListItem.decision).where(DataListItem.scenario_id == x.id)
        ).all()
        out.append({"id": x.id, "tenant": x.tenant.name, "name": x.name, "field": x.field,
                    "category": x.category.value, "status": x.status.value, "purpose": x.purpose,
                    "items": len(items), "approved": sum(d.value == "approved" for d in items)})  # fmt: skip
    return out


def _when(at: datetime | None) -> str:
    """A stored time in UTC (PostgreSQL answers in the session's zone, SQLite without one)."""
    if at is None:
        return ""
    return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m-%d %H:%M UTC")


def parties(s: Session) -> list[dict]:
    """Every party (outside organisations' nodes), oldest first: what the CLI's ``party list``
    shows, with each declared table's column count. Never a column's name or type — what a
    party declared of its tables is its own; the console needs only how much there is — and
    never the certificate itself, only its fingerprint's first 16 hex digits."""
    out = []
    for p in s.scalars(select(Party).order_by(Party.created_at, Party.id)):
        tables = p.declared_schema or {}
        out.append({
            "id": p.id, "name": p.name, "tenant": p.tenant.name, "address": p.address,
            "status": p.status.value, "reason": p.status_reason or "", "status_by": p.status_by or "",
            "fingerprint": p.fingerprint[:16],
            "tables": [(name, len((t or {}).get("columns") or {})) for name, t in sorted(tables.items())],
            "created": _when(p.created_at), "updated": _when(p.updated_at),
            "commands": [c for c, (allowed, _) in party_ops.TRANSITIONS.items() if p.status in allowed],
        })  # fmt: skip
    return out
