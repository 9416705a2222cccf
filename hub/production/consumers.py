"""What outside consumers pay for a product's answers, and their statements.

A consumer calls a product with its key alone (:mod:`hub.web.consumer_api`). Each call is one
``product_query`` meter event of the product's company, marked ``"channel": "consumer"``, that
carries what it costs at the product's registered price (:func:`hub.kinds.registration.
registration_of`) frozen at the call: the price, its unit and the exact amount (six decimals).
The company's statement of its consumers and each consumer's own statement add up the same
events the same way (:func:`statement`): exact sums per consumer, product, price and unit, each
line rounded to the fen, the total the sum of the lines — so the two agree to the cent.

A price's unit is the registered text or code: per call (次, 调用, call), per record (条, 记录,
人次, record, key), per period (月, month; 年, year: the consumer's first call of the period pays
it), with an optional size (千次调用, 1000 records, 万条, 10k_records). Public-governance products are free. A unit
the platform cannot read is not charged at a guess: the product is refused until it is fixed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.billing.meter import MeterKind
from hub.billing.prices import money
from hub.billing.statements import month_bounds
from hub.db.models import Category, MeterEvent, Product
from hub.i18n import Msg
from hub.kinds.registration import registration_of
from hub.refusals import Conflict

CHANNEL = "consumer"
EXACT = Decimal("0.000001")
SIZES = (("万", 10_000), ("千", 1000), ("百", 100), ("k", 1000))
PERS = (  # first match wins: "人次" is a record, not a call
    ("month", ("月", "month")),
    ("year", ("年", "year")),
    ("record", ("条", "记录", "人次", "record", "key", "键", "row")),
    ("call", ("次", "调用", "call", "request", "query")),
)


@dataclass(frozen=True)
class Price:
    """A product's registered price: ``amount`` CNY per ``size`` calls, records or a period."""

    amount: Decimal
    unit: str
    per: str  # call | record | month | year
    size: int = 1


def read_unit(unit: str) -> tuple[str, int] | None:
    """``(per, size)`` of a registered unit text, or None when it is not one the platform reads."""
    text = re.sub(r"[\s/每]|per", "", (unit or "").lower())
    size = 1
    digits = re.match(r"\d+", text)
    if digits:
        size, text = int(digits.group()), text[digits.end() :]
    for mark, n in SIZES:  # 万条, 千次, 10k_records (k only after digits: "key" is a key)
        if text.startswith(mark) and (mark != "k" or digits):
            size, text = size * n, text[len(mark) :]
            break
    if not 1 <= size <= 1_000_000:
        return None
    for per, words in PERS:
        if any(w in text for w in words):
            return per, size
    return None


def price_of(s: Session, product: Product) -> Price:
    """The price a consumer pays now; :class:`Conflict` while the product is not registered
    (it is not live) or its unit cannot be charged."""
    record = registration_of(s, product.name)
    if record is None:
        raise Conflict(
            Msg(f"产品 {product.name} 尚未登记，暂不可调用", f"product {product.name} is not registered; it is not live yet"),
            "not_registered",
        )  # fmt: skip
    unit = str(record.get("unit") or "")
    read = read_unit(unit)
    try:
        amount = Decimal(str(record.get("price")))
    except (InvalidOperation, ValueError):
        amount = Decimal(-1)
    if read is None or not amount.is_finite() or amount < 0:
        raise Conflict(
            Msg(f"产品 {product.name} 的登记价格无法计费，已暂停", f"the registered price of product {product.name} cannot be charged; it is paused"),
            "price_unreadable",
        )  # fmt: skip
    if product.scenario.category == Category.PUBLIC_GOVERNANCE:
        amount = Decimal(0)  # public-governance products are free
    return Price(amount, unit, *read)


def _first_in_period(s: Session, product: Product, consumer: str, price: Price) -> bool:
    """Whether no call of ``consumer`` paid ``product``'s period price yet this period."""
    per = price.per
    now = datetime.now(UTC)
    start = now.replace(month=1 if per == "year" else now.month, day=1, hour=0, minute=0,
                        second=0, microsecond=0)  # fmt: skip
    rows = s.execute(
        select(MeterEvent.details).where(
            MeterEvent.kind == MeterKind.PRODUCT_QUERY.value,
            MeterEvent.tenant_id == product.tenant_id,
            MeterEvent.at >= start,
            MeterEvent.details["consumer"].as_string() == consumer,
        )
    ).scalars()
    return not any(
        (d or {}).get("channel") == CHANNEL and (d or {}).get("product") == product.name
        and (d or {}).get("unit") == price.unit and Decimal((d or {}).get("units", "0")) > 0
        for d in rows
    )  # fmt: skip


def charge(
    s: Session, product: Product, consumer: str, price: Price, records: int
) -> dict[str, str]:
    """What one call of ``records`` records costs, as the meter event's details (decimals as
    text, so no float ever touches money)."""
    if price.per == "call":
        units = Decimal(1) / price.size
    elif price.per == "record":
        units = Decimal(records) / price.size
    else:
        units = Decimal(int(_first_in_period(s, product, consumer, price)))
    return {
        "channel": CHANNEL,
        "consumer": consumer,
        "price": str(price.amount),
        "unit": price.unit,
        "units": str(units.quantize(EXACT)),
        "amount": str((units * price.amount).quantize(EXACT)),
    }


@dataclass(frozen=True)
class Line:
    consumer: str
    product: str
    price: Decimal
    unit: str
    calls: int
    records: int
    amount: Decimal  # to the fen


@dataclass(frozen=True)
class Statement:
    company: str
    month: str
    currency: str
    lines: list[Line]
    total: Decimal

    def view(self) -> dict:
        return {
            "company": self.company, "month": self.month, "currency": self.currency,
            "total": str(self.total),
            "lines": [{"consumer": x.consumer, "product": x.product, "price": str(x.price),
                       "unit": x.unit, "calls": x.calls, "records": x.records,
                       "amount": str(x.amount)} for x in self.lines],
        }  # fmt: skip


def statement(
    s: Session, tenant_id: int, company: str, month: str, *, product: str | None = None,
    consumer: str | None = None,
) -> Statement:  # fmt: skip
    """The consumers' calls of the company's products in ``month`` (``YYYY-MM``), per consumer,
    product, price and unit; narrowed to one product and one consumer for a consumer's own."""
    start, end = month_bounds(month)
    rows = s.execute(
        select(MeterEvent.quantity, MeterEvent.details).where(
            MeterEvent.kind == MeterKind.PRODUCT_QUERY.value,
            MeterEvent.tenant_id == tenant_id,
            MeterEvent.at >= start,
            MeterEvent.at < end,
        )
    ).all()
    sums: dict[tuple[str, str, str, str], list] = {}
    for quantity, details in rows:
        d = details or {}
        if d.get("channel") != CHANNEL:
            continue
        if (product and d.get("product") != product) or (
            consumer and d.get("consumer") != consumer
        ):
            continue
        k = (d["consumer"], d["product"], d["price"], d["unit"])
        acc = sums.setdefault(k, [0, 0, Decimal(0)])
        acc[0] += 1
        acc[1] += quantity
        acc[2] += Decimal(d["amount"])
    lines = [Line(c, p, Decimal(price), unit, calls, records, money(amount))
             for (c, p, price, unit), (calls, records, amount) in sorted(sums.items())]  # fmt: skip
    total = sum((x.amount for x in lines), Decimal("0.00"))
    return Statement(company, month, "CNY", lines, total)
