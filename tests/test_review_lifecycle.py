"""The request lifecycle: the whole path of an export, and every forbidden move refused."""

from __future__ import annotations

import hashlib
import io
import json
import os

import pandas as pd
import pytest
from sqlalchemy import select

from hub import audit, home
from hub.db.engine import Database
from hub.db.models import AuditEvent, MeterEvent, Scenario, Staff
from hub.demo import world
from hub.ops import Ctx, tenants
from hub.ops.setup import init_home
from hub.refusals import AccessDenied, BadRequest, Conflict
from hub.review import lifecycle, runner

HEALTH = "普惠健康险定价"  # alice's scenario on medical_visits (level 4: two reviewers)
CREDIT = "小微企业普惠信贷评估"  # enterprise registry (2) and tax records (3): two reviewers too


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    h = tmp_path_factory.mktemp("review")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=1000)
    yield h, db
    db.dispose()


def table(n=(120, 85, 64, 33)) -> bytes:
    frame = pd.DataFrame({"district": ["上城区", "拱墅区", "西湖区", "滨江区"], "n": list(n)})
    out = io.BytesIO()
    frame.to_parquet(out)
    return out.getvalue()


def submitted(demo, content: bytes = None, scenario: str = HEALTH, requester="alice") -> int:
    h, db = demo
    with db.session() as s:
        alice = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        found = s.scalars(
            select(Scenario).where(Scenario.tenant_id == alice.tenant_id, Scenario.name == scenario)
        ).one()
        request = lifecycle.create(
            s, kind="export", requester=requester, tenant_id=alice.tenant_id,
            scenario_id=found.id, purpose="区县就诊人数统计 / visits by district", name="by-district",
        )  # fmt: skip
        lifecycle.submit(s, request, content or table(), home.domain_store(h), requester)
        request_id = request.id
    runner.check(db, request_id, home.domain_store(h))
    return request_id


def status(db, request_id) -> str:
    with db.session() as s:
        return lifecycle.get(s, request_id).status


def decide(db, request_id, reviewer, decision="approve", reason="可以发布 / fine", **kw):
    with db.session() as s:
        return lifecycle.decide(s, request_id, reviewer, decision, reason, **kw).status


def test_when_an_export_goes_the_whole_way_then_the_download_is_the_approved_content(demo):
    h, db = demo
    content = table()
    request_id = submitted(demo, content)
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        assert request.status == "in_review" and request.approvals_needed == 2
        assert {c.name: c.verdict for c in request.checks} == {
            "pii_scan": "pass", "raw_overlap": "pass", "sdc": "pass", "differencing": "pass",
            "limits": "pass", "record_level": "pass",
        }  # fmt: skip
        assert request.content_sha256 == hashlib.sha256(content).hexdigest()
        assert oct(os.stat(request.content_path).st_mode & 0o777) == "0o400"
    assert decide(db, request_id, "rita") == "in_review"  # one of two
    assert decide(db, request_id, "ryan") == "approved"
    with db.session() as s:
        request, body = lifecycle.download(s, request_id, "alice")
        assert request.status == "released"
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(content).hexdigest()
    with db.session() as s:
        events = s.scalars(
            select(AuditEvent.action).where(AuditEvent.object == f"request:{request_id}")
        ).all()
        metered = s.scalars(select(MeterEvent).where(MeterEvent.kind == "export_download")).all()
    assert events == [
        "request.create", "request.submitted", "request.checking", "request.in_review",
        "request.approve", "request.approved", "request.released",
    ]  # fmt: skip
    assert any(m.details["request"] == request_id for m in metered)
    assert audit.verify(db.engine).ok


@pytest.mark.parametrize(
    "reviewer, code",
    [
        ("alice", "not_reviewer"),  # a processor
        ("paul", "not_reviewer"),  # a data provider
        ("adam", "not_reviewer"),  # a platform admin
        ("carol", "training"),  # not admitted at all
    ],
)
def test_when_someone_without_the_review_role_decides_then_it_is_refused(demo, reviewer, code):
    request_id = submitted(demo)
    with pytest.raises(AccessDenied) as caught:
        decide(demo[1], request_id, reviewer)
    assert caught.value.code == code
    assert status(demo[1], request_id) == "in_review"


def test_when_a_requester_or_a_colleague_reviews_then_it_is_refused(demo):
    h, db = demo
    request_id = submitted(demo, requester="rita")  # a reviewer's own request (as if)
    with pytest.raises(AccessDenied) as caught:
        decide(db, request_id, "rita")
    assert caught.value.code == "self_review"
    with db.session() as s:  # ryan is attached to alice's company for this test
        ryan = s.scalars(select(Staff).where(Staff.username == "ryan")).one()
        alice = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        ryan.tenant_id = alice.tenant_id
    try:
        with pytest.raises(AccessDenied) as caught:
            decide(db, submitted(demo), "ryan")
        assert caught.value.code == "same_tenant"
    finally:
        with db.session() as s:
            s.scalars(select(Staff).where(Staff.username == "ryan")).one().tenant_id = None


def test_when_one_reviewer_approves_twice_then_the_second_approval_is_refused(demo):
    request_id = submitted(demo)
    decide(demo[1], request_id, "rita")
    with pytest.raises(Conflict) as caught:
        decide(demo[1], request_id, "rita")
    assert caught.value.code == "same_reviewer"
    assert status(demo[1], request_id) == "in_review"


def test_when_content_changes_after_submit_then_approval_and_download_are_refused(demo):
    h, db = demo
    request_id = submitted(demo)
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        with pytest.raises(Conflict):
            lifecycle.submit(s, request, table((1, 2, 3, 4)), home.domain_store(h), "alice")
        path = request.content_path
    decide(db, request_id, "rita")
    os.chmod(path, 0o600)
    with open(path, "wb") as f:
        f.write(table((1, 2, 3, 4)))
    with pytest.raises(Conflict) as caught:
        decide(db, request_id, "ryan")
    assert caught.value.code == "tampered"


def test_when_someone_else_downloads_or_downloads_too_early_then_it_is_refused(demo):
    db = demo[1]
    request_id = submitted(demo)
    with db.session() as s, pytest.raises(Conflict) as caught:
        lifecycle.download(s, request_id, "alice")
    assert caught.value.code == "not_yet_approved"
    decide(db, request_id, "rita")
    decide(db, request_id, "ryan")
    for other in ("bob", "rita"):
        with db.session() as s, pytest.raises(AccessDenied) as caught:
            lifecycle.download(s, request_id, other)
        assert caught.value.code == "not_requester"


def test_when_a_check_fails_then_approval_needs_an_override_which_is_audited(demo):
    db = demo[1]
    request_id = submitted(demo, table((120, 3, 64, 33)))  # a cell of 3 people
    with db.session() as s:
        checks = {c.name: c.verdict for c in lifecycle.get(s, request_id).checks}
    assert checks["sdc"] == "fail"
    with pytest.raises(Conflict) as caught:
        decide(db, request_id, "rita")
    assert caught.value.code == "checks_failed"
    decide(
        db,
        request_id,
        "rita",
        reason="3 为结构性数字，已核实 / structural, verified",
        override=True,
    )
    assert decide(db, request_id, "ryan", override=True) == "approved"
    with db.session() as s:
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.object == f"request:{request_id}",
                AuditEvent.action == "request.approved",
            )
        ).one()
    assert json.loads(event.details)["override"] == ["sdc"]


def test_when_decisions_are_rejected_or_returned_then_they_need_a_reason_and_end_review(demo):
    db = demo[1]
    request_id = submitted(demo)
    with pytest.raises(BadRequest):
        decide(db, request_id, "rita", "reject", reason="")
    assert (
        decide(db, request_id, "rita", "return", reason="请合并小区县 / merge districts")
        == "returned"
    )
    with pytest.raises(Conflict):
        decide(db, request_id, "ryan", "approve")
    with db.session() as s:
        assert lifecycle.withdraw(s, request_id, "alice").status == "withdrawn"
    other = submitted(demo)
    assert decide(db, other, "ryan", "reject", reason="目的不符 / off purpose") == "rejected"
    with db.session() as s, pytest.raises(Conflict):
        lifecycle.withdraw(s, other, "alice")


def test_when_the_tenant_is_suspended_then_its_requests_are_frozen_until_reinstated(demo):
    db = demo[1]
    request_id = submitted(demo)
    name = world.TENANTS[0]["name"]
    with db.session() as s:
        tenants.change_status(Ctx(session=s, actor="test"), name, "suspend", "抽查 / check")
    try:
        with pytest.raises(Conflict) as caught:
            decide(db, request_id, "rita")
        assert caught.value.code == "frozen"
    finally:
        with db.session() as s:
            tenants.change_status(Ctx(session=s, actor="test"), name, "reinstate", "恢复 / ok")
    assert decide(db, request_id, "rita") == "in_review"


def test_when_checks_were_interrupted_then_resume_finishes_them(demo):
    h, db = demo
    with db.session() as s:
        alice = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        scenario = s.scalars(
            select(Scenario).where(Scenario.name == HEALTH, Scenario.tenant_id == alice.tenant_id)
        ).one()
        request = lifecycle.create(s, kind="export", requester="alice", tenant_id=alice.tenant_id,
                                   scenario_id=scenario.id, purpose="中断测试 / interrupted", name="x")  # fmt: skip
        lifecycle.submit(s, request, table(), home.domain_store(h), "alice")
        lifecycle.start_checks(s, request)  # ... and the process died here
        request_id = request.id
    assert request_id in runner.resume(db, home.domain_store(h))
    assert status(db, request_id) == "in_review"


def test_when_a_release_differs_from_an_earlier_one_by_one_person_then_differencing_fails(demo):
    db = demo[1]
    first = submitted(demo, table((200, 150, 120, 90)))
    decide(db, first, "rita")
    decide(db, first, "ryan")
    second = submitted(demo, table((201, 150, 120, 90)))
    with db.session() as s:
        checks = {c.name: c.verdict for c in lifecycle.get(s, second).checks}
    assert checks["differencing"] == "fail"


def test_when_review_rules_are_configured_then_they_are_parsed_and_typos_refused():
    from hub import settings
    from hub.review.checks import Limits

    rules = settings.build(
        review_rules={"policy": {"two_person_level": 4}, "checks": {"min_count": 20}}
    ).review_rules
    assert rules.policy.two_person_level == 4
    assert rules.checks.min_count == 20 and rules.checks.quasi_k == 5
    with pytest.raises(ValueError, match="unknown setting min_cout in review_rules.checks"):
        settings.build(review_rules={"checks": {"min_cout": 20}})
    with pytest.raises(ValueError, match="dominance_n in review_rules.checks"):
        settings.build(review_rules={"checks": {"dominance_n": 3}})
    assert settings.build().review_rules == settings.ReviewRules(
        policy=lifecycle.Policy(), checks=Limits()
    )


def test_when_the_two_person_level_is_raised_then_a_level_4_request_needs_one_reviewer(demo):
    with demo[1].session() as s:
        alice = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        scenario = s.scalars(
            select(Scenario).where(Scenario.name == HEALTH, Scenario.tenant_id == alice.tenant_id)
        ).one()
        request = lifecycle.create(
            s, kind="export", requester="alice", tenant_id=alice.tenant_id,
            scenario_id=scenario.id, purpose="规则测试 / rules", name="r",
            policy=lifecycle.Policy(two_person_level=5),
        )  # fmt: skip
        assert (request.level, request.approvals_needed) == (4, 1)


def test_when_a_request_names_another_companys_scenario_then_it_is_refused(demo):
    with demo[1].session() as s:
        alice = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        bobs = s.scalars(select(Scenario).where(Scenario.tenant_id != alice.tenant_id)).first()
        with pytest.raises(AccessDenied) as caught:
            lifecycle.create(s, kind="export", requester="alice", tenant_id=alice.tenant_id,
                             scenario_id=bobs.id, purpose="越权 / overreach", name="x")  # fmt: skip
    assert caught.value.code == "other_tenant"
