"""A product registration: a processor asks the platform to register one of its published
products, at a price per unit, before it is listed.

The frozen content is a JSON object ``{"product": name, "price": number, "unit": text}``. The
checks: the fields are there and well formed, the product exists and is the requesting tenant's,
the price is positive. Once approved, the registration is recorded on the request (``meta``) and
in the audit trail, and the request is ``published``: :func:`registration_of` then answers with it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import Product, Request
from hub.i18n import Msg
from hub.kinds import Checking, RequestKind, Zone, register
from hub.refusals import Conflict
from hub.review import lifecycle
from hub.review.checks import FAIL, PASS, Finding

MAX_UNIT = 32  # characters of a unit (次, 条, 千次调用 …)


def fields(content: bytes) -> dict[str, Any] | None:
    """The registration's fields, or ``None`` when the content is not what it must be."""
    try:
        value = json.loads(content)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    product, price, unit = value.get("product"), value.get("price"), value.get("unit")
    if not isinstance(product, str) or not product:
        return None
    if isinstance(price, bool) or not isinstance(price, int | float):
        return None
    try:
        float(price)
    except OverflowError:  # an integer beyond any float
        return None
    if not isinstance(unit, str) or not 1 <= len(unit.strip()) <= MAX_UNIT:
        return None
    return {"product": product, "price": price, "unit": unit.strip()}


def _product(s: Session, request: Request, name: str) -> Product | None:
    """The tenant's own product called ``name``."""
    product = s.scalars(select(Product).where(Product.name == name)).first()
    return product if product is not None and product.tenant_id == request.tenant_id else None


def registration_of(s: Session, product: str) -> dict | None:
    """The registration in force for ``product``: the latest one approved and recorded."""
    found = s.scalars(
        select(Request)
        .where(Request.kind == Registration.name, Request.status == lifecycle.PUBLISHED)
        .order_by(Request.id.desc())
    )
    for r in found:
        record = (r.meta or {}).get("registration") or {}
        if record.get("product") == product:
            return record
    return None


@register
class Registration(RequestKind):
    name = "registration"
    title = Msg("产品登记", "product registration")
    acted_on = True

    def checks(
        self, s: Session, request: Request, content: bytes, checking: Checking
    ) -> tuple[list[Finding], int]:
        wanted = fields(content)
        if wanted is None:
            return [Finding("registration_fields", FAIL, Msg(
                f"须为 JSON 对象：product（产品名）、price（数值）、unit（1–{MAX_UNIT} 字）",
                f"must be a JSON object: product (a name), price (a number), unit (1–{MAX_UNIT} characters)",
            ))], 0  # fmt: skip
        name, price = wanted["product"], wanted["price"]
        owned = _product(s, request, name) is not None
        product = Finding("product_owner", PASS if owned else FAIL, Msg(
            f"产品 {name} 属于本单位" if owned else f"本单位没有名为 {name} 的产品",
            f"product {name} is the company's" if owned else f"the company has no product {name}",
        ), {"product": name})  # fmt: skip
        positive = math.isfinite(price) and price > 0
        priced = Finding("price", PASS if positive else FAIL, Msg(
            f"价格 {price}／{wanted['unit']}" if positive else "价格须为正数",
            f"price {price} per {wanted['unit']}" if positive else "the price must be positive",
        ), {"price": price, "unit": wanted["unit"]})  # fmt: skip
        return [product, priced], 0

    def on_approved(self, s: Session, request: Request, zone: Zone) -> str:
        if lifecycle.sha256_of(request.content_path) != request.content_sha256:
            raise Conflict(Msg("登记内容与批准的内容不一致", "the registration differs from what was approved"), "tampered")  # fmt: skip
        wanted = fields(Path(request.content_path).read_bytes()) or {}
        if _product(s, request, wanted.get("product", "")) is None:
            reason = f"product {wanted.get('product')} is no longer the company's"
            lifecycle.move(s, request, lifecycle.FAILED, reason)
            return lifecycle.FAILED
        approvers = sorted({d.reviewer for d in request.decisions if d.decision == "approve"})
        record = {**wanted, "approvers": approvers, "sha256": request.content_sha256}
        request.meta = {**request.meta, "registration": record}
        lifecycle.move(s, request, lifecycle.PUBLISHED, "registered", **record)
        return lifecycle.PUBLISHED

    def console(
        self, s: Session, request: Request, content: bytes, store: Path, view: dict
    ) -> None:
        wanted = fields(content)
        if wanted is not None:
            frame = pd.DataFrame([wanted])
            view["preview"] = frame.to_html(index=False, border=0, classes="preview")

    def sdk_view(self, request: Request) -> dict[str, Any]:
        return {"registration": (request.meta or {}).get("registration")}
