"""A published, registered product of alice's company for consumer-API tests and the benchmark:
a hand-built ONNX model (``cost ≈ 10 + 2 × age``, 核验 yes at ≥ 100) keyed by ``patient_id`` of
``medical_visits``, published from an approved model request, and registered at a price."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select

from hub.db.engine import Database
from hub.db.models import Product, Request, Scenario, Staff
from hub.demo import world
from hub.production import products
from tests import onnx_graphs

SCENARIO = "普惠健康险定价"  # alice's: medical_visits, industry
KEYED = {"dataset": "medical_visits", "column": "patient_id"}


def publish(db: Database, home: Path, name: str, *, scenario: str = SCENARIO) -> None:
    """The product ``name`` of alice's company, as the production zone publishes an approved
    model (the model request published, the file where the domain keeps it)."""
    content = onnx_graphs.linear(["age"], [2.0], 10.0, "cost", key=KEYED, threshold=100.0)
    path = home / "domain" / "models" / f"{name}.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with db.session() as s:
        alice = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        found = s.scalars(select(Scenario).where(
            Scenario.tenant_id == alice.tenant_id, Scenario.name == scenario)).one()  # fmt: skip
        request = Request(kind="model", tenant_id=alice.tenant_id, scenario_id=found.id,
                          requester="alice", purpose="发布 / publish", status="published", level=1,
                          approvals_needed=1, name=name, meta={"product": name})  # fmt: skip
        s.add(request)
        s.flush()
        s.add(Product(name=name, tenant_id=alice.tenant_id, scenario_id=found.id,
                      request_id=request.id, model_path=str(path),
                      model_sha256=hashlib.sha256(content).hexdigest()))  # fmt: skip


def register(db: Database, name: str, price: float | str, unit: str) -> None:
    """The product's registration, approved and recorded as
    :func:`hub.kinds.registration.registration_of` reads it."""
    with db.session() as s:
        product = products.get(s, name)
        s.add(Request(kind="registration", tenant_id=product.tenant_id,
                      scenario_id=product.scenario_id, requester="alice",
                      purpose="登记 / register", status="published", level=1, approvals_needed=1,
                      name=name, meta={"registration": {
                          "product": name, "price": price, "unit": unit, "version": 1,
                          "code": f"SYDJ-2026-{product.id:06d}", "category": "scoring",
                          "approvers": ["rita", "ryan"], "registered_at": "2026-01-05T09:00:00",
                          "model": {"sha256": product.model_sha256,
                                    "request": product.request_id}}}))  # fmt: skip


def issue(db: Database, name: str, consumer: str, **limits) -> str:
    with db.session() as s:
        product = products.get(s, name)
        return products.issue_key(s, product, product.tenant_id, "alice", consumer, **limits)


def present_ids(home: Path, n: int = 5) -> list[str]:
    import pandas as pd

    raw = pd.read_parquet(
        home / "domain" / "raw" / "medical_visits.parquet", columns=["patient_id"]
    )
    return [str(p) for p in raw["patient_id"].drop_duplicates().head(n)]


TENANT = world.TENANTS[0]["name"]
