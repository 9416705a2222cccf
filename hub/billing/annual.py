"""The yearly report each operator (加工使用主体, a tenant) files by the end of March.

The national rules ask for the operator, the authorised data resources it used, its product list
and the fees it actually paid. Everything here is read from the platform's own records: the
tenant and its agreements; the approved data-list items of its scenarios (dataset, department,
classification level, columns, scenario and category); its published products; and its fees —
each month's statement (:func:`hub.billing.statements.statement`), so the report's fees agree
with the statements to the cent.

CSV is one file with a ``section`` column (``operator``, ``resource``, ``product``, ``fee``,
``fee_total``), every cell passed through :func:`hub.csv_cells.safe_cell`; one machine-readable
file is easier to file and to check than a zip. HTML has Chinese and English headings.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import csv_cells
from hub.billing.prices import PriceBook
from hub.billing.statements import statement
from hub.db.models import (
    Agreement,
    DataListItem,
    Dataset,
    Decision,
    Department,
    MeterEvent,
    Product,
    Scenario,
    Tenant,
)
from hub.i18n import Msg, UserError
from hub.ops import lookup

FIRST_YEAR = 2020
CATEGORIES = ("industry", "public-governance")


@dataclass(frozen=True)
class Resource:
    dataset: str
    title: str
    department: str
    level: int
    columns: list[str]
    scenario: str
    category: str


@dataclass(frozen=True)
class ProductRow:
    name: str
    scenario: str
    category: str
    status: str
    published: str  # YYYY-MM-DD


@dataclass(frozen=True)
class MonthFee:
    month: str
    category: str
    amount: Decimal


@dataclass
class AnnualReport:
    year: int
    tenant: str
    uscc: str
    currency: str
    agreements: list[tuple[str, str, str]] = field(default_factory=list)  # start, end, status
    resources: list[Resource] = field(default_factory=list)
    products: list[ProductRow] = field(default_factory=list)
    fees: list[MonthFee] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)  # per category
    total: Decimal = Decimal("0.00")
    metered_events: int = 0


def check_year(text: str | int, today: date | None = None) -> int:
    """A report year: a four-digit year from ``FIRST_YEAR`` to this year."""
    today = today or date.today()
    try:
        year = int(str(text).strip())
    except ValueError:
        year = 0
    if not FIRST_YEAR <= year <= today.year:
        raise UserError(
            Msg(
                f"年份无效：{str(text)[:20]}（应为 {FIRST_YEAR}–{today.year}）",
                f"bad year {str(text)[:20]} (expected {FIRST_YEAR}-{today.year})",
            ),
            "year",
        )
    return year


def _bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def _has_records(s: Session, tenant: Tenant, year: int) -> bool:
    """Whether the platform holds anything of ``tenant`` for ``year``: an agreement in force
    during it, a metered event in it, or a product published by its end."""
    start, end = _bounds(year)
    agreement = s.scalar(
        select(Agreement.id).where(
            Agreement.tenant_id == tenant.id,
            Agreement.start < end.date(),
            Agreement.end >= start.date(),
        )
    )
    metered = s.scalar(
        select(MeterEvent.id).where(
            MeterEvent.tenant_id == tenant.id, MeterEvent.at >= start, MeterEvent.at < end
        )
    )
    product = s.scalar(
        select(Product.id).where(Product.tenant_id == tenant.id, Product.created_at < end)
    )
    return any(x is not None for x in (agreement, metered, product))


def report(s: Session, tenant: Tenant, year: int, book: PriceBook) -> AnnualReport:
    """The report of one tenant for one year (whatever it holds; see :func:`reports`)."""
    start, end = _bounds(year)
    r = AnnualReport(year, tenant.name, tenant.uscc, book.currency)
    for a in s.scalars(
        select(Agreement)
        .where(
            Agreement.tenant_id == tenant.id,
            Agreement.start < end.date(),
            Agreement.end >= start.date(),
        )
        .order_by(Agreement.start)
    ):
        r.agreements.append((a.start.isoformat(), a.end.isoformat(), a.status.value))
    items = s.execute(
        select(DataListItem, Dataset, Department, Scenario)
        .join(Dataset, Dataset.id == DataListItem.dataset_id)
        .join(Department, Department.id == Dataset.department_id)
        .join(Scenario, Scenario.id == DataListItem.scenario_id)
        .where(Scenario.tenant_id == tenant.id, DataListItem.decision == Decision.APPROVED)
        .order_by(Scenario.name, Dataset.name)
    ).all()
    for item, ds, dept, sc in items:
        if item.decided_at is not None and _utc(item.decided_at) >= end:
            continue  # authorised only after the year
        r.resources.append(
            Resource(
                ds.name,
                ds.title,
                dept.name,
                ds.level,
                list(item.columns),
                sc.name,
                sc.category.value,
            )  # fmt: skip
        )
    for p, sc in s.execute(
        select(Product, Scenario)
        .join(Scenario, Scenario.id == Product.scenario_id)
        .where(Product.tenant_id == tenant.id, Product.created_at < end)
        .order_by(Product.name)
    ).all():
        published = _utc(p.created_at).date().isoformat()
        r.products.append(ProductRow(p.name, sc.name, sc.category.value, p.status, published))
    totals = {c: Decimal("0.00") for c in CATEGORIES}
    for m in range(1, 13):
        month = f"{year}-{m:02d}"
        st = statement(s, tenant, month, book)
        r.metered_events += st.events
        per: dict[str, Decimal] = {}
        for line in st.lines:
            per[line.category] = per.get(line.category, Decimal("0.00")) + line.amount
        for category in CATEGORIES:
            amount = per.get(category, Decimal("0.00"))
            r.fees.append(MonthFee(month, category, amount))
            totals[category] += amount
    r.totals = totals
    r.total = sum(totals.values(), Decimal("0.00"))
    return r


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def reports(
    s: Session, year: int, book: PriceBook, tenant: str | None = None
) -> list[AnnualReport]:
    """The reports of ``year``: of the tenant named, or of every tenant with records that year.

    Raises:
        UserError: an unknown tenant, or no records of the tenant (or of anyone) that year.
    """
    if tenant:
        found = [lookup.tenant(s, tenant)]
    else:
        found = list(s.scalars(select(Tenant).order_by(Tenant.name)))
    with_records = [t for t in found if _has_records(s, t, year)]
    if not with_records:
        who = f"{tenant} " if tenant else ""
        raise UserError(
            Msg(
                f"{year} 年没有{('加工使用主体 ' + tenant + ' 的') if tenant else '任何'}记录，无可报告",
                f"no records {'of ' + who if tenant else ''}for {year}: nothing to report",
            ),
            "records",
        )
    return [report(s, t, year, book) for t in with_records]


# --- rendering ---------------------------------------------------------------------------------
CSV_HEADER = ["section", "year", "tenant", "uscc", "name", "title", "scenario", "category",
              "department", "level", "columns", "month", "start", "end", "status", "amount",
              "currency"]  # fmt: skip


def to_csv(reps: list[AnnualReport]) -> str:
    """One CSV, one row per fact, the ``section`` column saying which part it belongs to."""
    rows = []
    for r in reps:
        base = {"year": r.year, "tenant": r.tenant, "uscc": r.uscc, "currency": r.currency}

        def row(section: str, base=base, **cells) -> list:
            values = {**base, "section": section, **cells}
            return [values.get(h, "") for h in CSV_HEADER]

        if not r.agreements:
            rows.append(row("operator", name=r.tenant))
        for start, end, status in r.agreements:
            rows.append(row("operator", name=r.tenant, start=start, end=end, status=status))
        for x in r.resources:
            rows.append(row("resource", name=x.dataset, title=x.title, scenario=x.scenario,
                            category=x.category, department=x.department, level=x.level,
                            columns=" ".join(x.columns)))  # fmt: skip
        for p in r.products:
            rows.append(row("product", name=p.name, scenario=p.scenario, category=p.category,
                            start=p.published, status=p.status))  # fmt: skip
        for f in r.fees:
            rows.append(row("fee", month=f.month, category=f.category, amount=f.amount))
        for category, amount in r.totals.items():
            rows.append(row("fee_total", category=category, amount=amount))
        rows.append(row("fee_total", name="total", amount=r.total))
    return csv_cells.rows_text(CSV_HEADER, rows)


_STYLE = (
    "<style>body{font-family:system-ui,'Noto Sans CJK SC',sans-serif}td,th{padding:.3rem .6rem;"
    "border-bottom:1px solid #ccc;text-align:left}.num{text-align:right}</style>"
)


def body_html(r: AnnualReport) -> str:
    """One operator's report as an HTML fragment (the console wraps it in its page)."""
    e = html.escape
    terms = (
        "".join(
            f"<tr><td>{e(a)}</td><td>{e(b)}</td><td>{e(c)}</td></tr>" for a, b, c in r.agreements
        )
        or "<tr><td colspan=3>无 / none</td></tr>"
    )
    res = (
        "".join(
            f"<tr><td>{e(x.dataset)}</td><td>{e(x.title)}</td><td>{e(x.department)}</td>"
            f"<td>{x.level}</td><td>{e(' '.join(x.columns))}</td><td>{e(x.scenario)}</td>"
            f"<td>{e(x.category)}</td></tr>"
            for x in r.resources
        )
        or "<tr><td colspan=7>无 / none</td></tr>"
    )
    prods = (
        "".join(
            f"<tr><td>{e(p.name)}</td><td>{e(p.scenario)}</td><td>{e(p.category)}</td>"
            f"<td>{e(p.status)}</td><td>{e(p.published)}</td></tr>"
            for p in r.products
        )
        or "<tr><td colspan=5>无 / none</td></tr>"
    )
    months = sorted({f.month for f in r.fees})
    by = {(f.month, f.category): f.amount for f in r.fees}
    fees = "".join(
        f"<tr><td>{m}</td>"
        + "".join(f"<td class=num>{by[(m, c)]}</td>" for c in CATEGORIES)
        + f"<td class=num>{sum((by[(m, c)] for c in CATEGORIES), Decimal('0.00'))}</td></tr>"
        for m in months
    )
    totals = "".join(f"<th class=num>{r.totals[c]}</th>" for c in CATEGORIES)
    return (
        f"<section class=annual><h2>{e(r.tenant)} · {r.year}</h2>"
        "<h3>运营主体 / Operator</h3>"
        f"<p>名称 Name：{e(r.tenant)}<br>统一社会信用代码 USCC：{e(r.uscc)}</p>"
        "<table><tr><th>协议起 Agreement from</th><th>协议止 to</th><th>状态 Status</th></tr>"
        f"{terms}</table>"
        "<h3>授权数据资源 / Authorised data resources</h3>"
        "<table><tr><th>数据集 Dataset</th><th>名称 Title</th><th>部门 Department</th>"
        "<th>分级 Level</th><th>字段 Columns</th><th>场景 Scenario</th><th>类别 Category</th></tr>"
        f"{res}</table>"
        "<h3>产品清单 / Products</h3>"
        "<table><tr><th>产品 Product</th><th>场景 Scenario</th><th>类别 Category</th>"
        f"<th>状态 Status</th><th>发布日期 Published</th></tr>{prods}</table>"
        f"<h3>实际收费 / Fees charged ({e(r.currency)})</h3>"
        "<table><tr><th>月份 Month</th><th>行业应用 Industry</th>"
        "<th>公共治理 Public governance</th><th>合计 Total</th></tr>"
        f"{fees}<tr><th>全年 Year</th>{totals}<th class=num id=total>{r.total}</th></tr></table>"
        "</section>"
    )


def to_html(reps: list[AnnualReport]) -> str:
    """The reports as one standalone bilingual page."""
    year = reps[0].year if reps else ""
    return (
        f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{year} 年度报告 / Annual "
        f"report</title>{_STYLE}<h1>{year} 年度报告 / Annual report {year}</h1>"
        + "".join(body_html(r) for r in reps)
        + "</html>"
    )
