"""What the review console shows of a request's frozen content, and of the products.

Each kind says what it shows (:meth:`hub.kinds.RequestKind.console`): an export its first rows; a
job its code (every file of the bundle), entrypoint, datasets, parameters, resources and, once it
ran, its outputs, released metrics and masked log; a model its card and everything it holds; an
import its columns and first rows with identifiers masked. Every kind shows its lineage, verified links only. Nothing here writes.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import kinds
from hub.db.models import MeterEvent, Product, ProductKey, Request
from hub.production.products import alerts as product_alerts
from hub.review import lineage


def content(s: Session, r: Request, store: Path) -> dict:
    """The kind-specific view of ``r``: a preview table, code, card, run results, lineage."""
    data = Path(r.content_path).read_bytes() if r.content_path else b""
    view: dict = {"preview": "", "files": [], "job": None, "model": None, "run": None,
                  "lineage": lineage.trace(s, r)}  # fmt: skip
    kinds.get(r.kind).console(s, r, data, store, view)
    return view


def products(s: Session) -> list[dict]:
    """Every product with its tenant, scenario, status, live keys, calls and sweep alerts."""
    calls: dict[str, list[int]] = {}  # product name -> quantities, from one pass over the calls
    for e in s.scalars(select(MeterEvent).where(MeterEvent.kind == "product_query")):
        calls.setdefault((e.details or {}).get("product"), []).append(e.quantity)
    out, alerts = [], product_alerts(s)
    for p in s.scalars(select(Product).order_by(Product.id)):
        keys = s.scalar(select(func.count()).select_from(ProductKey).where(
            ProductKey.product_id == p.id, ProductKey.revoked_at.is_(None)))  # fmt: skip
        made = calls.get(p.name, [])
        out.append({
            "name": p.name, "tenant": p.tenant.name, "scenario": p.scenario.name, "status": p.status,
            "request": p.request_id, "sha256": p.model_sha256[:12], "keys": keys,
            "calls": len(made), "records": sum(made), "alerts": alerts.get(p.name, []),
            "created": p.created_at.strftime("%Y-%m-%d %H:%M"),
        })  # fmt: skip
    return out
