"""Product registration (公共数据资源登记): what a registered product is, what it may cost, and
which registration is in force.

A published product answers outside consumers only while a registration of it is in force: the
newest approved registration whose model is the product's current model. Every registration is a
version of its product (1, 2, …) under one platform-issued code; a new model or a new price is a
new version, registered again. What the platform records comes from what it holds — the product,
its model request, the job that trained it, the job's datasets with their departments and levels,
the checks the model passed — and only the descriptive fields (category, price and unit, the
processing method, the self-assessment) from the company.

Prices are per unit: one ``call``, ``10k_records`` (10,000 records scored or verified) or one
``month`` of a consumer key's use; industry products are priced above zero and at most the
guided cap of their category and unit (``price_book.product_caps``), public-governance products
are free.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import Dataset, Product, Request
from hub.i18n import Msg
from hub.review import lifecycle
from hub.settings import ProductCaps

CATEGORIES = {
    "scoring": Msg("模型评分", "model scoring"),
    "verification": Msg("核验", "verification"),
}
UNITS = {
    "call": Msg("次", "call"),
    "10k_records": Msg("万条", "10,000 records"),
    "month": Msg("月", "month"),
}
ALIASES = {"次": "call", "万条": "10k_records", "月": "month"}
SELF_ASSESSMENT = {
    "data_security": Msg("数据安全", "data security"),
    "personal_information": Msg("个人信息保护", "personal information protection"),
    "compliance": Msg("合规使用", "lawful use"),
}
CENT = Decimal("0.01")


def unit_of(text: object) -> str | None:
    """The unit's code for ``text`` (a code or its Chinese name), or ``None``."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    return text if text in UNITS else ALIASES.get(text)


def cap(caps: ProductCaps, category: str, unit: str) -> Decimal:
    """The guided cap (CNY) of one unit of a product of ``category``."""
    limits = getattr(caps, category).model_dump(by_alias=True)
    return Decimal(str(limits[unit]))


def charge(price: object, unit: str, calls: int, records: int) -> Decimal:
    """What ``calls`` calls over ``records`` records cost at ``price`` per ``unit``, to the fen;
    a ``month`` is charged once per consumer key and month, not per call (see the statements)."""
    rate = Decimal(str(price))
    units = {"call": Decimal(calls), "10k_records": Decimal(records) / 10_000}.get(unit, Decimal(0))
    return (rate * units).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Lineage:
    """What the platform knows a product was made from: the model request, the job that trained
    it (verified: the job is the product's tenant's and the model is one of its outputs), and the
    job's datasets with their departments and levels."""

    model: Request
    job: Request | None
    datasets: list[dict]

    def record(self) -> dict:
        return {
            "model_request": self.model.id,
            "job": self.job.id if self.job is not None else None,
            "data_resources": self.datasets,
        }


def lineage(s: Session, product: Product) -> Lineage:
    from hub.review.lineage import source_job

    model = s.get(Request, product.request_id)
    job = None
    claimed = (model.meta or {}).get("job")
    if claimed is not None:
        found = s.get(Request, int(claimed)) if str(claimed).isdigit() else None
        if found is not None and found.kind == "job" and found.tenant_id == product.tenant_id:
            job = found
    if job is None:
        job = source_job(s, model)[0]
    names = list((job.meta or {}).get("datasets") or []) if job is not None else []
    rows = {d.name: d for d in s.scalars(select(Dataset).where(Dataset.name.in_(names)))}
    datasets = [
        {
            "dataset": name,
            "title": rows[name].title,
            "department": rows[name].department.name,
            "level": rows[name].level,
        }
        for name in names
        if name in rows
    ]
    return Lineage(model, job, datasets)


def model_checks(model: Request) -> list[dict]:
    """The model request's checks as recorded, each with its verdict."""
    return [{"check": c.name, "verdict": c.verdict} for c in model.checks]


def registrations(s: Session, product: str) -> list[dict]:
    """Every issued registration of ``product``, oldest first."""
    found = s.scalars(
        select(Request)
        .where(Request.kind == "registration", Request.status == lifecycle.PUBLISHED)
        .order_by(Request.id)
    )
    records = [(r.meta or {}).get("registration") or {} for r in found]
    return [r for r in records if r.get("product") == product]


def in_force(s: Session, product: Product) -> dict | None:
    """The registration under which ``product`` may answer consumers: the newest issued one of
    its current model; ``None`` when its model changed since (the new version is unregistered)."""
    issued = registrations(s, product.name)
    if not issued or (issued[-1].get("model") or {}).get("sha256") != product.model_sha256:
        return None
    return issued[-1]


def code_of(s: Session, product: Product, year: int) -> str:
    """The product's registration code: the one it was first issued, else a new one."""
    issued = registrations(s, product.name)
    if issued:
        return issued[0]["code"]
    return f"SYDJ-{year}-{product.id:06d}"
