"""A product registration (公共数据资源登记): a processor asks the platform to register one of its
published products before it is listed and answers outside consumers.

The frozen content is a JSON object the company fills in::

    {"product": "credit-score", "title": "小微企业信用评分", "category": "scoring",
     "price": 0.3, "unit": "call", "processing": "…", "model_card": "…" (optional),
     "self_assessment": {"data_security": "…", "personal_information": "…", "compliance": "…"}}

The checks (核验 of the product, :mod:`hub.production.registry`): the fields are there and well
formed; the product is the company's and of the request's scenario; it was trained by a verified
job on datasets the scenario is approved for; its model passed its checks (or reviewers
overrode them, shown); the price is within the guided cap of its category and unit (free for a
public-governance scenario); the self-assessment is complete; and something changed since the
version in force. Once approved, the platform issues the record — code, version, the data
resources with departments and levels, the model's hash, the approvers — on the request
(``meta["registration"]``) and in the audit trail.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import Category, Product, Request
from hub.i18n import Msg
from hub.kinds import Checking, RequestKind, Zone, register
from hub.production import registry
from hub.production.jobs import approved_datasets
from hub.refusals import Conflict
from hub.review import lifecycle
from hub.review.checks import FAIL, PASS, WARN, Finding

MAX_TEXT = 4000  # characters of the processing method, the card, one self-assessment answer
MAX_TITLE = 100
MIN_PROCESSING = 10
DESCRIBED = ("category", "price", "unit", "title", "processing", "model_card", "self_assessment")


def _text(value: object, least: int = 1, most: int = MAX_TEXT) -> str | None:
    return value.strip() if isinstance(value, str) and least <= len(value.strip()) <= most else None


def fields(content: bytes) -> tuple[dict[str, Any] | None, str]:
    """``(the registration's fields, "")``, or ``(None, the first field that is wrong)``."""
    try:
        value = json.loads(content)
    except ValueError:
        return None, "json"
    if not isinstance(value, dict):
        return None, "json"
    product = value.get("product")
    if not isinstance(product, str) or not product:
        return None, "product"
    category = value.get("category")
    if category not in registry.CATEGORIES:
        return None, "category"
    price = value.get("price")
    if isinstance(price, bool) or not isinstance(price, int | float):
        return None, "price"
    try:
        if not math.isfinite(float(price)):
            return None, "price"
    except OverflowError:  # an integer beyond any float
        return None, "price"
    unit = registry.unit_of(value.get("unit"))
    if unit is None:
        return None, "unit"
    title = _text(value.get("title", product), most=MAX_TITLE)
    if title is None:
        return None, "title"
    processing = _text(value.get("processing"), MIN_PROCESSING)
    if processing is None:
        return None, "processing"
    card = value.get("model_card")
    if card is not None and not (_text(card) or isinstance(card, dict)):
        return None, "model_card"
    answers = value.get("self_assessment")
    if not isinstance(answers, dict) or set(answers) - set(registry.SELF_ASSESSMENT):
        return None, "self_assessment"
    return {
        "product": product, "title": title, "category": category, "price": price, "unit": unit,
        "processing": processing, "model_card": card,
        "self_assessment": {k: answers.get(k) for k in registry.SELF_ASSESSMENT},
    }, ""  # fmt: skip


FIELD_HELP = Msg(
    "须为 JSON 对象：product（产品名）、category（scoring 评分 / verification 核验）、price（数值）、"
    "unit（call 次 / 10k_records 万条 / month 月）、processing（加工方式，至少 10 字）、"
    "self_assessment（data_security、personal_information、compliance 三项自评），"
    "可选 title（≤100 字）与 model_card",
    "must be a JSON object: product (a name), category (scoring / verification), price (a "
    "number), unit (call / 10k_records / month), processing (the processing method, 10 characters "
    "or more), self_assessment (data_security, personal_information, compliance), and optionally "
    "title (≤100 characters) and model_card",
)


def _product(s: Session, request: Request, name: str) -> Product | None:
    """The tenant's own product called ``name``."""
    product = s.scalars(select(Product).where(Product.name == name)).first()
    return product if product is not None and product.tenant_id == request.tenant_id else None


def registration_of(s: Session, product: str) -> dict | None:
    """The registration in force for ``product`` (see :func:`registry.in_force`)."""
    found = s.scalars(select(Product).where(Product.name == product)).first()
    return registry.in_force(s, found) if found is not None else None


def _price(wanted: dict, request: Request, checking: Checking) -> Finding:
    price, unit, category = Decimal(str(wanted["price"])), wanted["unit"], wanted["category"]
    per = registry.UNITS[unit]
    details = {"price": wanted["price"], "unit": unit, "category": category}
    if request.scenario.category == Category.PUBLIC_GOVERNANCE:
        free = price == 0
        return Finding("price", PASS if free else FAIL, Msg(
            "公共治理场景的产品免费" if free else f"公共治理场景的产品须免费，不能定价 {price}／{per.zh}",
            "a public-governance product is free" if free
            else f"a public-governance product must be free, not {price} per {per.en}",
        ), details)  # fmt: skip
    ceiling = registry.cap(checking.caps, category, unit)
    details["cap"] = float(ceiling)
    if price <= 0:
        return Finding("price", FAIL, Msg("价格须为正数", "the price must be positive"), details)
    within = price <= ceiling
    kind = registry.CATEGORIES[category]
    return Finding("price", PASS if within else FAIL, Msg(
        f"价格 {price}／{per.zh}，不高于{kind.zh}指导价上限 {ceiling}" if within
        else f"价格 {price}／{per.zh} 高于{kind.zh}指导价上限 {ceiling}",
        f"price {price} per {per.en}, within the guided cap of {ceiling} for {kind.en}" if within
        else f"price {price} per {per.en} is above the guided cap of {ceiling} for {kind.en}",
    ), details)  # fmt: skip


def _lineage(s: Session, request: Request, product: Product) -> Finding:
    trail = registry.lineage(s, product)
    approved = approved_datasets(s, request.scenario_id)
    names = [d["dataset"] for d in trail.datasets]
    outside = sorted(set(names) - set(approved))
    details = trail.record()
    if trail.job is None or not names:
        return Finding("product_lineage", FAIL, Msg(
            "产品模型无法追溯到训练它的作业与数据资源", "the product's model cannot be traced to the job and data that trained it",
        ), details)  # fmt: skip
    if outside:
        return Finding("product_lineage", FAIL, Msg(
            f"训练数据 {'、'.join(outside)} 不在本场景批准范围内",
            f"training data {', '.join(outside)} is not approved for this scenario",
        ), details)  # fmt: skip
    return Finding("product_lineage", PASS, Msg(
        f"模型由作业 #{trail.job.id} 在批准数据 {'、'.join(names)} 上训练",
        f"the model was trained by job #{trail.job.id} on approved data {', '.join(names)}",
    ), details)  # fmt: skip


def _model_checks(model: Request) -> Finding:
    results = registry.model_checks(model)
    failed = [r["check"] for r in results if r["verdict"] == FAIL]
    overridden = any(d.override for d in model.decisions)
    details = {"checks": results, "model_request": model.id, "status": model.status}
    if model.status != lifecycle.PUBLISHED:
        return Finding("model_checks", FAIL, Msg(f"模型申请 #{model.id} 未发布", f"model request #{model.id} is not published"), details)  # fmt: skip
    if failed:
        verdict = WARN if overridden else FAIL
        return Finding("model_checks", verdict, Msg(
            f"模型检查 {'、'.join(failed)} 未通过，经审核人员越权批准",
            f"model checks {', '.join(failed)} failed and reviewers overrode them",
        ), details)  # fmt: skip
    return Finding("model_checks", PASS, Msg(
        f"模型通过全部 {len(results)} 项检查", f"the model passed all {len(results)} checks"
    ), details)  # fmt: skip


def _assessment(wanted: dict) -> Finding:
    missing = [k for k, v in wanted["self_assessment"].items() if _text(v) is None]
    names = [registry.SELF_ASSESSMENT[k] for k in missing]
    return Finding("self_assessment", FAIL if missing else PASS, Msg(
        f"安全与合规自评缺少：{'、'.join(n.zh for n in names)}" if missing else "安全与合规自评已填写",
        f"the self-assessment lacks: {', '.join(n.en for n in names)}" if missing
        else "the security and compliance self-assessment is complete",
    ), {"missing": missing})  # fmt: skip


def _described(s: Session, product: Product, wanted: dict) -> dict:
    """The fields as they are recorded: without a card of its own, the model's card."""
    card = wanted["model_card"] or (s.get(Request, product.request_id).meta or {}).get("card")
    return {**wanted, "model_card": card}


def _changed(s: Session, product: Product, wanted: dict) -> Finding:
    wanted = _described(s, product, wanted)
    issued = registry.registrations(s, product.name)
    if not issued:
        return Finding("version", PASS, Msg("首次登记", "first registration"), {"version": 1})
    last = issued[-1]
    same_model = (last.get("model") or {}).get("sha256") == product.model_sha256
    same = same_model and all(last.get(k) == wanted[k] for k in DESCRIBED)
    version = int(last.get("version", len(issued))) + 1
    return Finding("version", FAIL if same else PASS, Msg(
        f"与已登记的第 {version - 1} 版相同，无需重新登记" if same
        else f"第 {version} 版（{'模型已更新' if not same_model else '登记内容已变更'}）",
        f"the same as registered version {version - 1}: nothing to register" if same
        else f"version {version} ({'a new model' if not same_model else 'changed fields'})",
    ), {"version": version})  # fmt: skip


@register
class Registration(RequestKind):
    name = "registration"
    title = Msg("产品登记", "product registration")
    acted_on = True

    def checks(
        self, s: Session, request: Request, content: bytes, checking: Checking
    ) -> tuple[list[Finding], int]:
        wanted, wrong = fields(content)
        if wanted is None:
            return [Finding("registration_fields", FAIL, FIELD_HELP, {"field": wrong})], 0
        name = wanted["product"]
        product = _product(s, request, name)
        if product is None:
            return [Finding("product_owner", FAIL, Msg(
                f"本单位没有名为 {name} 的产品", f"the company has no product {name}"
            ), {"product": name})], 0  # fmt: skip
        findings = [Finding("product_owner", PASS, Msg(
            f"产品 {name} 属于本单位", f"product {name} is the company's"
        ), {"product": name})]  # fmt: skip
        same = product.scenario_id == request.scenario_id
        findings.append(Finding("product_scenario", PASS if same else FAIL, Msg(
            f"产品属于场景 {product.scenario.name}" if same
            else f"产品属于场景 {product.scenario.name}，不是本申请的场景 {request.scenario.name}",
            f"the product is of scenario {product.scenario.name}" if same
            else f"the product is of scenario {product.scenario.name}, not {request.scenario.name}",
        )))  # fmt: skip
        findings += [
            _lineage(s, request, product),
            _model_checks(s.get(Request, product.request_id)),
            _price(wanted, request, checking),
            _assessment(wanted),
            _changed(s, product, wanted),
        ]
        return findings, 0

    def on_approved(self, s: Session, request: Request, zone: Zone) -> str:
        if lifecycle.sha256_of(request.content_path) != request.content_sha256:
            raise Conflict(Msg("登记内容与批准的内容不一致", "the registration differs from what was approved"), "tampered")  # fmt: skip
        wanted, _ = fields(Path(request.content_path).read_bytes())
        product = _product(s, request, (wanted or {}).get("product", ""))
        if wanted is None or product is None:
            reason = f"product {(wanted or {}).get('product')} is no longer the company's"
            lifecycle.move(s, request, lifecycle.FAILED, reason)
            return lifecycle.FAILED
        checked = {c.name: c.details for c in request.checks}
        registered_model = (checked.get("product_lineage") or {}).get("model_request")
        if registered_model != product.request_id:  # a new model since the checks: check again
            lifecycle.move(
                s, request, lifecycle.FAILED, "the product's model changed since its checks"
            )
            return lifecycle.FAILED
        now = datetime.now(UTC)
        trail = registry.lineage(s, product)
        approvers = sorted({d.reviewer for d in request.decisions if d.decision == "approve"})
        record = {
            **_described(s, product, wanted),
            "code": registry.code_of(s, product, now.year),
            "version": int(checked.get("version", {}).get("version") or 1),
            "tenant": request.tenant.name,
            "scenario": {"name": request.scenario.name, "field": request.scenario.field,
                         "category": request.scenario.category.value},
            "model": {"sha256": product.model_sha256, "request": product.request_id,
                      "checks": registry.model_checks(trail.model)},
            **trail.record(),
            "approvers": approvers,
            "sha256": request.content_sha256,
            "registered_at": now.isoformat(timespec="seconds"),
        }  # fmt: skip
        request.meta = {**request.meta, "registration": record}
        lifecycle.move(s, request, lifecycle.PUBLISHED, "registered", product=product.name,
                       code=record["code"], version=record["version"], price=wanted["price"],
                       unit=wanted["unit"])  # fmt: skip
        return lifecycle.PUBLISHED

    def console(
        self, s: Session, request: Request, content: bytes, store: Path, view: dict
    ) -> None:
        wanted, _ = fields(content)
        if wanted is None:
            return
        rows = {k: wanted[k] for k in ("product", "title", "category", "price", "unit")}
        frame = pd.DataFrame([rows])
        view["preview"] = frame.to_html(index=False, border=0, classes="preview")
        product = _product(s, request, wanted["product"])
        if product is not None:
            trail = registry.lineage(s, product)
            view["registration"] = {**wanted, **trail.record(),
                                    "model_checks": registry.model_checks(trail.model)}  # fmt: skip

    def sdk_view(self, request: Request) -> dict[str, Any]:
        return {"registration": (request.meta or {}).get("registration")}
