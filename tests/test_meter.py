"""The meter: one kind enum, every kind priced or explicitly free, one function that records."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from hub.billing import meter, prices
from hub.billing.meter import MeterKind
from hub.db.models import MeterEvent, Tenant
from hub.demo import world
from hub.settings import Prices

BOOK = prices.book(Prices())


def test_every_meter_kind_is_either_priced_or_explicitly_free():
    assert set(prices.PRICED) | prices.FREE == set(MeterKind)
    assert not set(prices.PRICED) & prices.FREE


@pytest.mark.parametrize("kind", sorted(prices.PRICED))
def test_when_a_priced_kind_is_metered_then_it_costs_items_of_the_book(kind):
    details = {"cpus": 2, "memory_gb": 1, "first": True}
    charges = BOOK.charges(kind.value, 3600, details, "industry")
    assert charges and all(c.item in prices.ITEMS and c.amount > 0 for c in charges)


@pytest.mark.parametrize("kind", sorted(prices.FREE))
def test_when_a_free_kind_is_metered_then_it_costs_nothing(kind):
    assert BOOK.charges(kind.value, 10_000, {}, "industry") == []


def test_when_an_unknown_kind_is_in_an_old_row_then_it_costs_nothing():
    assert BOOK.charges("fax_pages", 5, {}, "industry") == []


def test_when_a_download_is_not_the_first_then_it_is_free():
    assert BOOK.charges(MeterKind.EXPORT_DOWNLOAD, 1, {"first": False}, "industry") == []
    (charge,) = BOOK.charges(MeterKind.EXPORT_DOWNLOAD, 1, {"first": True}, "industry")
    assert (charge.item, charge.amount) == ("export", Decimal("50.00"))


def test_when_a_use_is_recorded_then_one_event_holds_the_kind_s_value(shuyu_home, db):
    world.build(shuyu_home, db, rows=50)
    with db.session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[0]["name"])).one()
        before = len(s.scalars(select(MeterEvent)).all())
        meter.record(s, tenant.id, MeterKind.JOB_SECONDS, 90, {"cpus": 2}, actor="alice")
    with db.session() as s:
        events = s.scalars(select(MeterEvent)).all()
        assert len(events) == before + 1
        event = events[-1]
        assert (event.tenant_id, event.kind, event.quantity, event.actor) == (
            tenant.id, "job_seconds", 90, "alice",
        )  # fmt: skip
        assert event.details == {"cpus": 2} and event.scenario_id is None
        assert s.scalars(select(MeterEvent).where(MeterEvent.kind == MeterKind.JOB_SECONDS)).all()


def test_when_a_kind_is_not_a_meter_kind_then_nothing_is_recorded(shuyu_home, db):
    with db.session() as s, pytest.raises(ValueError):
        meter.record(s, 1, "fax_pages", 1, actor="alice")  # type: ignore[arg-type]
