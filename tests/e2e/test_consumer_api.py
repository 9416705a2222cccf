"""The consumer API end to end: the real hub, its configurable-http-proxy and the products
service it starts. A consumer holding only a product key scores, verifies and reads its
statement through the public port; the company issues, rotates and reads per-consumer usage
through the gateway; every other caller is refused in the one refusal shape."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from hub.db.models import ProductKey
from hub.ops import Ctx, tenants
from tests import consumer_world as cw
from tests.e2e.conftest import api_tokens, gateway_url

pytestmark = pytest.mark.e2e
REFUSAL_FIELDS = {"error", "code", "status", "message_zh", "message_en"}
MONTH = datetime.now(UTC).strftime("%Y-%m")
RECORDS = [{"age": 30}, {"age": 60}]
EXPIRY: list[datetime] = []  # when the module's expiring key stops


# The hub on SQLite only: the unit tests run this module's database work on PostgreSQL too.
BACKENDS = ("sqlite",)


@pytest.fixture(scope="module")
def market(hub):
    """(public API base, keys) for product ``visit-score`` (0.05 CNY a record) and an unrelated
    registered product ``other-score``, published in the running hub's domain."""
    proc, db, _ = hub
    EXPIRY[:] = [datetime.now(UTC) + timedelta(seconds=3)]
    for name in ("visit-score", "other-score"):
        cw.publish(db, proc.home, name)
        cw.register(db, name, 0.05, "条")
    keys = {
        "main": cw.issue(db, "visit-score", "甲银行风控系统"),
        "other": cw.issue(db, "other-score", "乙保险定价引擎"),
        "revoked": cw.issue(db, "visit-score", "已吊销"),
        "expiring": cw.issue(db, "visit-score", "将过期", expires_at=EXPIRY[0]),
        "slow": cw.issue(db, "visit-score", "限速", calls_per_minute=1),
        "small": cw.issue(db, "visit-score", "限额", records_per_day=2),
    }
    with db.session() as s:
        found = s.scalars(select(ProductKey).where(ProductKey.prefix == keys["revoked"][:12])).one()
        found.revoked_at = datetime.now(UTC)
    return f"{proc.url}/services/products/api/v1", keys


@pytest.fixture(scope="module")
def tokens(hub) -> dict[str, str]:
    """alice's and bob's API tokens, signed in once (a TOTP code is good for one login)."""
    return api_tokens(hub, ("alice", "bob"))


def post(url: str, key: str | None, body=None, *, data: bytes | None = None, header="bearer"):
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-Product-Key": key}  # fmt: skip
    return requests.post(url, json=body if data is None else None, data=data, headers=headers, timeout=60)  # fmt: skip


def test_when_a_consumer_holds_only_a_key_then_it_scores_and_verifies_through_the_public_port(
    hub, market
):
    base, keys = market
    scored = post(f"{base}/visit-score/score", keys["main"], {"records": RECORDS})
    assert scored.status_code == 200, scored.text
    assert scored.json()["answers"] == [70.0, 130.0]
    present = cw.present_ids(hub[0].home, 2)
    verified = post(f"{base}/visit-score/verify", keys["main"], {"keys": [*present, "000000000000000000"]}, header="x")  # fmt: skip
    assert verified.status_code == 200 and verified.json()["answers"][2] is False
    statement = requests.get(f"{base}/visit-score/statement", params={"month": MONTH},
                             headers={"X-Product-Key": keys["main"]}, timeout=30).json()  # fmt: skip
    assert statement["total"] == "0.25" and statement["lines"][0]["records"] == 5
    document = requests.get(f"{base}/openapi.json", timeout=30)
    assert document.status_code == 200 and "/api/v1/{name}/verify" in document.json()["paths"]


@pytest.mark.parametrize(
    "case, status, code",
    [
        ("no key", 401, "unauthorized"),
        ("wrong key", 403, "bad_product_key"),
        ("revoked", 403, "key_revoked"),
        ("expired", 403, "key_expired"),
        ("another product's key", 403, "bad_product_key"),
        ("a processor's hub token", 403, "bad_product_key"),
        ("over the rate", 429, "rate_limited"),
        ("over the quota", 429, "daily_quota"),
        ("oversized body", 413, "too_large"),
    ],
)
def test_when_an_attacker_calls_without_a_live_key_then_the_public_port_refuses(
    hub, market, tokens, case, status, code
):
    base, keys = market
    url, key, body, data = f"{base}/visit-score/score", None, {"records": RECORDS}, None
    if case == "wrong key":
        key = "shuyu_pk_" + "B" * 43
    elif case in ("revoked", "another product's key"):
        key = keys["revoked" if case == "revoked" else "other"]
    elif case == "expired":
        key = keys["expiring"]
        time.sleep(max(0.0, (EXPIRY[0] - datetime.now(UTC)).total_seconds()) + 0.5)
    elif case == "a processor's hub token":
        key = tokens["alice"]
    elif case == "over the rate":
        key = keys["slow"]
        assert post(url, key, body).status_code == 200
    elif case == "over the quota":
        key = keys["small"]
        assert post(url, key, body).status_code == 200  # two records: the day's quota
    elif case == "oversized body":
        key = keys["main"]
        data = json.dumps({"records": [{"age": 1, "pad": "x" * 1000}] * 1100}).encode()
    answer = post(url, key, body, data=data)
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    refusal = answer.json()
    assert set(refusal) == REFUSAL_FIELDS and refusal["code"] == code
    assert refusal["message_zh"] and refusal["message_en"]


def test_when_the_company_manages_keys_then_rotation_and_per_consumer_usage_work_through_the_gateway(
    hub, market, tokens
):
    base, keys = market
    token = tokens["alice"]
    gw = f"{gateway_url(hub)}/services/gateway/api/v1/products"
    auth = {"Authorization": f"token {token}"}
    issued = requests.post(f"{gw}/visit-score/keys", json={"consumer": "丙公司", "records_per_day": 100}, headers=auth, timeout=30)  # fmt: skip
    assert issued.status_code == 201, issued.text
    fresh = issued.json()["key"]
    assert post(f"{base}/visit-score/score", fresh, {"records": RECORDS}).status_code == 200
    rotated = requests.post(f"{gw}/visit-score/keys/{fresh[:12]}/rotate", json={"grace_seconds": 0}, headers=auth, timeout=30)  # fmt: skip
    assert rotated.status_code == 201, rotated.text
    assert post(f"{base}/visit-score/score", fresh, {"records": RECORDS}).json()["code"] == "key_revoked"  # fmt: skip
    assert post(f"{base}/visit-score/score", rotated.json()["key"], {"records": RECORDS}).status_code == 200  # fmt: skip
    usage = requests.get(f"{gw}/consumers", params={"month": MONTH}, headers=auth, timeout=30)
    assert usage.status_code == 200, usage.text
    lines = {x["consumer"]: x for x in usage.json()["lines"] if x["product"] == "visit-score"}
    assert lines["丙公司"]["records"] == 4 and lines["丙公司"]["amount"] == "0.20"
    mine = requests.get(f"{base}/visit-score/statement", params={"month": MONTH},
                        headers={"X-Product-Key": rotated.json()["key"]}, timeout=30).json()  # fmt: skip
    assert mine["total"] == lines["丙公司"]["amount"]  # the consumer's bill is the company's line
    bob = tokens["bob"]  # another company: not its product
    denied = requests.get(f"{gw}/visit-score/keys", headers={"Authorization": f"token {bob}"}, timeout=30)  # fmt: skip
    assert denied.status_code == 404


def test_when_the_company_is_suspended_then_its_product_is_refused_at_the_next_call(hub, market):
    _, db, _ = hub
    base, keys = market
    assert post(f"{base}/visit-score/verify", keys["main"], {"records": RECORDS}).status_code == 200
    with db.session() as s:
        tenants.change_status(Ctx(session=s, actor="e2e"), cw.TENANT, "suspend", "违规 / misuse")
    try:
        refused = post(f"{base}/visit-score/verify", keys["main"], {"records": RECORDS})
        assert refused.status_code == 409 and refused.json()["code"] == "product_paused"
        assert "已暂停" in refused.json()["message_zh"]
    finally:
        with db.session() as s:
            tenants.change_status(Ctx(session=s, actor="e2e"), cw.TENANT, "reinstate", "恢复 / ok")
