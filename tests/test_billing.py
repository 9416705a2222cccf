"""Fees: the price book, statements whose totals are the metered events' charges, budget caps."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from hub.billing import budget, statements
from hub.billing.prices import book
from hub.db.models import MeterEvent, Scenario, Tenant
from hub.demo import world
from hub.ops import Ctx
from hub.refusals import Conflict
from hub.settings import Prices, SettingsError, build

BOOK = book(Prices())
MONTH = "2026-11"


@pytest.fixture
def demo(shuyu_home, db):
    world.build(shuyu_home, db, rows=50)
    return db


def alice_company(s) -> tuple[Tenant, dict[str, Scenario]]:
    tenant = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[0]["name"])).one()
    return tenant, {
        x.name: x for x in s.scalars(select(Scenario).where(Scenario.tenant_id == tenant.id))
    }


def meter(s, tenant, scenario, kind, quantity, at="2026-11-15T10:00:00", **details):
    s.add(MeterEvent(tenant_id=tenant.id, scenario_id=scenario.id if scenario else None, actor="alice",
                     kind=kind, quantity=quantity, details=details,
                     at=datetime.fromisoformat(at).replace(tzinfo=UTC)))  # fmt: skip


def test_when_a_month_is_billed_then_its_total_is_the_sum_of_its_events_charges(demo):
    with demo.session() as s:
        tenant, scen = alice_company(s)
        health = scen["普惠健康险定价"]
        for _ in range(3):
            meter(s, tenant, health, "masked_rows", 12_345)
        meter(s, tenant, None, "container_seconds", 7200, cpus=1.0, memory_gb=2.0)
        meter(s, tenant, health, "job_seconds", 1800, cpus=2)
        meter(s, tenant, health, "model_publish", 1)
        meter(s, tenant, health, "export_download", 1, first=True)
        meter(s, tenant, health, "export_download", 1, first=False)  # a second download is free
        meter(s, tenant, health, "product_query", 500)  # not in the price book
        meter(s, tenant, health, "masked_rows", 10_000, at="2026-10-31T23:59:59")  # last month
        meter(s, tenant, health, "masked_rows", 10_000, at="2026-12-01T00:00:00")  # next month
    with demo.session() as s:
        tenant, _ = alice_company(s)
        st = statements.statement(s, tenant, MONTH, BOOK)
        events = s.scalars(select(MeterEvent).where(MeterEvent.tenant_id == tenant.id)).all()
        in_month = [e for e in events if e.at.replace(tzinfo=UTC).strftime("%Y-%m") == MONTH]
        expected = sum((c.amount for e in in_month for c in BOOK.charges(e.kind, e.quantity, e.details, "industry")),
                       Decimal("0"))  # fmt: skip
    # by hand: 3 × 1.2345 × 1.00 → 3 × 1.23; 2 h × (1 CPU × 0.5 + 2 GB × 0.1); 0.5 h × 2 CPU × 2.0; 200; 50
    assert (
        st.total
        == expected
        == Decimal("3.69") + Decimal("1.40") + Decimal("2.00") + Decimal("200") + Decimal("50")
    )
    assert st.events == len(in_month) == 9
    rows = list(csv.DictReader(io.StringIO(statements.to_csv(st))))
    assert Decimal(rows[-1]["amount"]) == st.total and rows[-1]["item"] == "total"
    assert sum(Decimal(r["amount"]) for r in rows[:-1]) == st.total
    assert f"id=total>{st.total}<" in statements.to_html(st)


def test_when_the_scenario_is_public_governance_then_it_is_free(demo):
    with demo.session() as s:
        bob_company = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[1]["name"])).one()
        carbon = s.scalars(select(Scenario).where(Scenario.tenant_id == bob_company.id)).one()
        meter(s, bob_company, carbon, "masked_rows", 1_000_000)
        meter(s, bob_company, carbon, "job_seconds", 36_000, cpus=2)
    with demo.session() as s:
        bob_company = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[1]["name"])).one()
        st = statements.statement(s, bob_company, MONTH, BOOK)
    assert st.total == 0 and {x.category for x in st.lines} == {"public-governance"}


def test_when_a_request_would_exceed_the_budget_then_it_is_refused_with_the_numbers(demo):
    today = datetime.now(UTC)
    with demo.session() as s:
        tenant, scen = alice_company(s)
        budget.set_budget(Ctx(session=s, actor="adam"), tenant.name, Decimal("100"))
        meter(
            s,
            tenant,
            scen["普惠健康险定价"],
            "export_download",
            1,
            at=today.isoformat()[:19],
            first=True,
        )
    with demo.session() as s:
        tenant, scen = alice_company(s)
        health = scen["普惠健康险定价"]
        q = budget.check(s, tenant, health, "export", {}, BOOK)  # 50 spent + 50 = the cap
        assert (q.spent, q.amount, q.budget, q.remaining) == (
            Decimal("50.00"),
            Decimal("50.00"),
            Decimal("100.00"),
            Decimal("50.00"),
        )
        with pytest.raises(Conflict) as caught:
            budget.check(s, tenant, health, "model", {}, BOOK)
        assert caught.value.code == "over_budget" and "100.00" in str(caught.value.msg)
        assert budget.check(
            s, tenant, health, "job", {"cpus": 1, "seconds": 600}, BOOK
        ).amount == Decimal("0.33")


def test_when_a_price_book_is_incomplete_or_negative_then_it_is_refused():
    broken = Prices().model_dump(by_alias=True)
    del broken["industry"]["export"]
    with pytest.raises(SettingsError, match="export in price_book.industry"):
        build(price_book=broken)
    broken = Prices().model_dump(by_alias=True)
    broken["industry"]["export"] = -1
    with pytest.raises(SettingsError, match="greater than or equal to 0"):
        build(price_book=broken)


def test_when_the_cli_prints_a_statement_then_it_is_the_same_statement(demo, cli):
    with demo.session() as s:
        tenant, scen = alice_company(s)
        meter(
            s,
            tenant,
            scen["普惠健康险定价"],
            "model_publish",
            1,
            at=datetime.now(UTC).isoformat()[:19],
        )
    rc, out, _ = cli("statement", world.TENANTS[0]["name"])
    assert rc == 0 and out.splitlines()[-1].split(",")[-3:] == ["200.00", "1", "CNY"]
    assert cli("budget", world.TENANTS[0]["name"], "123.45")[0] == 0
    with demo.session() as s:
        assert alice_company(s)[0].monthly_budget_fen == 12345
    assert cli("budget", world.TENANTS[0]["name"], "none")[0] == 0
    rc, _, err = cli("budget", world.TENANTS[0]["name"], "lots")
    assert rc != 0 and "not an amount" in err
    with demo.session() as s:
        assert alice_company(s)[0].monthly_budget_fen is None
