"""Onboarding in the programme's order, and every step out of order refused with its reason."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub import admission
from hub.db.models import AuditEvent, Tenant
from hub.i18n import UserError
from hub.ops import Ctx, onboarding
from hub.validators import uscc_check_char

USCC = "91330106MA2QNB017" + uscc_check_char("91330106MA2QNB017")
ALL = dict.fromkeys(onboarding.CHECKLIST, True)


def ctx(s) -> Ctx:
    return Ctx(session=s, actor="adam")


@pytest.fixture
def notice(db):
    with db.session() as s:
        return onboarding.publish(
            ctx(s), "金融", "2027 年度普惠金融领域授权运营", date.today() + timedelta(days=30)
        ).id


def applied(db, notice_id: int) -> int:
    with db.session() as s:
        return onboarding.apply(ctx(s), notice_id, "杭州准入测试科技有限公司", USCC, "王安全").id


def test_when_a_company_goes_through_every_step_then_it_is_a_qualified_tenant_with_an_agreement(
    db, notice
):
    app_id = applied(db, notice)
    with db.session() as s:
        onboarding.review_qualification(ctx(s), app_id, ALL)
        for expert, value in (("李专家", 80), ("张专家", 72), ("赵专家", 65)):
            onboarding.score(ctx(s), app_id, expert, value)
        onboarding.decide(ctx(s), app_id, True, "材料齐全，评分合格 / complete and scored")
        onboarding.sign(ctx(s), app_id)
    with db.session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.uscc == USCC)).one()
        agreement = admission.current_agreement(tenant, date.today())
        assert tenant.qualification.value == "qualified" and agreement is not None
        assert (agreement.end - agreement.start).days in (1095, 1096)  # three years, less a day
        steps = [
            e.action
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.action.startswith("onboarding."))
            )
        ]
    assert steps == ["onboarding.notice", "onboarding.apply", "onboarding.qualification",
                     *["onboarding.score"] * 3, "onboarding.decision", "onboarding.sign"]  # fmt: skip


def test_when_a_condition_fails_then_the_application_is_unqualified_and_cannot_be_scored(
    db, notice
):
    app_id = applied(db, notice)
    with db.session() as s:
        app = onboarding.review_qualification(
            ctx(s), app_id, {**ALL, "not_dishonest": False, "dcmm3": False}
        )
        assert app.status == "unqualified" and [k for k, ok in app.checklist.items() if not ok] == [
            "not_dishonest",
            "dcmm3",
        ]
        with pytest.raises(UserError, match="this step does not apply"):
            onboarding.score(ctx(s), app_id, "李专家", 90)


@pytest.mark.parametrize(
    "scores, why", [((80, 70), "at least 3 experts"), ((50, 55, 60), "below 60")]
)
def test_when_the_experts_are_too_few_or_too_low_then_approval_is_refused(db, notice, scores, why):
    app_id = applied(db, notice)
    with db.session() as s:
        onboarding.review_qualification(ctx(s), app_id, ALL)
        for i, value in enumerate(scores):
            onboarding.score(ctx(s), app_id, f"专家{'甲乙丙'[i]}", value)
        with pytest.raises(UserError, match=why):
            onboarding.decide(ctx(s), app_id, True, "批准 / approve")


def test_when_steps_are_skipped_or_repeated_then_they_are_refused(db, notice):
    app_id = applied(db, notice)
    with db.session() as s:
        with pytest.raises(UserError, match="this step does not apply"):
            onboarding.sign(ctx(s), app_id)  # not approved
        with pytest.raises(UserError, match="already applied"):
            onboarding.apply(ctx(s), notice, "杭州准入测试科技有限公司", USCC, "王安全")
        onboarding.review_qualification(ctx(s), app_id, ALL)
        onboarding.score(ctx(s), app_id, "李专家", 80)
        with pytest.raises(UserError, match="already scored"):
            onboarding.score(ctx(s), app_id, "李专家", 90)
        with pytest.raises(UserError, match="between 0 and 100"):
            onboarding.score(ctx(s), app_id, "张专家", 101)


def test_when_a_notice_has_closed_then_no_application_is_taken(db):
    with db.session() as s:
        with pytest.raises(UserError, match="before today"):
            onboarding.publish(ctx(s), "金融", "过期公告", date.today() - timedelta(days=1))
        late = onboarding.publish(ctx(s), "金融", "今日截止", date.today())
        closed = Ctx(session=s, actor="adam", today=date.today() + timedelta(days=1))
        with pytest.raises(UserError, match="closed"):
            onboarding.apply(closed, late.id, "杭州晚到科技有限公司", USCC, "王安全")
