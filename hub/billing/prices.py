"""The price book and what each metered event costs.

``PRICE_BOOK`` in ``jupyterhub_config.py`` (the ``price_book`` of :mod:`hub.settings`, where its
defaults live) prices each item per scenario category: public-governance scenarios are free under
the programme's condition, industry scenarios pay the government-guided price. Items and the
meter events they price:

=========================  ==============================  =====================================
item                       unit                            meter event
=========================  ==============================  =====================================
container_cpu_hour         CPU-hour of a workspace         ``container_seconds`` × cpus
container_memory_gb_hour   GB-hour of a workspace          ``container_seconds`` × memory_gb
job_cpu_hour               CPU-hour of a training job      ``job_seconds`` × cpus
masked_rows_10k            10,000 desensitized rows        ``masked_rows``
model_publish              one published model             ``model_publish``
export                     one released export             ``export_download`` (first only)
=========================  ==============================  =====================================

Amounts are :class:`~decimal.Decimal` in the book's currency, rounded to the fen per event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from hub.billing.meter import MeterKind
from hub.settings import Prices, ProductCaps

ITEMS = ("container_cpu_hour", "container_memory_gb_hour", "job_cpu_hour", "masked_rows_10k",
         "model_publish", "export")  # fmt: skip
CATEGORIES = ("industry", "public-governance")
CENT = Decimal("0.01")


Units = Callable[[int, Mapping], list[tuple[str, Decimal]]]


def _hours(quantity: int) -> Decimal:
    return Decimal(quantity) / 3600


def _container(quantity: int, details: Mapping) -> list[tuple[str, Decimal]]:
    hours = _hours(quantity)
    return [("container_cpu_hour", hours * Decimal(str(details.get("cpus") or 0))),
            ("container_memory_gb_hour", hours * Decimal(str(details.get("memory_gb") or 0)))]  # fmt: skip


def _job(quantity: int, details: Mapping) -> list[tuple[str, Decimal]]:
    return [("job_cpu_hour", _hours(quantity) * Decimal(str(details.get("cpus") or 1)))]


def _download(quantity: int, details: Mapping) -> list[tuple[str, Decimal]]:
    return [("export", Decimal(1))] if details.get("first") else []


PRICED: dict[MeterKind, Units] = {
    MeterKind.CONTAINER_SECONDS: _container,
    MeterKind.JOB_SECONDS: _job,
    MeterKind.MASKED_ROWS: lambda quantity, _: [("masked_rows_10k", Decimal(quantity) / 10_000)],
    MeterKind.MODEL_PUBLISH: lambda quantity, _: [("model_publish", Decimal(quantity))],
    MeterKind.EXPORT_DOWNLOAD: _download,
}
"""Each priced meter kind and the book's items (with their units) one event of it uses."""
FREE: frozenset[MeterKind] = frozenset({MeterKind.PRODUCT_QUERY})
"""Meter kinds recorded for limits and statistics, never priced."""


@dataclass(frozen=True)
class Charge:
    item: str
    units: Decimal
    amount: Decimal


@dataclass(frozen=True)
class PriceBook:
    currency: str
    rates: dict[str, dict[str, Decimal]]
    conditions: dict[str, str] = field(default_factory=dict)
    caps: ProductCaps = ProductCaps()  # guided product price caps (hub.production.registry)

    def rate(self, category: str, item: str) -> Decimal:
        return self.rates[category][item]

    def charges(self, kind: str, quantity: int, details: dict, category: str) -> list[Charge]:
        """What one meter event costs, per item (none for free or unknown kinds)."""
        try:
            units = PRICED.get(MeterKind(kind))
        except ValueError:  # a kind no longer metered, in an old row
            return []
        if units is None:
            return []
        return [
            Charge(item, u, money(u * self.rate(category, item)))
            for item, u in units(quantity, details)
        ]

    def quote(self, kind: str, resources: dict, category: str) -> Decimal:
        """The most a request of ``kind`` will cost once done (jobs at their requested limits)."""
        if kind == "job":
            cpus = Decimal(str(resources.get("cpus", 1)))
            hours = Decimal(str(resources.get("seconds", 600))) / 3600
            return money(cpus * hours * self.rate(category, "job_cpu_hour"))
        if kind in ("export", "model"):
            return money(self.rate(category, "export" if kind == "export" else "model_publish"))
        return Decimal("0.00")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def book(prices: Prices) -> PriceBook:
    """The book of validated settings (every category prices every item, none negative), its
    rates as exact decimals."""
    data = prices.model_dump(by_alias=True)
    rates = {c: {item: Decimal(str(data[c][item])) for item in ITEMS} for c in CATEGORIES}
    return PriceBook(prices.currency, rates, dict(prices.conditions), prices.product_caps)
