"""The listing package of a registered product, for the city's data exchange: one JSON document
(machine-readable, :func:`package`) and the same as a bilingual page (:func:`page`).

It holds the registration in force (code, version, operator, scenario, category, the data
resources with their departments and levels, the processing method, the model card, the
self-assessment, the price and unit, who approved it and when) and every earlier version, so the
exchange can show a product's history. A product without a registration in force has no package.
"""

from __future__ import annotations

import html
import json

from sqlalchemy.orm import Session

from hub.i18n import Msg
from hub.production import products, registry
from hub.refusals import Conflict

FORMAT = "shuyu-listing/1"


def package(s: Session, name: str, currency: str = "CNY") -> dict:
    """The listing package of product ``name``.

    Raises:
        NotFound: no such product.
        Conflict: it has no registration in force (never registered, or a new model since).
    """
    product = products.get(s, name)
    record = registry.in_force(s, product)
    if record is None:
        raise Conflict(Msg(
            f"产品 {name} 没有生效的登记，不能挂牌", f"product {name} has no registration in force and cannot be listed",
        ), "not_registered")  # fmt: skip
    history = [
        {k: r.get(k) for k in ("version", "price", "unit", "registered_at", "sha256")}
        | {"model_sha256": (r.get("model") or {}).get("sha256")}
        for r in registry.registrations(s, name)
    ]
    return {
        "format": FORMAT,
        "product": name,
        "status": "active" if product.status == "active" else product.status,
        "currency": currency,
        "registration": record,
        "versions": history,
    }


def _row(label: Msg, value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    return f"<tr><th>{html.escape(label.zh)} / {html.escape(label.en)}</th><td>{html.escape(str(text))}</td></tr>"


def page(listing: dict) -> str:
    """The listing as a self-contained bilingual HTML page (no script, no outside resource)."""
    r = listing["registration"]
    unit = registry.UNITS[r["unit"]]
    category = registry.CATEGORIES[r["category"]]
    answers = "; ".join(
        f"{registry.SELF_ASSESSMENT[k].zh}：{v}"
        for k, v in (r.get("self_assessment") or {}).items()
    )
    resources = "; ".join(
        f"{d['title']}（{d['dataset']}，{d['department']}，{d['level']} 级）"
        for d in r.get("data_resources") or []
    )
    rows = [
        _row(Msg("登记编号", "registration code"), f"{r['code']} V{r['version']}"),
        _row(Msg("产品名称", "product"), f"{r['title']} ({listing['product']})"),
        _row(Msg("运营单位", "operator"), r["tenant"]),
        _row(
            Msg("应用场景", "scenario"), f"{r['scenario']['name']}（{r['scenario']['category']}）"
        ),
        _row(Msg("产品类别", "category"), f"{category.zh} / {category.en}"),
        _row(Msg("数据资源", "data resources"), resources),
        _row(Msg("加工方式", "processing method"), r["processing"]),
        _row(Msg("模型说明", "model card"), r.get("model_card") or ""),
        _row(Msg("安全与合规自评", "self-assessment"), answers),
        _row(Msg("价格", "price"), f"{r['price']} {listing['currency']} / {unit.zh} ({unit.en})"),
        _row(Msg("模型指纹", "model SHA-256"), r["model"]["sha256"]),
        _row(Msg("审核人", "approved by"), "、".join(r["approvers"])),
        _row(Msg("登记时间", "registered"), r["registered_at"]),
    ]
    versions = "".join(
        f"<tr><td>V{v['version']}</td><td>{html.escape(str(v['price']))} / {html.escape(registry.UNITS[v['unit']].zh)}</td>"
        f"<td>{html.escape(v['registered_at'] or '')}</td><td><code>{html.escape((v['model_sha256'] or '')[:16])}</code></td></tr>"
        for v in listing["versions"]
    )  # fmt: skip
    title = html.escape(f"{r['title']} · {r['code']}")
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "th{text-align:left;padding-right:1em;vertical-align:top}td{white-space:pre-wrap}</style>"
        f"</head><body><h1>{title}</h1><h2>数据产品挂牌信息 / Data product listing</h2>"
        f"<table>{''.join(rows)}</table>"
        "<h2>版本 / Versions</h2><table><tr><th>版本 / version</th><th>价格 / price</th>"
        f"<th>登记时间 / registered</th><th>模型 / model</th></tr>{versions}</table></body></html>"
    )
