"""A product key's limits and sweep alerts, on SQLite and PostgreSQL: the consumer's calls are
counted per key from the metered calls, refused past a limit, and a sweep is audited once."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from hub.db.models import AuditEvent, Product, ProductKey, Request, Scenario, Staff
from hub.demo import world
from hub.ops.setup import init_home
from hub.production import products
from hub.production.rules import ProductionRules
from hub.refusals import RateLimited


@pytest.fixture
def keyed(tmp_path, db):
    """A product of alice's with two keys, and bob as the consumer."""
    init_home(tmp_path, db)
    world.build(tmp_path, db, rows=50)
    with db.session() as s:
        alice = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        bob = s.scalars(select(Staff).where(Staff.username == "bob")).one()
        scenario = s.scalars(select(Scenario).where(Scenario.tenant_id == alice.tenant_id)).first()
        request = Request(kind="model", tenant_id=alice.tenant_id, scenario_id=scenario.id,
                          requester="alice", purpose="测试 / test", status="published", level=1,
                          approvals_needed=1, name="m", meta={})  # fmt: skip
        s.add(request)
        s.flush()
        product = Product(name="limits-test", tenant_id=alice.tenant_id, scenario_id=scenario.id,
                          request_id=request.id, model_path="-", model_sha256="0" * 64)  # fmt: skip
        s.add(product)
        s.flush()
        keys = [
            products.issue_key(s, product, alice.tenant_id, "alice", c) for c in ("甲方", "乙方")
        ]
        caller = SimpleNamespace(tenant_id=bob.tenant_id, username="bob")
    return db, keys, caller


def _key(s, name: str, key: str) -> tuple[Product, ProductKey]:
    return products.admit_key(s, name, key, None)


def call(db, key: str, caller, n: int, rules: ProductionRules, *, absent: int = 0) -> None:
    with db.session() as s:
        product, found = _key(s, "limits-test", key)
        products.admit_call(s, found, n, rules)
        products.record_call(s, product, found, caller, "verify", n, absent, True, rules)


def test_when_a_key_passes_its_daily_records_then_it_is_refused_and_other_keys_are_not(keyed):
    db, keys, caller = keyed
    rules = ProductionRules(product_records_per_day=10, product_sweep_keys_per_day=1000)
    call(db, keys[0], caller, 6, rules)
    with pytest.raises(RateLimited) as caught:
        call(db, keys[0], caller, 5, rules)
    assert caught.value.code == "daily_quota" and caught.value.status == 429
    call(db, keys[0], caller, 4, rules)  # exactly the quota
    call(db, keys[1], caller, 10, rules)  # each key counts its own


def test_when_a_key_calls_too_often_in_a_minute_then_it_is_refused(keyed):
    db, keys, caller = keyed
    rules = ProductionRules(product_calls_per_minute=2)
    call(db, keys[0], caller, 1, rules)
    call(db, keys[0], caller, 1, rules)
    with pytest.raises(RateLimited) as caught:
        call(db, keys[0], caller, 1, rules)
    assert caught.value.code == "rate_limited"


@pytest.mark.parametrize(
    "calls, expected",
    [([(30, 0)], 0), ([(60, 0), (50, 0)], 1), ([(5, 10)], 1), ([(60, 0)] * 3, 1)],
    ids=["under", "many-keys", "many-absent", "once-a-day"],
)
def test_when_a_key_sweeps_then_one_alert_names_it(keyed, calls, expected):
    db, keys, caller = keyed
    rules = ProductionRules(product_sweep_keys_per_day=100)  # absent: 10 raise it
    for n, absent in calls:
        call(db, keys[0], caller, n, rules, absent=absent)
    with db.session() as s:
        alerts = s.scalars(select(AuditEvent).where(AuditEvent.action == products.SWEEP)).all()
        assert len(alerts) == expected
        if expected:
            assert json.loads(alerts[0].details)["consumer"] == "甲方"
            assert products.alerts(s)["limits-test"][0]["key"] == keys[0][:12]
