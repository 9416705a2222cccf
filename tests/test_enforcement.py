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


class RecordingHub:
    """The hub's REST API as the enforcer sees it (the network boundary): who runs what."""

    def __init__(self, servers: dict[str, list[str]]):
        self.servers = servers
        self.listed = 0
        self.stops: list[tuple[str, str]] = []

    def active_servers(self) -> dict[str, list[str]]:
        self.listed += 1
        return {u: list(s) for u, s in self.servers.items() if s}

    def stop(self, username: str, server: str) -> None:
        self.stops.append((username, server))
        self.servers[username].remove(server)


def test_when_nothing_changes_then_the_enforcer_asks_the_hub_only_at_its_sweep(demo):
    from hub.web.enforcer import Enforcer

    hub = RecordingHub({"alice": [""], "bob": [""]})
    enforcer = Enforcer(demo, hub, sweep_seconds=3600)
    assert enforcer.tick() == [] and hub.listed == 1  # the first round is a sweep
    for _ in range(5):
        assert enforcer.tick() == []
    assert hub.listed == 1 and hub.stops == []


def test_when_a_company_is_suspended_then_the_next_round_stops_and_audits_its_servers(demo):
    from hub.db.models import AuditEvent
    from hub.web.enforcer import Enforcer

    hub = RecordingHub({"alice": ["", "lab"], "bob": [""]})
    enforcer = Enforcer(demo, hub, sweep_seconds=3600)
    enforcer.tick()
    with demo.session() as s:
        tenants.change_status(
            Ctx(session=s, actor="adam"), world.TENANTS[0]["name"], "suspend", "抽查 / check"
        )
    stopped = enforcer.tick()
    assert sorted(stopped) == [
        ("alice", "", "tenant_suspended"),
        ("alice", "lab", "tenant_suspended"),
    ]
    assert hub.stops == [("alice", ""), ("alice", "lab")] and hub.servers["bob"] == [""]
    with demo.session() as s:
        enforced = s.scalars(select(AuditEvent).where(AuditEvent.action == "admission.enforced"))
        assert sorted(e.object for e in enforced) == ["server:alice/default", "server:alice/lab"]
    listed = hub.listed
    assert enforcer.tick() == [] and hub.listed == listed  # handled: no more hub calls
    with demo.session() as s:  # reinstated, then suspended again: news again
        ctx = Ctx(session=s, actor="adam")
        tenants.change_status(ctx, world.TENANTS[0]["name"], "reinstate", "整改 / remedied")
    enforcer.tick()
    hub.servers["alice"] = [""]
    with demo.session() as s:
        ctx = Ctx(session=s, actor="adam")
        tenants.change_status(ctx, world.TENANTS[0]["name"], "suspend", "再犯 / again")
    assert enforcer.tick() == [("alice", "", "tenant_suspended")]


def test_when_a_stop_fails_then_the_next_round_tries_again(demo):
    from hub.web.enforcer import Enforcer

    class FlakyHub(RecordingHub):
        fail = True

        def stop(self, username, server):
            if self.fail:
                self.fail = False
                raise ConnectionError("hub restarting")
            super().stop(username, server)

    hub = FlakyHub({"alice": [""]})
    enforcer = Enforcer(demo, hub, sweep_seconds=3600)
    enforcer.tick()
    with demo.session() as s:
        tenants.change_status(
            Ctx(session=s, actor="adam"), world.TENANTS[0]["name"], "suspend", "抽查 / check"
        )
    with pytest.raises(ConnectionError):
        enforcer.tick()
    assert enforcer.tick() == [("alice", "", "tenant_suspended")]
