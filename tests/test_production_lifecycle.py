"""Jobs, models, products and imports through the one lifecycle, in process against a demo world
and the real production sandbox: every forbidden move of the export review holds here too."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import select

from hub import home
from hub.db.engine import Database
from hub.db.models import AuditEvent, MeterEvent, ProductKey, Scenario, Staff
from hub.demo import world
from hub.ops import Ctx, tenants
from hub.ops.setup import init_home
from hub.production import executor, held, imports, jobs, products, publishing
from hub.production.rules import ProductionRules
from hub.refusals import AccessDenied, BadRequest, Conflict, RateLimited
from hub.review import lifecycle, lineage, runner
from hub.review.checks import Limits
from hub.settings import build
from hub.web.production_api import job_view
from spawner import seccomp
from tests import leaky_job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the production sandbox runs as root")
HEALTH = "普惠健康险定价"  # alice: medical_visits, industry (people review)
CREDIT = "小微企业普惠信贷评估"  # alice: enterprise_registry without legal_rep_id and address
CARBON = "个人低碳出行积分"  # bob: public governance (jobs approved by policy)
RULES = ProductionRules()

TRAIN = """
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sdk import job
raw = job.dataset("medical_visits").df()
frame = raw.dropna(subset=["age", "gender", "cost"])
x = frame[["age", "gender"]].astype({"age": np.float32})
prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), ["gender"]),
                          ("num", StandardScaler(), ["age"])])
model = make_pipeline(prep, Ridge(alpha=1.0)).fit(x, frame["cost"])
job.save_model(model, sample=x.head(100), target="cost")
job.save_metrics(rows=len(raw), columns=sorted(raw.columns))
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    h = tmp_path_factory.mktemp("production")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=1000)
    bpf = seccomp.write_filter(h / "job.bpf")
    yield h, db, bpf
    db.dispose()


def bundle(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def scenario_of(s, user: str, name: str):
    staff = s.scalars(select(Staff).where(Staff.username == user)).one()
    return staff, s.scalars(
        select(Scenario).where(Scenario.tenant_id == staff.tenant_id, Scenario.name == name)
    ).one()


def job(demo, code: str = TRAIN, *, user="alice", scenario=HEALTH, datasets=("medical_visits",),
        content: bytes | None = None) -> int:  # fmt: skip
    h, db, _ = demo
    meta = {
        "entrypoint": "train.py",
        "datasets": list(datasets),
        "params": {},
        "resources": {"seconds": 60},
    }
    with db.session() as s:
        staff, found = scenario_of(s, user, scenario)
        jobs.validate(meta, jobs.approved_datasets(s, found.id), RULES)
        request = lifecycle.create(s, kind="job", requester=user, tenant_id=staff.tenant_id,
                                   scenario_id=found.id, purpose="训练测试 / training test", name="train", meta=meta)  # fmt: skip
        lifecycle.submit(
            s, request, content or bundle({"train.py": code}), home.domain_store(h), user, ".tar"
        )
        request_id = request.id
    runner.check(db, request_id, home.domain_store(h), Limits(), RULES)
    return request_id


def get(db, request_id: int) -> SimpleNamespace:
    """What a test reads of a request, outside any session."""
    with db.session() as s:
        r = lifecycle.get(s, request_id)
        return SimpleNamespace(
            status=r.status, status_reason=r.status_reason, meta=dict(r.meta), content_path=r.content_path,
            checks=[SimpleNamespace(name=c.name, verdict=c.verdict, reason=c.reason) for c in r.checks],
        )  # fmt: skip


def approve(db, request_id: int, *reviewers: str, **kw) -> None:
    for reviewer in reviewers:
        with db.session() as s:
            lifecycle.decide(s, request_id, reviewer, "approve", "核对无误 / checked", **kw)


def act(demo, request_id: int) -> str | None:
    h, db, bpf = demo
    return executor.act(db, request_id, home.domain_store(h), RULES, Limits(), bpf)


@pytest.fixture(scope="module")
def trained(demo):
    request_id = job(demo)
    approve(demo[1], request_id, "rita", "ryan")
    assert act(demo, request_id) == "succeeded"
    return request_id


def test_when_an_approved_job_runs_then_it_reads_every_raw_row_of_the_approved_columns(
    demo, trained
):
    run = get(demo[1], trained).meta["run"]
    assert run["exit_code"] == 0 and run["metrics"]["rows"] == 1000
    assert run["inputs"][0]["dataset"] == "medical_visits" and len(run["inputs"][0]["sha256"]) == 64
    assert {o["name"] for o in run["outputs"]} == {"model.onnx", "metrics.json"}
    assert run["withheld"] == [] and run["suppressed"] == []  # nothing to hold back
    with demo[1].session() as s:
        metered = s.scalars(select(MeterEvent).where(MeterEvent.kind == "job_seconds")).all()
    assert [e.details["request"] for e in metered] == [trained]


def test_when_a_dataset_list_leaves_out_columns_then_the_job_never_reads_them(demo):
    code = "from sdk import job\njob.save_metrics(columns=sorted(job.dataset('enterprise_registry').columns))\n"
    request_id = job(demo, code, scenario=CREDIT, datasets=("enterprise_registry",))
    approve(demo[1], request_id, "rita", "ryan")
    assert act(demo, request_id) == "succeeded"
    seen = get(demo[1], request_id).meta["run"]["metrics"]["columns"]
    assert "legal_rep_id" not in seen and "address" not in seen and "uscc" in seen


def test_when_a_job_is_not_yet_approved_then_the_production_zone_does_not_run_it(demo):
    request_id = job(demo)
    assert get(demo[1], request_id).status == "in_review"
    assert act(demo, request_id) is None
    assert get(demo[1], request_id).status == "in_review"


def test_when_a_public_governance_job_passes_every_check_then_policy_approves_it(demo):
    code = "from sdk import job\njob.save_metrics(rows=len(job.dataset('transit_trips').df()))\n"
    request_id = job(demo, code, user="bob", scenario=CARBON, datasets=("transit_trips",))
    request = get(demo[1], request_id)
    assert request.status == "approved"
    with demo[1].session() as s:
        assert [(d.reviewer, d.decision) for d in lifecycle.get(s, request_id).decisions] == [
            ("platform", "approve")
        ]
    assert act(demo, request_id) == "succeeded"


def test_when_a_public_governance_job_has_a_warning_then_a_person_reviews_it(demo):
    code = "import socket\nsocket.create_connection(('127.0.0.1', 9))\n"
    request_id = job(demo, code, user="bob", scenario=CARBON, datasets=("transit_trips",))
    request = get(demo[1], request_id)
    assert request.status == "in_review"
    assert {c.name: c.verdict for c in request.checks}["code_scan"] == "warn"


def test_when_the_requester_or_a_colleague_approves_a_job_then_it_is_refused(demo):
    request_id = job(demo)
    with pytest.raises(AccessDenied) as caught:
        approve(demo[1], request_id, "alice")
    assert caught.value.code in ("not_reviewer", "self_review")
    approve(demo[1], request_id, "rita")
    with pytest.raises(Conflict) as caught:
        approve(demo[1], request_id, "rita")
    assert caught.value.code == "same_reviewer"


def test_when_the_code_changes_after_approval_then_the_job_fails_without_running(demo):
    request_id = job(demo)
    approve(demo[1], request_id, "rita", "ryan")
    path = get(demo[1], request_id).content_path
    os.chmod(path, 0o600)
    with open(path, "wb") as f:
        f.write(bundle({"train.py": "print('swapped')"}))
    assert act(demo, request_id) == "failed"
    request = get(demo[1], request_id)
    assert "differs" in request.status_reason and "exit_code" not in request.meta["run"]


def test_when_the_tenant_is_suspended_then_its_approved_jobs_wait(demo):
    request_id = job(demo)
    approve(demo[1], request_id, "rita", "ryan")
    name = world.TENANTS[0]["name"]
    with demo[1].session() as s:
        tenants.change_status(Ctx(session=s, actor="test"), name, "suspend", "抽查 / check")
    try:
        assert act(demo, request_id) is None and get(demo[1], request_id).status == "approved"
    finally:
        with demo[1].session() as s:
            tenants.change_status(Ctx(session=s, actor="test"), name, "reinstate", "恢复 / ok")
    assert act(demo, request_id) == "succeeded"


def test_when_a_job_names_an_unapproved_dataset_or_too_much_then_it_is_refused_at_submit(demo):
    with pytest.raises(BadRequest) as caught:
        job(demo, datasets=("transit_trips",))
    assert caught.value.code == "dataset_not_approved"
    with demo[1].session() as s:
        _, found = scenario_of(s, "alice", HEALTH)
        approved = jobs.approved_datasets(s, found.id)
    for resources in (
        {"cpus": 64},
        {"memory_gb": 512},
        {"seconds": 10**7},
        {"gpus": 1},
        {"cpus": "many"},
    ):
        meta = {"entrypoint": "t.py", "datasets": ["medical_visits"], "resources": resources}
        with pytest.raises(BadRequest) as caught:
            jobs.validate(meta, approved, RULES)
        assert caught.value.code == "resources" and "/" in str(caught.value.msg)
    for entry in ("/etc/x.py", "../x.py", "x.sh", ""):
        with pytest.raises(BadRequest):
            jobs.validate({"entrypoint": entry, "datasets": ["medical_visits"]}, approved, RULES)


@pytest.mark.parametrize("member", ["/abs.py", "../up.py", "link"])
def test_when_a_bundle_holds_an_unsafe_member_then_it_is_refused(member):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
            tar.addfile(info)
        else:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(BadRequest) as caught:
        jobs.read_bundle(out.getvalue(), RULES)
    assert caught.value.code == "bundle"
    with pytest.raises(BadRequest):
        jobs.read_bundle(b"not a tar at all", RULES)


def test_when_the_service_restarts_then_an_interrupted_job_runs_again(demo):
    request_id = job(demo)
    approve(demo[1], request_id, "rita", "ryan")
    with demo[1].session() as s:
        lifecycle.move(s, lifecycle.get(s, request_id), lifecycle.RUNNING)
    assert request_id in executor.recover(demo[1])
    assert request_id in executor.pending(demo[1])
    assert act(demo, request_id) == "succeeded"


def publish(demo, job_id: int, product: str, card: dict | None = None) -> int:
    h, db, _ = demo
    card = card or {"intended_use": "保险定价参考 / pricing reference", "data": "medical visits raw rows",
                    "metrics": {"rmse": 1}, "limits": "不用于个人决策 / not for individuals"}  # fmt: skip
    with db.session() as s:
        staff, _ = scenario_of(s, "alice", HEALTH)
        found, content = publishing.artifact(
            s, home.domain_store(h), job_id, staff.tenant_id, "model.onnx"
        )
        request = lifecycle.create(
            s, kind="model", requester="alice", tenant_id=staff.tenant_id, scenario_id=found.scenario_id,
            purpose="发布 / publish", name=products.check_name(s, product),
            meta={"job": job_id, "product": product, "card": card, "dataset": "medical_visits"},
        )  # fmt: skip
        lifecycle.submit(s, request, content, home.domain_store(h), "alice", ".onnx")
        request_id = request.id
    runner.check(db, request_id, home.domain_store(h), Limits(), RULES)
    return request_id


@pytest.fixture(scope="module")
def product(demo, trained):
    request_id = publish(demo, trained, "visit-cost")
    approve(demo[1], request_id, "rita", "ryan")
    assert act(demo, request_id) == "published"
    with demo[1].session() as s:
        staff, _ = scenario_of(s, "alice", HEALTH)
        key = products.issue_key(
            s, products.get(s, "visit-cost"), staff.tenant_id, "alice", "测试使用方"
        )
    return key


def test_when_a_key_is_issued_then_only_its_digest_is_kept_and_it_opens_its_product_only(
    demo, product
):
    with demo[1].session() as s:
        stored = s.scalars(select(ProductKey)).all()
        assert product not in {k.key_sha256 for k in stored}
        assert hashlib.sha256(product.encode()).hexdigest() in {k.key_sha256 for k in stored}
        found, _ = products.admit_key(s, "visit-cost", product, None)
        answer, _ = products.answer(s, found, "score", {"records": [{"age": 40, "gender": "男"}]},
                                 home.domain_store(demo[0]), 10)  # fmt: skip
        assert len(answer["answers"]) == 1
        for key, scenario, code in [
            ("shuyu_pk_forged", None, "bad_product_key"),
            (product, CREDIT, "wrong_scenario"),
        ]:
            with pytest.raises(AccessDenied) as caught:
                products.admit_key(s, "visit-cost", key, scenario)
            assert caught.value.code == code
        with pytest.raises(BadRequest):
            products.answer(
                s, found, "score", {"records": [{"age": 1}] * 11}, home.domain_store(demo[0]), 10
            )
        with pytest.raises(BadRequest) as caught:  # a score found by ID: every route refuses it
            products.answer(
                s, found, "score", {"keys": ["330106199001011234"]}, home.domain_store(demo[0]), 10
            )
        assert caught.value.code == "score_by_key" and "verify" in str(caught.value.msg)


def test_when_bob_issues_a_key_to_alices_product_or_a_key_is_revoked_then_it_is_refused(
    demo, product
):
    with demo[1].session() as s:
        bob, _ = scenario_of(s, "bob", CARBON)
        found = products.get(s, "visit-cost")
        with pytest.raises(AccessDenied):
            products.issue_key(s, found, bob.tenant_id, "bob", "我自己")
        alice, _ = scenario_of(s, "alice", HEALTH)
        spare = products.issue_key(s, found, alice.tenant_id, "alice", "临时使用方")
    with demo[1].session() as s:
        products.revoke_key(s, products.get(s, "visit-cost"), alice.tenant_id, "alice", spare[:12])
    with demo[1].session() as s, pytest.raises(AccessDenied):
        products.admit_key(s, "visit-cost", spare, None)


def test_when_a_consumers_key_passes_its_limits_then_calls_are_refused_with_the_reason(
    demo, product
):
    tight = ProductionRules(product_calls_per_minute=3, product_records_per_day=5)
    with demo[1].session() as s:
        bob, _ = scenario_of(s, "bob", CARBON)
        found, key = products.admit_key(s, "visit-cost", product, None)
        caller = SimpleNamespace(tenant_id=bob.tenant_id, username="bob")
        for _ in range(2):  # 2 + 2 records
            products.admit_call(s, key, 2, tight)
            products.record_call(s, found, key, caller, "score", 2, 0, False, tight)
        with pytest.raises(RateLimited) as caught:
            products.admit_call(s, key, 2, tight)  # 6 > 5 records in 24 hours
        assert caught.value.code == "daily_quota" and caught.value.status == 429
        products.admit_call(s, key, 1, tight)
        products.record_call(s, found, key, caller, "score", 1, 0, False, tight)
        with pytest.raises(RateLimited) as caught:
            products.admit_call(s, key, 0, tight)  # a fourth call within the minute
        assert caught.value.code == "rate_limited"
        s.rollback()


IDENTITY = """
import numpy as np
from sklearn.linear_model import LinearRegression
from sdk import job
frame = job.dataset("medical_visits").df()
frame = frame.dropna(subset=["age", "cost"])
x = frame[["age"]].astype(np.float32)
model = LinearRegression().fit(x, frame["cost"])
job.save_model(model, sample=x.head(100), target="cost",
               key={"dataset": "medical_visits", "column": "patient_id"})
"""


def test_when_a_keyed_model_is_a_function_of_one_raw_attribute_then_publishing_fails(demo):
    job_id = job(demo, IDENTITY)
    approve(demo[1], job_id, "rita", "ryan")
    assert act(demo, job_id) == "succeeded"
    request_id = publish(demo, job_id, "age-by-key")
    checks = {c.name: c.verdict for c in get(demo[1], request_id).checks}
    assert checks["keyed_identity"] == "fail"
    with demo[1].session() as s, pytest.raises(Conflict, match="checks"):
        lifecycle.decide(s, request_id, "rita", "approve", "看起来不错 / looks fine")


LIGHTGBM = """
import lightgbm
import numpy as np
from sdk import job
frame = job.dataset("medical_visits").df()
x = frame[["age"]].astype(np.float32)
model = lightgbm.LGBMRegressor(n_estimators=30, num_leaves=8, verbose=-1).fit(x, frame["cost"])
job.save_model(model, sample=x.head(100), target="cost")
job.save_metrics(at_40=round(float(model.predict(np.array([[40.0]], dtype=np.float32))[0]), 3))
"""


def test_when_a_lightgbm_model_is_trained_in_a_job_then_its_product_scores_as_it_did_there(demo):
    job_id = job(demo, LIGHTGBM)
    approve(demo[1], job_id, "rita", "ryan")
    assert act(demo, job_id) == "succeeded"
    expected = get(demo[1], job_id).meta["run"]["metrics"]["at_40"]
    request_id = publish(demo, job_id, "visit-cost-gbm")
    checks = {c.name: c.verdict for c in get(demo[1], request_id).checks}
    assert checks["model_format"] == checks["membership_inference"] == "pass", checks
    assert checks["model_numbers"] == checks["model_data_strings"] == "pass", checks
    approve(demo[1], request_id, "rita", "ryan")
    assert act(demo, request_id) == "published"
    with demo[1].session() as s:
        found = products.get(s, "visit-cost-gbm")
        assert products.model_of(found).summary().trees == 30
        answer, _ = products.answer(s, found, "score", {"records": [{"age": 40}]},
                                    home.domain_store(demo[0]), 10)  # fmt: skip
    assert answer["answers"][0] == pytest.approx(expected, abs=1e-2)


def test_when_the_products_tenant_is_suspended_then_the_product_is_paused(demo, product):
    name = world.TENANTS[0]["name"]
    with demo[1].session() as s:
        tenants.change_status(Ctx(session=s, actor="test"), name, "suspend", "抽查 / check")
    try:
        with demo[1].session() as s, pytest.raises(Conflict) as caught:
            products.admit_key(s, "visit-cost", product, None)
        assert caught.value.code == "product_paused"
    finally:
        with demo[1].session() as s:
            tenants.change_status(Ctx(session=s, actor="test"), name, "reinstate", "恢复 / ok")


def test_when_a_product_name_is_taken_or_a_card_is_thin_then_publishing_says_so(
    demo, trained, product
):
    with demo[1].session() as s, pytest.raises(Conflict):
        products.check_name(s, "visit-cost")
    request_id = publish(demo, trained, "visit-cost-thin", {"intended_use": "x"})
    checks = {c.name: c.verdict for c in get(demo[1], request_id).checks}
    assert checks["model_card"] == "fail" and checks["membership_inference"] == "pass"


def test_when_an_import_is_approved_then_its_scenario_has_it_with_identifiers_marked(demo):
    h, db, _ = demo
    frame = pd.DataFrame({"mobile": [f"1380013{i:04d}" for i in range(50)], "score": range(50)})
    content = frame.to_csv(index=False).encode()
    with pytest.raises(BadRequest):
        imports.read(b"\x00\x01garbage", "parquet")
    with db.session() as s:
        staff, found = scenario_of(s, "alice", HEALTH)
        request = lifecycle.create(s, kind="import", requester="alice", tenant_id=staff.tenant_id,
                                   scenario_id=found.id, purpose="外部数据 / external", name="phones",
                                   meta={"format": "csv"})  # fmt: skip
        lifecycle.submit(s, request, content, home.domain_store(h), "alice", ".csv")
        request_id = request.id
    runner.check(db, request_id, home.domain_store(h), Limits(), RULES)
    checks = {c.name: c.verdict for c in get(db, request_id).checks}
    assert checks["pii_scan"] == "fail"
    with pytest.raises(Conflict):
        approve(db, request_id, "rita")
    approve(db, request_id, "rita", "ryan", override=True)
    assert act(demo, request_id) == "imported"
    name = get(db, request_id).meta["dataset"]
    with db.session() as s:
        dataset = jobs.approved_datasets(s, found.id)[name]
        assert {c["name"]: c["pii"] for c in dataset.schema} == {"mobile": "mobile", "score": None}
        assert dataset.rows == 50
    code = f"from sdk import job\njob.save_metrics(rows=len(job.dataset({name!r}).df()))\n"
    job_id = job(demo, code, datasets=(name,))  # jobs of the scenario read it raw
    approve(db, job_id, "rita", "ryan")
    assert act(demo, job_id) == "succeeded"
    assert get(db, job_id).meta["run"]["metrics"]["rows"] == 50


def test_when_production_rules_are_configured_then_typos_are_refused():
    assert build(production_rules={"mia_max_auc": 0.7}).production_rules.mia_max_auc == 0.7
    with pytest.raises(ValueError, match="unknown setting mia_max_acu in production_rules"):
        build(production_rules={"mia_max_acu": 0.7})
    with pytest.raises(ValueError):
        build(production_rules={"mia_max_auc": 2})


def test_when_a_model_changes_after_approval_then_publishing_fails_once_with_the_reason(
    demo, trained
):
    request_id = publish(demo, trained, "visit-cost-swapped")
    approve(demo[1], request_id, "rita", "ryan")
    path = get(demo[1], request_id).content_path
    os.chmod(path, 0o600)
    with open(path, "a") as f:
        f.write(" ")
    assert act(demo, request_id) == "failed"
    assert "differs" in get(demo[1], request_id).status_reason
    assert request_id not in executor.pending(demo[1])
    with demo[1].session() as s, pytest.raises(Exception, match="visit-cost-swapped"):
        products.get(s, "visit-cost-swapped")


def test_when_a_scenario_is_revoked_then_its_products_pause_and_its_jobs_do_not_run(demo, product):
    from hub.db.models import ScenarioStatus
    from hub.ops import org

    request_id = job(demo)
    approve(demo[1], request_id, "rita", "ryan")
    with demo[1].session() as s:
        org.revoke_scenario(
            Ctx(session=s, actor="adam"),
            world.TENANTS[0]["name"],
            HEALTH,
            "用途变更 / purpose changed",
        )
    try:
        with demo[1].session() as s, pytest.raises(Conflict) as caught:
            products.admit_key(s, "visit-cost", product, None)
        assert caught.value.code == "product_paused"
        assert act(demo, request_id) == "failed"
        assert "revoked" in get(demo[1], request_id).status_reason
    finally:
        with demo[1].session() as s:
            _, found = scenario_of(s, "alice", HEALTH)
            found.status = ScenarioStatus.APPROVED


@pytest.fixture(scope="module")
def leaky(demo):
    """bob's public-governance job writing raw holder IDs everywhere, approved by policy."""
    request_id = job(demo, leaky_job.CODE, user="bob", scenario=CARBON, datasets=("transit_trips",))
    assert get(demo[1], request_id).status == "approved"  # by policy: no person read the code
    assert act(demo, request_id) == "succeeded"
    store = home.domain_store(demo[0])
    with demo[1].session() as s:
        _, found = scenario_of(s, "bob", CARBON)
        dataset = jobs.approved_datasets(s, found.id)["transit_trips"]
        path, rows = store / dataset.path, dataset.rows
    return request_id, leaky_job.raw_ids(path), rows


def tenant_view(demo, request_id: int) -> tuple[dict, str]:
    """What the gateway gives the job's tenant: the job's view, its log and its lineage."""
    with demo[1].session() as s:
        request = lifecycle.get(s, request_id)
        view, trail = job_view(request), lineage.trace(s, request)
    log = (home.domain_store(demo[0]) / "jobs" / str(request_id) / "released.log").read_text()
    return view, leaky_job.tenant_side(view, log, trail)


def test_when_a_policy_approved_job_writes_raw_ids_everywhere_then_its_tenant_reads_none(
    demo, leaky
):
    request_id, values, rows = leaky
    raw_log = (home.domain_store(demo[0]) / "jobs" / str(request_id) / "log.txt").read_text()
    assert leaky_job.leaks(raw_log, values) == values  # the job did write every one of them
    view, seen = tenant_view(demo, request_id)
    assert leaky_job.leaks(seen, values) == []
    assert [f for f in leaky_job.hidden_forms(values) if f in seen] == []
    run = view["run"]
    assert run["metrics"]["rows"] == rows and run["metrics"]["auc"] == 0.73  # still flow
    assert run["metrics"]["tiny_float"] is None and "$.tiny_float" in run["suppressed"]
    names = [o["name"] for o in run["outputs"]]
    assert "metrics.json" in names and sum(n.startswith("output-") for n in names) == 16
    assert {w["what"] for w in run["withheld"]} == {"log", "metric", "output"}
    assert all(w["reason_zh"] and w["reason_en"] for w in run["withheld"])
    assert "files" not in run and "held" not in run


def test_when_a_reviewer_releases_what_was_withheld_then_the_tenant_sees_it_audited(demo, leaky):
    request_id, values, _ = leaky
    store = home.domain_store(demo[0])
    for who, code in (("bob", "not_reviewer"), ("tony", "not_reviewer")):
        with demo[1].session() as s, pytest.raises(AccessDenied) as caught:
            held.release(s, request_id, who, "放行 / release", store)
        assert caught.value.code in (code, "self_review", "same_tenant")
    with demo[1].session() as s:
        held.release(s, request_id, "rita", "已核实为测试编号 / checked", store)
    view, seen = tenant_view(demo, request_id)
    assert view["run"]["withheld"] == [] and values[0] in view["run"]["metrics"]
    assert f"{values[0]}.parquet" in [o["name"] for o in view["run"]["outputs"]]
    assert ".".join(values[0]) in seen  # the dotted line, as the job wrote it
    with demo[1].session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "request.withheld_released",
                                                   AuditEvent.object == f"request:{request_id}")).one()  # fmt: skip
        assert event.actor == "rita" and values[0] not in event.details
    with demo[1].session() as s, pytest.raises(Conflict):
        held.release(s, request_id, "ryan", "再次 / again", store)


# Seven made-up feature names, each long: none is a column of the data list.
UNLISTED = """
import numpy as np, pandas as pd
from sklearn.linear_model import LinearRegression
from sdk import job
frame = job.dataset("medical_visits").df().dropna(subset=["age", "cost"])
x = pd.DataFrame({f"column_{i}_" + "x" * 60: frame["age"].astype(np.float32) + i for i in range(7)})
job.save_model(LinearRegression().fit(x, frame["cost"]), sample=x.head(100), target="cost")
"""


def test_when_a_model_reads_columns_outside_the_data_list_then_publishing_fails_naming_a_few(demo):
    job_id = job(demo, UNLISTED)
    approve(demo[1], job_id, "rita", "ryan")
    assert act(demo, job_id) == "succeeded"
    request_id = publish(demo, job_id, "unlisted-columns")
    found = {c.name: c for c in get(demo[1], request_id).checks}
    assert found["model_columns"].verdict == "fail"
    reason = found["model_columns"].reason
    assert "column_0_" + "x" * 30 in reason and "(+2)" in reason  # five shown, cut short
    assert "x" * 60 not in reason and "column_6_" not in reason
