"""Who is refused today, and the 90/30/7-day agreement reminders."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub.auth.notices import notice_for
from hub.db.models import Agreement, AgreementStatus, Staff, Tenant, TenantStatus
from hub.demo import world
from hub.ops import Ctx, tenants
from hub.ops.agreements import renew
from hub.ops.enforcement import refused_staff, reminder_for, reminders


@pytest.fixture
def demo(shuyu_home, db):
    world.build(shuyu_home, db, rows=50)
    return db


def company(s, index: int = 0) -> Tenant:
    return s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[index]["name"])).one()


def test_when_a_company_is_suspended_then_all_its_processors_are_refused_and_no_one_else(demo):
    with demo.session() as s:
        before = refused_staff(s, date.today())
        tenants.change_status(
            Ctx(session=s, actor="adam"), world.TENANTS[0]["name"], "suspend", "抽查 / check"
        )
    with demo.session() as s:
        after = refused_staff(s, date.today())
        colleagues = {
            x.username for x in s.scalars(select(Staff).where(Staff.tenant_id == company(s).id))
        }
    assert {u: c for u, c in after.items() if u not in before} == {
        u: "tenant_suspended" for u in colleagues if u not in before
    }
    assert "alice" in after and "alice" not in before and "bob" not in after


@pytest.mark.parametrize(
    "days, threshold", [(91, None), (90, 90), (31, 90), (30, 30), (8, 30), (7, 7), (0, 7)]
)
def test_when_the_end_nears_then_the_reminder_is_the_smallest_threshold_passed(days, threshold):
    end = date(2029, 6, 30)
    tenant = Tenant(name="杭州提醒测试有限公司", uscc="x", status=TenantStatus.ACTIVE, agreements=[
        Agreement(id=1, start=date(2026, 7, 1), end=end, signed_on=date(2026, 7, 1), status=AgreementStatus.ACTIVE)
    ])  # fmt: skip
    found = reminder_for(tenant, end - timedelta(days=days))
    assert (found.threshold if found else None) == threshold
    if found:
        assert found.days_left == days and "/" in str(found.message)


def test_when_an_agreement_is_renewed_then_no_reminder_is_due(demo):
    with demo.session() as s:
        end = company(s).agreements[0].end
        ctx = Ctx(session=s, actor="adam", today=end - timedelta(days=10))
        renew(ctx, world.TENANTS[0]["name"])
    with demo.session() as s:
        assert reminder_for(company(s), end - timedelta(days=10)) is None
        assert all(
            r.tenant != world.TENANTS[0]["name"] for r in reminders(s, end - timedelta(days=10))
        )


def test_when_pages_are_rendered_then_staff_see_their_company_and_admins_every_reminder(
    demo, db_url
):
    with demo.session() as s:
        end = company(s).agreements[0].end
    day = end - timedelta(days=5)
    alice = notice_for(db_url, "alice", day)
    assert "还剩 5 天" in alice and "5 days left" in alice
    admin = notice_for(db_url, "adam", day)
    assert "agreements end within 90 days" in admin and "份协议将在 90 天内到期" in admin
    assert notice_for(db_url, "rita", day) == ""
    assert notice_for(db_url, "nobody", day) == ""
