"""The consumer API without a hub, on SQLite and PostgreSQL: a consumer holding only a product key
scores and verifies, is metered at the registered price and reads its statement, which agrees
with the company's to the cent; every other caller is refused in the one refusal shape."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select
from tornado import httpserver
from tornado.httpclient import AsyncHTTPClient

from hub import home, settings
from hub.db.engine import Database
from hub.db.models import AuditEvent, MeterEvent, Product, ProductKey, ScenarioStatus
from hub.demo import world
from hub.ops import Ctx, tenants
from hub.ops.setup import init_home
from hub.production import consumers, products
from hub.web import consumer_api
from tests import consumer_world as cw
from tests.conftest import BACKENDS
from tests.pg import pg_available, pg_drop, pg_from_template
from tests.ports import free_port

PREFIX = "/services/products"
REFUSAL_FIELDS = {"error", "code", "status", "message_zh", "message_en"}
MONTH = datetime.now(UTC).strftime("%Y-%m")


@pytest.fixture(scope="module", params=BACKENDS)
def built(request, tmp_path_factory):
    """The demo world with the products, built once per backend: (home, DB url or template)."""
    h = tmp_path_factory.mktemp("consumer-world")
    if request.param == "sqlite":
        url = f"sqlite:///{h.parent / (h.name + '.sqlite')}"
    else:
        if not pg_available():
            pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
        name = f"shuyu_cw_{uuid.uuid4().hex[:10]}"
        url = pg_from_template(request.getfixturevalue("pg_template"), name)
    db = Database(url)
    init_home(h, db)
    world.build(h, db, rows=200)
    for product in ("visit-score", "other-score", "unlisted"):
        cw.publish(db, h, product)
    cw.register(db, "visit-score", 0.033, "条")
    cw.register(db, "other-score", 5, "千次调用")
    db.dispose()
    yield h, url
    if request.param != "sqlite":
        pg_drop(url.rsplit("/", 1)[1])


@pytest.fixture
async def api(tmp_path, built):
    """(base URL, db, home, keys) on a copy of the built world: products ``visit-score``
    (registered, 0.033 CNY a record), ``other-score`` (5 CNY per 1,000 calls), ``unlisted``."""
    source, url = built
    h = tmp_path / "home"
    shutil.copytree(source, h)
    if url.startswith("sqlite"):
        copy = tmp_path / "platform.sqlite"
        shutil.copyfile(url.removeprefix("sqlite:///"), copy)
        url, name = f"sqlite:///{copy}", None
    else:
        name = f"shuyu_t_{uuid.uuid4().hex[:12]}"
        url = pg_from_template(url.rsplit("/", 1)[1], name)
    db = Database(url)
    # the model files were written under the source home: point them at the copy
    with db.session() as s:
        for product in s.scalars(select(Product)):
            product.model_path = str(h / Path(product.model_path).relative_to(source))
    keys = {
        "main": cw.issue(db, "visit-score", "甲银行风控系统"),
        "second": cw.issue(db, "visit-score", "乙保险定价引擎"),
        "other": cw.issue(db, "other-score", "甲银行风控系统"),
        "unlisted": cw.issue(db, "unlisted", "甲银行风控系统"),
        "slow": cw.issue(db, "visit-score", "限速测试", calls_per_minute=2),
        "small": cw.issue(db, "visit-score", "限额测试", records_per_day=3),
    }
    config = settings.build(production_rules={"product_sweep_keys_per_day": 50})
    app = consumer_api.make_app(db, home.domain_store(h), PREFIX + "/", config)
    port = free_port()
    server = httpserver.HTTPServer(app, max_body_size=consumer_api.HARD_BODY)
    server.listen(port, "127.0.0.1")
    yield f"http://127.0.0.1:{port}{PREFIX}/api/v1", db, h, keys
    server.stop()
    db.dispose()
    if name:
        pg_drop(name)


async def call(url: str, key: str | None = None, body=None, *, header="bearer", method="POST",
               raw: bytes | None = None) -> tuple[int, dict]:  # fmt: skip
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers.update({"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-Product-Key": key})  # fmt: skip
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    response = await AsyncHTTPClient().fetch(
        url, method=method, headers=headers, body=data, raise_error=False, request_timeout=60
    )
    return response.code, json.loads(response.body)


RECORDS = [{"age": 30}, {"age": 60}]


async def test_when_a_consumer_holds_only_a_key_then_it_scores_verifies_and_is_charged_per_record(api):  # fmt: skip
    base, db, h, keys = api
    code, scored = await call(f"{base}/visit-score/score", keys["main"], {"records": RECORDS})
    assert code == 200 and scored["answers"] == [70.0, 130.0]
    present = cw.present_ids(h, 3)
    code, verified = await call(f"{base}/visit-score/verify", keys["main"],
                                {"keys": [*present, "000000000000000000"]}, header="x")  # fmt: skip
    assert code == 200 and len(verified["answers"]) == 4 and verified["answers"][3] is False
    with db.session() as s:
        events = s.scalars(select(MeterEvent).where(MeterEvent.actor.like("consumer:%"))).all()
        assert [(e.quantity, e.details["amount"]) for e in events] == [(2, "0.066000"), (4, "0.132000")]  # fmt: skip
        assert {e.details["consumer"] for e in events} == {"甲银行风控系统"}
        audited = s.scalars(select(AuditEvent).where(AuditEvent.action == "consumer.query")).all()
        assert [a.outcome for a in audited] == ["ok", "ok"]
    code, mine = await call(
        f"{base}/visit-score/statement?month={MONTH}", keys["main"], method="GET"
    )
    assert code == 200 and mine["total"] == "0.20" and mine["lines"][0]["records"] == 6


async def test_when_statements_are_read_then_consumer_and_company_agree_to_the_cent(api):
    base, db, _, keys = api
    sizes = [1, 3, 7, 2, 5, 1, 1, 9]  # 0.033 × 29 records = 0.957 → 0.96
    for n in sizes:
        code, _ = await call(f"{base}/visit-score/score", keys["second"], {"records": [{"age": 40}] * n})  # fmt: skip
        assert code == 200
    for _ in range(3):  # 5 CNY per 1,000 calls: 0.015 → 0.02, not 3 × 0.01
        assert (await call(f"{base}/other-score/score", keys["other"], {"records": RECORDS}))[0] == 200  # fmt: skip
    with db.session() as s:
        product = products.get(s, "visit-score")
        company = consumers.statement(s, product.tenant_id, cw.TENANT, MONTH)
    by = {(x.consumer, x.product): x for x in company.lines}
    assert by[("乙保险定价引擎", "visit-score")].amount == Decimal("0.96")
    assert by[("甲银行风控系统", "other-score")].amount == Decimal("0.02")
    assert company.total == sum((x.amount for x in company.lines), Decimal(0))
    for key, product in (("second", "visit-score"), ("other", "other-score")):
        code, mine = await call(
            f"{base}/{product}/statement?month={MONTH}", keys[key], method="GET"
        )
        assert code == 200
        line = mine["lines"][0]
        theirs = by[(line["consumer"], product)]
        assert Decimal(mine["total"]) == theirs.amount and line["calls"] == theirs.calls


@pytest.mark.parametrize(
    "case, status, code",
    [
        ("no key", 401, "unauthorized"),
        ("forged key", 403, "bad_product_key"),
        ("a hub token", 403, "bad_product_key"),
        ("another product's key", 403, "bad_product_key"),
        ("revoked", 403, "key_revoked"),
        ("expired", 403, "key_expired"),
        ("oversized body", 413, "too_large"),
        ("scoring by key", 400, "score_by_key"),
        ("unknown field", 400, "bad_request"),
        ("not registered", 409, "not_registered"),
        ("no such product", 404, "not_found"),
    ],
)
async def test_when_a_caller_is_not_a_live_key_of_the_product_then_it_is_refused_in_both_languages(
    api, case, status, code
):
    base, db, _, keys = api
    url, key, body, raw = f"{base}/visit-score/score", keys["main"], {"records": RECORDS}, None
    if case == "no key":
        key = None
    elif case == "forged key":
        key = "shuyu_pk_" + "A" * 43
    elif case == "a hub token":
        key = "0123456789abcdef0123456789abcdef"
    elif case == "another product's key":
        key = keys["other"]
    elif case in ("revoked", "expired"):
        with db.session() as s:
            found = s.scalars(select(ProductKey).where(ProductKey.prefix == key[:12])).one()
            past = datetime.now(UTC) - timedelta(seconds=1)
            if case == "revoked":
                found.revoked_at = past
            else:
                found.expires_at = past
    elif case == "oversized body":
        raw = json.dumps({"records": [{"age": 30, "pad": "x" * 1000}] * 1100}).encode()
    elif case == "scoring by key":
        body = {"keys": ["330106199001011234"]}
    elif case == "unknown field":
        body = {"records": RECORDS, "scenario": "其他"}
    elif case == "not registered":
        url, key = f"{base}/unlisted/score", keys["unlisted"]
    elif case == "no such product":
        url = f"{base}/no-such-product/score"
    got, answer = await call(url, key, body, raw=raw)
    assert (got, answer["code"]) == (status, code)
    assert set(answer) == REFUSAL_FIELDS and answer["message_zh"] and answer["message_en"]
    with db.session() as s:  # refused calls are audited, and never metered
        assert not s.scalars(select(MeterEvent).where(MeterEvent.actor.like("consumer:%"))).all()
        denied = s.scalars(select(AuditEvent).where(AuditEvent.action == "consumer.query")).all()
        assert [(d.outcome, d.reason) for d in denied] == [("denied", code)]


async def test_when_a_key_passes_its_own_rate_or_quota_then_it_is_refused_and_others_are_not(api):
    base, _, _, keys = api
    slow = [await call(f"{base}/visit-score/score", keys["slow"], {"records": RECORDS}) for _ in range(3)]  # fmt: skip
    assert [c for c, _ in slow] == [200, 200, 429] and slow[2][1]["code"] == "rate_limited"
    small = [await call(f"{base}/visit-score/score", keys["small"], {"records": RECORDS}) for _ in range(2)]  # fmt: skip
    assert [c for c, _ in small] == [200, 429] and small[1][1]["code"] == "daily_quota"
    assert (await call(f"{base}/visit-score/score", keys["main"], {"records": RECORDS}))[0] == 200


async def test_when_a_key_is_rotated_then_the_old_one_lasts_its_grace_or_stops_at_once(api):
    base, db, _, keys = api
    with db.session() as s:
        product = products.get(s, "visit-score")
        graced = products.rotate_key(s, product, product.tenant_id, "alice", keys["main"][:12], 600)
        at_once = products.rotate_key(s, product, product.tenant_id, "alice", keys["second"][:12])
    for key, status in ((keys["main"], 200), (graced, 200), (keys["second"], 403), (at_once, 200)):
        assert (await call(f"{base}/visit-score/score", key, {"records": RECORDS}))[0] == status
    with db.session() as s:
        rotated = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "product.key_rotated")
        ).all()
        assert [json.loads(e.details)["grace_seconds"] for e in rotated] == [600, 0]
        new = s.scalars(select(ProductKey).where(ProductKey.prefix == graced[:12])).one()
        assert new.consumer == "甲银行风控系统" and new.rotated_from is not None


@pytest.mark.parametrize("change", ["suspend the company", "revoke the scenario"])
async def test_when_the_company_is_suspended_or_the_scenario_revoked_then_the_next_call_is_refused(
    api, change
):
    base, db, _, keys = api
    assert (await call(f"{base}/visit-score/score", keys["main"], {"records": RECORDS}))[0] == 200
    with db.session() as s:
        if change == "suspend the company":
            tenants.change_status(Ctx(session=s, actor="admin"), cw.TENANT, "suspend", "违规 / misuse")  # fmt: skip
        else:
            products.get(s, "visit-score").scenario.status = ScenarioStatus.REVOKED
    code, answer = await call(f"{base}/visit-score/verify", keys["main"], {"records": RECORDS})
    assert (code, answer["code"]) == (409, "product_paused")
    assert "已暂停" in answer["message_zh"] and "paused" in answer["message_en"]


async def test_when_a_key_probes_many_absent_identifiers_then_an_alert_is_audited_and_the_key_stops(api):  # fmt: skip
    base, db, h, keys = api
    guesses = [f"3301061990{n:08d}" for n in range(10)] + cw.present_ids(h, 2)
    code, answer = await call(f"{base}/visit-score/verify", keys["main"], {"keys": guesses})
    assert code == 200 and set(answer["answers"][:10]) == {False}  # absent: a plain no
    code, answer = await call(f"{base}/visit-score/verify", keys["main"], {"keys": guesses[:1]})
    assert (code, answer["code"]) == (403, "key_stopped")
    assert (await call(f"{base}/visit-score/verify", keys["second"], {"keys": guesses[-1:]}))[0] == 200  # fmt: skip
    with db.session() as s:
        alert = s.scalars(select(AuditEvent).where(AuditEvent.action == products.SWEEP)).one()
        assert json.loads(alert.details)["consumer"] == "甲银行风控系统"
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "product.key_stopped")).one()
    code, mine = await call(
        f"{base}/visit-score/statement?month={MONTH}", keys["main"], method="GET"
    )
    assert code == 200 and mine["lines"][0]["records"] == 12  # a stopped key still reads its bill


async def test_when_the_description_is_asked_then_it_needs_no_key_and_is_valid(api):
    base = api[0]
    code, document = await call(f"{base}/openapi.json", method="GET")
    assert code == 200
    validate(document)
    assert set(document["paths"]) == {"/api/v1/openapi.json", "/api/v1/{name}/score",
                                      "/api/v1/{name}/verify", "/api/v1/{name}/statement"}  # fmt: skip
    assert "productKey" in document["components"]["securitySchemes"]
    assert "413" in document["paths"]["/api/v1/{name}/score"]["post"]["responses"]


@pytest.mark.parametrize(
    "unit, expected",
    [("次", ("call", 1)), ("千次调用", ("call", 1000)), ("条", ("record", 1)),
     ("每万条", ("record", 10_000)), ("1000 records", ("record", 1000)), ("人次", ("record", 1)),
     ("月", ("month", 1)), ("per year", ("year", 1)), ("套", None), ("0 次", None),
     ("call", ("call", 1)), ("10k_records", ("record", 10_000)), ("month", ("month", 1)),
     ("key", ("record", 1))],
)  # fmt: skip
def test_when_a_registered_unit_is_read_then_only_known_units_are_charged(unit, expected):
    assert consumers.read_unit(unit) == expected


async def test_when_a_new_price_is_registered_then_later_calls_pay_it_and_a_period_is_paid_once(api):  # fmt: skip
    base, db, _, keys = api
    assert (await call(f"{base}/visit-score/score", keys["main"], {"records": RECORDS}))[0] == 200
    cw.register(db, "visit-score", 30, "月")  # a new version: 30 CNY a month
    for _ in range(3):
        assert (await call(f"{base}/visit-score/score", keys["main"], {"records": RECORDS}))[0] == 200  # fmt: skip
    code, mine = await call(
        f"{base}/visit-score/statement?month={MONTH}", keys["main"], method="GET"
    )
    lines = {(x["price"], x["unit"]): x for x in mine["lines"]}
    assert lines[("0.033", "条")]["amount"] == "0.07" and lines[("30", "月")]["amount"] == "30.00"
    assert lines[("30", "月")]["calls"] == 3 and mine["total"] == "30.07"
