"""What the administration console shows of data products: each product with its registration
state, and one product's 核验 — the lineage from the approved datasets through the training job
and the model request to the product, the checks the model passed, every registration issued —
and who consumes it: each consumer's keys and a month's calls and charges. Read-only queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import Product, ProductKey
from hub.production import consumers, products, registry


def _state(s: Session, product: Product) -> tuple[str, dict | None]:
    """``live`` (registered, this model), ``new_model`` (registered before, not this model) or
    ``unregistered``; with the registration in force, if any."""
    issued = registry.registrations(s, product.name)
    record = registry.in_force(s, product)
    if record is not None:
        return "live", record
    return ("new_model" if issued else "unregistered"), None


def rows(s: Session) -> list[dict]:
    """Every product, by name."""
    out = []
    for p in s.scalars(select(Product).order_by(Product.name)):
        state, record = _state(s, p)
        out.append({
            "name": p.name, "tenant": p.tenant.name, "scenario": p.scenario.name,
            "category": p.scenario.category.value, "status": p.status, "state": state,
            "code": f"{record['code']} V{record['version']}" if record else "",
            "price": f"{record['price']} / {registry.UNITS[record['unit']].zh}" if record else "",
        })  # fmt: skip
    return out


def detail(s: Session, name: str, month: str) -> dict:
    """One product's 核验 (raises ``NotFound``), with its consumers' keys and their calls and
    charges in ``month`` (``YYYY-MM``; a bad one raises ``BadRequest``)."""
    product = products.get(s, name)
    state, record = _state(s, product)
    trail = registry.lineage(s, product)
    keys = s.scalars(
        select(ProductKey).where(ProductKey.product_id == product.id).order_by(ProductKey.id)
    )
    usage = consumers.statement(s, product.tenant_id, product.tenant.name, month, product=name)
    return {
        "name": product.name, "tenant": product.tenant.name, "scenario": product.scenario.name,
        "state": state, "record": record, "model_sha256": product.model_sha256,
        "model_request": trail.model.id, "model_status": trail.model.status,
        "job": trail.job.id if trail.job is not None else None,
        "datasets": trail.datasets, "checks": registry.model_checks(trail.model),
        "registrations": registry.registrations(s, name),
        "keys": [products.key_view(k) for k in keys], "usage": usage.view(),
    }  # fmt: skip
