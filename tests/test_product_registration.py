"""Product registration (SQLite and PostgreSQL): the record a company fills in, the platform's
核验 of the product (lineage to approved data, the model's checks, the price within its guided
cap, free for public governance, the self-assessment), the record it issues (code, version, data
resources), versions for a new price or a new model, the product live only under a registration
of its current model, and the listing package for the data exchange."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from hub import home
from hub.db.engine import Database
from hub.db.models import Dataset, Product, Request, RequestCheck, Scenario, Staff
from hub.demo import world
from hub.kinds.registration import registration_of
from hub.ops.setup import init_home
from hub.production import executor, listing, products, registry
from hub.production.rules import ProductionRules
from hub.refusals import Conflict
from hub.review import lifecycle, runner
from hub.review.checks import Limits
from hub.settings import ProductCaps, UnitCaps
from tests.conftest import BACKENDS
from tests.pg import pg_drop, pg_from_template

HEALTH = "普惠健康险定价"  # alice's, industry, two reviewers
CARBON = "个人低碳出行积分"  # bob's, public governance
CAPS = ProductCaps(
    scoring=UnitCaps(call=0.5, records_10k=800.0, month=20_000.0),
    verification=UnitCaps(call=0.2, records_10k=300.0, month=8_000.0),
)
ANSWERS = {
    "data_security": "模型只在域内运行，结果不含个人信息 / runs in the domain only",
    "personal_information": "训练数据经脱敏与最小化 / desensitized and minimised",
    "compliance": "仅用于批准的保险定价场景 / approved pricing use only",
}


def body(product: str, /, **changes) -> dict:
    return {
        "product": product, "title": "就诊费用评分", "category": "scoring", "price": 0.3,
        "unit": "call", "processing": "在脱敏样本上开发、在域内原始数据上训练的岭回归模型",
        "self_assessment": ANSWERS,
    } | changes  # fmt: skip


def _scenario(s, user: str, name: str) -> tuple[Staff, Scenario]:
    staff = s.scalars(select(Staff).where(Staff.username == user)).one()
    found = s.scalars(
        select(Scenario).where(Scenario.tenant_id == staff.tenant_id, Scenario.name == name)
    ).one()
    return staff, found


def _frozen(h: Path, s, r: Request, content: bytes) -> None:
    path = home.domain_store(h) / "requests" / f"{r.id}.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    r.content_path, r.content_sha256 = str(path), lifecycle.sha256_of(path)


def publish_model(h: Path, db, product: str, user: str, scenario: str, dataset: str,
                  model: bytes, checks: str = "pass") -> int:  # fmt: skip
    """A succeeded job of ``user``'s on ``dataset`` and its published model, as the production
    zone leaves them (the job's run and the model's checks are not what is tested here)."""
    with db.session() as s:
        staff, found = _scenario(s, user, scenario)
        common = {"tenant_id": staff.tenant_id, "scenario_id": found.id, "requester": user,
                  "purpose": "测试 / test", "level": 2, "approvals_needed": 1}  # fmt: skip
        job = Request(kind="job", status="succeeded", name="train",
                      meta={"datasets": [dataset]}, **common)  # fmt: skip
        s.add(job)
        s.flush()
        model_request = Request(kind="model", status="approved", name=product,
                                meta={"job": job.id, "product": product, "card": {"use": "测试"}},
                                **common)  # fmt: skip
        s.add(model_request)
        s.flush()
        _frozen(h, s, model_request, model)
        for name in ("model_format", "membership_inference"):
            s.add(RequestCheck(request_id=model_request.id, name=name, verdict=checks, reason="t"))
        products.publish(s, model_request)
        model_request.status = lifecycle.PUBLISHED
        return model_request.id


def submit(h: Path, db, content: object, user: str = "alice", scenario: str = HEALTH,
           caps: ProductCaps = CAPS) -> int:  # fmt: skip
    raw = content if isinstance(content, bytes) else json.dumps(content).encode()
    with db.session() as s:
        staff, found = _scenario(s, user, scenario)
        request = lifecycle.create(s, kind="registration", requester=user, tenant_id=staff.tenant_id,
                                   scenario_id=found.id, purpose="登记 / register", name="reg")  # fmt: skip
        lifecycle.submit(s, request, raw, home.domain_store(h), user, ".json")
        request_id = request.id
    runner.check(db, request_id, home.domain_store(h), Limits(), ProductionRules(), None, caps)
    return request_id


def verdicts(db, request_id: int) -> dict[str, str]:
    with db.session() as s:
        return {c.name: c.verdict for c in lifecycle.get(s, request_id).checks}


def register(h: Path, db, content: object, user: str = "alice", scenario: str = HEALTH) -> str:
    request_id = submit(h, db, content, user, scenario)
    with db.session() as s:
        needed = lifecycle.get(s, request_id).approvals_needed
    for reviewer in ("rita", "ryan")[:needed]:
        with db.session() as s:
            lifecycle.decide(s, request_id, reviewer, "approve", "核对无误 / checked")
    return executor.act(
        db, request_id, home.domain_store(h), ProductionRules(), Limits(), h / "none.bpf"
    )


@pytest.fixture(scope="module", params=BACKENDS)
def made(request, tmp_path_factory):
    """One demo world per backend; each test publishes products of its own."""
    h = tmp_path_factory.mktemp("registration")
    pg = None
    if request.param == "sqlite":
        url = f"sqlite:///{h / 'platform.sqlite'}"
    else:
        pg = f"shuyu_t_{uuid.uuid4().hex[:12]}"
        url = pg_from_template(request.getfixturevalue("pg_template"), pg)
    db = Database(url)
    init_home(h, db)
    world.build(h, db, rows=50)
    yield h, db
    db.dispose()
    if pg:
        pg_drop(pg)


@pytest.fixture
def name(made) -> str:
    """A product of alice's health scenario, just published from a job on medical_visits."""
    fresh = f"visit-{uuid.uuid4().hex[:8]}"
    publish_model(*made, fresh, "alice", HEALTH, "medical_visits", fresh.encode())
    return fresh


def test_a_registration_is_checked_issued_with_its_lineage_and_makes_the_product_live(made, name):
    h, db = made
    with db.session() as s:
        assert registration_of(s, name) is None  # published, not yet live
    request_id = submit(h, db, body(name))
    assert verdicts(db, request_id) == {
        "product_owner": "pass", "product_scenario": "pass", "product_lineage": "pass",
        "model_checks": "pass", "price": "pass", "self_assessment": "pass", "version": "pass",
    }  # fmt: skip
    with db.session() as s:
        for reviewer in ("rita", "ryan"):
            lifecycle.decide(s, request_id, reviewer, "approve", "核对无误 / checked")
    assert executor.act(db, request_id, home.domain_store(h), ProductionRules(), Limits(),
                        h / "none.bpf") == "published"  # fmt: skip
    with db.session() as s:
        record = registration_of(s, name)
        product = s.scalars(select(Product).where(Product.name == name)).one()
        department = s.scalars(select(Dataset).where(Dataset.name == "medical_visits")).one()
        assert record["code"] == f"SYDJ-{record['registered_at'][:4]}-{product.id:06d}"
        assert record["version"] == 1 and record["price"] == 0.3 and record["unit"] == "call"
        assert record["data_resources"] == [{
            "dataset": "medical_visits", "title": department.title,
            "department": department.department.name, "level": department.level,
        }]  # fmt: skip
        assert record["model"]["sha256"] == product.model_sha256
        assert record["scenario"]["category"] == "industry"
        assert record["approvers"] == ["rita", "ryan"]
        assert record["model_card"] == {"use": "测试"}  # the model's own card when none is given


@pytest.mark.parametrize(
    "change, failing",
    [
        ({"price": 0.51}, "price"),  # above the scoring cap per call
        ({"unit": "10k_records", "price": 800.01}, "price"),
        ({"category": "verification", "price": 0.3}, "price"),  # the verification cap is 0.2
        ({"price": 0}, "price"),
        ({"price": -1}, "price"),
        ({"self_assessment": {**ANSWERS, "compliance": " "}}, "self_assessment"),
        ({"product": "no-such-product"}, "product_owner"),
    ],
)
def test_when_a_price_is_above_its_cap_or_the_record_is_incomplete_then_approval_is_refused(
    made, name, change, failing
):
    h, db = made
    request_id = submit(h, db, body(name, **change))
    assert verdicts(db, request_id)[failing] == "fail"
    with pytest.raises(Conflict) as caught, db.session() as s:
        lifecycle.decide(s, request_id, "rita", "approve", "核对 / checked")
    assert caught.value.code == "checks_failed"


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", body("any-product", category="lending"), body("any-product", unit="年"), body("any-product", price="0.3"),
     body("any-product", processing="短"), body("any-product", self_assessment={"other": "x"}), body("any-product", price=float("inf"))],
)  # fmt: skip
def test_when_the_record_is_malformed_then_its_fields_check_names_what_is_wanted(made, content):
    h, db = made
    raw = content if isinstance(content, bytes) else json.dumps(content).encode()
    request_id = submit(h, db, raw)
    with db.session() as s:
        (check,) = lifecycle.get(s, request_id).checks
        assert check.name == "registration_fields" and check.verdict == "fail"
        assert "category" in check.reason and "self_assessment" in check.reason


def test_the_cap_is_the_configured_one_at_the_boundary(made, name):
    h, db = made
    assert verdicts(db, submit(h, db, body(name, price=0.5)))["price"] == "pass"
    lowered = CAPS.model_copy(update={"scoring": UnitCaps(call=0.1, records_10k=1, month=1)})
    assert verdicts(db, submit(h, db, body(name, price=0.5), caps=lowered))["price"] == "fail"
    assert verdicts(db, submit(h, db, body(name, unit="万条", price=800)))["price"] == "pass"


def test_a_public_governance_product_is_free_and_a_priced_one_is_refused(made):
    h, db = made
    publish_model(h, db, "low-carbon", "bob", CARBON, "transit_trips", b"carbon-model")
    free = body("low-carbon", price=0, unit="month")
    assert verdicts(db, submit(h, db, free, "bob", CARBON))["price"] == "pass"
    priced = submit(h, db, body("low-carbon", price=0.01), "bob", CARBON)
    assert verdicts(db, priced)["price"] == "fail"


def test_a_product_of_another_company_or_scenario_cannot_be_registered(made, name):
    h, db = made
    assert verdicts(db, submit(h, db, body(name), "bob", CARBON))["product_owner"] == "fail"
    publish_model(h, db, "credit-visit", "alice", "小微企业普惠信贷评估", "enterprise_registry",
                  b"credit-model")  # fmt: skip
    assert verdicts(db, submit(h, db, body("credit-visit")))["product_scenario"] == "fail"


def test_a_model_not_traceable_to_approved_data_or_with_failed_checks_is_not_registered(made):
    h, db = made
    publish_model(h, db, "stray", "alice", HEALTH, "transit_trips", b"stray-model")
    assert verdicts(db, submit(h, db, body("stray")))["product_lineage"] == "fail"
    publish_model(h, db, "leaky", "alice", HEALTH, "medical_visits", b"leaky", checks="fail")
    assert verdicts(db, submit(h, db, body("leaky")))["model_checks"] == "fail"


def test_a_new_price_is_a_new_version_under_the_same_code_and_an_unchanged_one_is_refused(
    made, name
):
    h, db = made
    assert register(h, db, body(name)) == "published"
    again = submit(h, db, body(name))
    assert verdicts(db, again)["version"] == "fail"
    assert register(h, db, body(name, price=0.25)) == "published"
    with db.session() as s:
        first, second = registry.registrations(s, name)
        assert (first["version"], second["version"]) == (1, 2)
        assert first["code"] == second["code"]
        assert registration_of(s, name)["price"] == 0.25


def test_a_new_model_takes_the_product_off_the_market_until_its_version_is_registered(made, name):
    h, db = made
    assert register(h, db, body(name)) == "published"
    publish_model(h, db, name, "alice", HEALTH, "medical_visits", b"model-2")
    with db.session() as s:
        assert registration_of(s, name) is None
        with pytest.raises(Conflict) as caught:
            listing.package(s, name)
        assert caught.value.code == "not_registered"
    assert register(h, db, body(name)) == "published"  # same fields, new model: a new version
    with db.session() as s:
        record = registration_of(s, name)
        assert record["version"] == 2
        assert record["model"]["sha256"] == lifecycle.sha256_of(
            s.scalars(select(Product).where(Product.name == name)).one().model_path
        )


def test_another_company_cannot_publish_a_model_under_a_taken_product_name(made, name):
    h, db = made
    with pytest.raises(Conflict) as caught:
        publish_model(h, db, name, "bob", CARBON, "transit_trips", b"squat")
    assert caught.value.code == "name_taken"


def test_the_listing_package_carries_the_record_and_its_versions_as_json_and_a_page(made, name):
    h, db = made
    assert register(h, db, body(name, title="就诊费用<评分>")) == "published"
    assert register(h, db, body(name, title="就诊费用<评分>", price=0.2)) == "published"
    with db.session() as s:
        package = listing.package(s, name)
    assert json.loads(json.dumps(package, ensure_ascii=False)) == package
    assert package["format"] == "shuyu-listing/1" and package["registration"]["version"] == 2
    assert [v["price"] for v in package["versions"]] == [0.3, 0.2]
    page = listing.page(package)
    assert package["registration"]["code"] in page and "就诊费用&lt;评分&gt;" in page
    assert "<script" not in page and "数据资源 / data resources" in page


def test_when_a_registrations_content_changes_after_approval_then_it_is_not_issued(made, name):
    h, db = made
    request_id = submit(h, db, body(name))
    for reviewer in ("rita", "ryan"):
        with db.session() as s:
            lifecycle.decide(s, request_id, reviewer, "approve", "核对无误 / checked")
    with db.session() as s:
        path = Path(lifecycle.get(s, request_id).content_path)
    path.chmod(0o600)
    path.write_text(json.dumps(body(name, price=0.01)))
    assert executor.act(db, request_id, home.domain_store(h), ProductionRules(), Limits(),
                        h / "none.bpf") == "failed"  # fmt: skip
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        assert "registration" not in request.meta
        assert "differs from what was approved" in request.status_reason
        assert registration_of(s, name) is None
