"""Monthly statements per tenant: every meter event of the month priced, as HTML and CSV.

A statement's lines add up each item per scenario (container time, which no scenario owns, is
priced by the tenant's category: industry if any of its scenarios is). Its total is the sum of
the charges of the month's events, each rounded to the fen; the budget check uses the same sums.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import csv_cells
from hub.billing.prices import PriceBook
from hub.db.models import Category, MeterEvent, Scenario, Tenant
from hub.i18n import Msg
from hub.refusals import BadRequest

ITEM_TITLES = {
    "container_cpu_hour": "工作空间 CPU 时 / workspace CPU-hours",
    "container_memory_gb_hour": "工作空间内存 GB 时 / workspace memory GB-hours",
    "job_cpu_hour": "训练作业 CPU 时 / training job CPU-hours",
    "masked_rows_10k": "脱敏数据（万行）/ desensitized rows (10,000)",
    "model_publish": "模型发布（个）/ models published",
    "export": "结果导出（次）/ exports released",
}


@dataclass(frozen=True)
class Line:
    scenario: str
    category: str
    item: str
    units: Decimal
    rate: Decimal
    amount: Decimal
    events: int


@dataclass(frozen=True)
class Statement:
    tenant: str
    month: str
    currency: str
    lines: list[Line]
    total: Decimal
    events: int


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → its first instant and the next month's (UTC)."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(Msg(f"月份格式应为 YYYY-MM：{month[:20]}", f"a month is YYYY-MM: {month[:20]}"), "month") from None  # fmt: skip
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, end


def tenant_category(s: Session, tenant_id: int) -> str:
    cats = set(s.scalars(select(Scenario.category).where(Scenario.tenant_id == tenant_id)))
    return (
        Category.INDUSTRY.value
        if Category.INDUSTRY in cats or not cats
        else Category.PUBLIC_GOVERNANCE.value
    )


def statement(s: Session, tenant: Tenant, month: str, book: PriceBook) -> Statement:
    start, end = month_bounds(month)
    scenarios = {
        x.id: x for x in s.scalars(select(Scenario).where(Scenario.tenant_id == tenant.id))
    }
    fallback = tenant_category(s, tenant.id)
    sums: dict[tuple[str, str, str], list] = {}
    events = s.scalars(select(MeterEvent).where(
        MeterEvent.tenant_id == tenant.id, MeterEvent.at >= start, MeterEvent.at < end))  # fmt: skip
    count = 0
    for e in events:
        count += 1
        scenario = scenarios.get(e.scenario_id)
        category = scenario.category.value if scenario else fallback
        name = scenario.name if scenario else "—"
        for c in book.charges(e.kind, e.quantity, e.details or {}, category):
            acc = sums.setdefault((name, category, c.item), [Decimal(0), Decimal(0), 0])
            acc[0] += c.units
            acc[1] += c.amount
            acc[2] += 1
    lines = [Line(n, cat, item, units.quantize(Decimal("0.0001")), book.rate(cat, item), amount, k)
             for (n, cat, item), (units, amount, k) in sorted(sums.items())]  # fmt: skip
    total = sum((x.amount for x in lines), Decimal("0.00"))
    return Statement(tenant.name, month, book.currency, lines, total, count)


def spent(s: Session, tenant: Tenant, book: PriceBook, today: date | None = None) -> Decimal:
    """What the tenant has been charged this month so far."""
    return statement(s, tenant, (today or date.today()).strftime("%Y-%m"), book).total


def to_csv(st: Statement) -> str:
    """The statement as CSV; tenant and scenario names are the tenant's own text, so every cell
    goes through :func:`hub.csv_cells.safe_cell` (no formula runs when it is opened)."""
    header = ["tenant", "month", "scenario", "category", "item", "units", "rate", "amount",
              "events", "currency"]  # fmt: skip
    rows = [
        [st.tenant, st.month, x.scenario, x.category, x.item, x.units, x.rate, x.amount,
         x.events, st.currency]
        for x in st.lines
    ]  # fmt: skip
    rows.append([st.tenant, st.month, "", "", "total", "", "", st.total, st.events, st.currency])
    return csv_cells.rows_text(header, rows)


def to_html(st: Statement) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(x.scenario)}</td><td>{e(x.category)}</td><td>{e(ITEM_TITLES[x.item])}</td>"
        f"<td class=num>{x.units}</td><td class=num>{x.rate}</td><td class=num>{x.amount}</td></tr>"
        for x in st.lines
    )
    return (
        f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{e(st.tenant)} {st.month}</title>"
        "<style>body{font-family:system-ui,'Noto Sans CJK SC',sans-serif}td,th{padding:.3rem .6rem;"
        "border-bottom:1px solid #ccc}.num{text-align:right}</style>"
        f"<h1>月度账单 / Monthly statement · {e(st.tenant)} · {st.month}</h1>"
        "<table><tr><th>场景 Scenario</th><th>类别 Category</th><th>项目 Item</th><th>数量 Units</th>"
        f"<th>单价 Rate ({e(st.currency)})</th><th>金额 Amount</th></tr>{rows}"
        f"<tr><th colspan=5>合计 Total ({st.events} 条计量 / metered events)</th>"
        f"<th class=num id=total>{st.total}</th></tr></table></html>"
    )
