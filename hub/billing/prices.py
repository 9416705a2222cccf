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

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from hub.settings import Prices

ITEMS = ("container_cpu_hour", "container_memory_gb_hour", "job_cpu_hour", "masked_rows_10k",
         "model_publish", "export")  # fmt: skip
CATEGORIES = ("industry", "public-governance")
CENT = Decimal("0.01")


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

    def rate(self, category: str, item: str) -> Decimal:
        return self.rates[category][item]

    def charges(self, kind: str, quantity: int, details: dict, category: str) -> list[Charge]:
        """What one meter event costs, per item (none for unpriced kinds)."""
        units: list[tuple[str, Decimal]] = []
        hours = Decimal(quantity) / 3600
        if kind == "container_seconds":
            units = [("container_cpu_hour", hours * Decimal(str(details.get("cpus") or 0))),
                     ("container_memory_gb_hour", hours * Decimal(str(details.get("memory_gb") or 0)))]  # fmt: skip
        elif kind == "job_seconds":
            units = [("job_cpu_hour", hours * Decimal(str(details.get("cpus") or 1)))]
        elif kind == "masked_rows":
            units = [("masked_rows_10k", Decimal(quantity) / 10_000)]
        elif kind == "model_publish":
            units = [("model_publish", Decimal(quantity))]
        elif kind == "export_download" and details.get("first"):
            units = [("export", Decimal(1))]
        return [Charge(item, u, money(u * self.rate(category, item))) for item, u in units]

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
    return PriceBook(prices.currency, rates, dict(prices.conditions))
