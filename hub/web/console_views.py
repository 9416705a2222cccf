"""What the review console shows of a request's frozen content, and of the products.

Each kind says what it shows (:meth:`hub.kinds.RequestKind.console`): an export its first rows; a
job its code (every file of the bundle), entrypoint, datasets, parameters, resources and, once it
ran, its outputs, released metrics and masked log; a model its card and a summary of its ONNX file; an
import its columns and first rows with identifiers masked; a privacy computation its inputs and columns on both
sides, the party and its approval, the run's progress and result. Every kind shows its lineage, verified links only. Nothing here writes.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import kinds
from hub.db.models import AuditEvent, MeterEvent, Product, ProductKey, Request
from hub.production.model_migration import PAUSED
from hub.production.products import alerts as product_alerts
from hub.review import lineage


def content(s: Session, r: Request, store: Path) -> dict:
    """The kind-specific view of ``r``: a preview table, code, card, run results, lineage."""
    data = Path(r.content_path).read_bytes() if r.content_path else b""
    view: dict = {"preview": "", "files": [], "job": None, "model": None, "run": None,
                  "privacy": None, "lineage": lineage.trace(s, r)}  # fmt: skip
    kinds.get(r.kind).console(s, r, data, store, view)
    return view


def pause_reasons(s: Session) -> dict[str, dict[str, str]]:
    """The latest bilingual reason (``{"zh", "en"}``) a product was paused for, per name."""
    out: dict[str, dict[str, str]] = {}
    events = s.scalars(
        select(AuditEvent).where(AuditEvent.action == PAUSED).order_by(AuditEvent.id.desc())
    )
    for e in events:
        details = json.loads(e.details or "{}")
        out.setdefault(e.object.removeprefix("product:"), {
            "zh": details.get("reason_zh", ""), "en": details.get("reason_en", "")})  # fmt: skip
    return out


def products(s: Session) -> list[dict]:
    """Every product with its tenant, scenario, status, live keys, calls and sweep alerts."""
    calls: dict[str, list[int]] = {}  # product name -> quantities, from one pass over the calls
    for e in s.scalars(select(MeterEvent).where(MeterEvent.kind == "product_query")):
        calls.setdefault((e.details or {}).get("product"), []).append(e.quantity)
    out, alerts, paused = [], product_alerts(s), pause_reasons(s)
    for p in s.scalars(select(Product).order_by(Product.id)):
        keys = s.scalar(select(func.count()).select_from(ProductKey).where(
            ProductKey.product_id == p.id, ProductKey.revoked_at.is_(None)))  # fmt: skip
        made = calls.get(p.name, [])
        out.append({
            "name": p.name, "tenant": p.tenant.name, "scenario": p.scenario.name, "status": p.status,
            "request": p.request_id, "sha256": p.model_sha256[:12], "keys": keys,
            "calls": len(made), "records": sum(made), "alerts": alerts.get(p.name, []),
            "paused": paused.get(p.name) if p.status != "active" else None,
            "created": p.created_at.strftime("%Y-%m-%d %H:%M"),
        })  # fmt: skip
    return out
