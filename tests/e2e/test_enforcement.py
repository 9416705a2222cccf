"""Agreement lifecycle effects, at once, through the real hub and its enforcer service.

alice has a running server and kernel and an export in review when an admin suspends her
company: the enforcer stops her server, the gateway refuses her token, her request is frozen and
the hub refuses a colleague's login; reinstatement brings it all back. Reminders before expiry
reach the company's staff (the hub's pages and the SDK) and the admins.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pyotp
import pytest
import requests
from sqlalchemy import select

from hub.billing import budget
from hub.db.models import Agreement, AuditEvent, MeterEvent, Tenant
from hub.demo import world
from hub.ops import Ctx, tenants
from hub.refusals import Conflict
from hub.review import lifecycle
from sdk import AccessDenied, Workspace
from sdk import Conflict as Conflict_
from sdk.disclosure import crosstab
from tests.e2e.attack_lab import wait_for
from tests.e2e.conftest import PASSWORD, gateway_url
from tests.e2e.hub_process import Browser, page_text
from tests.e2e.kernel_client import Kernel, user_token

pytestmark = pytest.mark.e2e
COMPANY = world.TENANTS[0]["name"]


def signed_in(hub, user: str) -> Browser:
    proc, _, secrets = hub
    b = Browser(proc.url)
    assert b.login(user, PASSWORD, pyotp.TOTP(secrets[user]).now()).status_code == 302
    return b


@pytest.fixture(scope="module")
def alice(hub) -> tuple[Browser, str]:
    """alice signed in once (a TOTP code is good for one login) with her API token."""
    b = signed_in(hub, "alice")
    return b, user_token(b, hub[0].url, "alice")


def change(db, command: str, reason: str) -> None:
    with db.session() as s:
        tenants.change_status(Ctx(session=s, actor="adam"), COMPANY, command, reason)


def test_when_a_company_is_suspended_mid_work_then_everything_stops_and_reinstatement_restores_it(
    hub, alice
):
    proc, db, secrets = hub
    browser, token = alice
    browser.start_server("alice")
    kernel = Kernel(browser, "alice")
    assert kernel.execute("print(6 * 7)").out.strip() == "42"
    ws = Workspace(gateway_url(hub), token, scenario="普惠健康险定价")
    # counts only: a synthetic magnitude could not be recomputed from raw data (deny by default)
    table = crosstab(pd.DataFrame({"district": ["上城区"] * 40 + ["西湖区"] * 30}), "district")
    request = ws.exports.create(table, purpose="区县费用 / cost by district", name="enforced")
    # The checks service may still be loading its recognizers (a fresh clone on a loaded
    # machine): wait for the checks to end, then see where they put the request.
    assert wait_for(lambda: request.reload().status not in ("submitted", "checking"), 180)
    assert request.status == "in_review", request.status
    headers = {"Authorization": f"token {token}"}  # the hub API's; the server takes the browser

    def server_status() -> int | None:
        """The status of alice's server through the proxy, as her browser sees it; None when no
        answer came (a slow answer on a loaded machine proves nothing either way, so every wait
        keeps waiting)."""
        return browser.server_status("alice")

    def stopped_serving() -> bool:
        return server_status() not in (200, None)

    def serving() -> bool:
        return server_status() == 200

    def enforced() -> list[tuple[str, str]]:
        with db.session() as s:
            events = s.scalars(select(AuditEvent).where(AuditEvent.action == "admission.enforced"))
            return [(e.object, e.reason) for e in events]

    change(db, "suspend", "违规调用接口 / misuse")
    try:
        started = time.monotonic()
        # The enforcer audits its decision before it asks the hub to stop the server.
        assert wait_for(lambda: ("server:alice/default", "tenant_suspended") in enforced(), 30)
        assert wait_for(stopped_serving, 30)
        print(f"server stopped {time.monotonic() - started:.1f} s after the suspension")
        with pytest.raises(AccessDenied) as caught:
            ws.datasets.list()
        assert caught.value.code == "tenant_suspended"
        with db.session() as s, pytest.raises(Conflict) as frozen:
            lifecycle.decide(s, request.id, "rita", "approve", "核对无误 / checked")
        assert frozen.value.code == "frozen"
        refused = Browser(proc.url).login("lucy", PASSWORD, pyotp.TOTP(secrets["lucy"]).now())
        assert refused.status_code == 403 and "暂停" in page_text(refused)

        # The stopped server's time is metered for the fees when the stop completes, which is
        # after its route is gone (JupyterHub removes the route first): wait for the event.
        def metered() -> list[MeterEvent]:
            with db.session() as s:
                return s.scalars(select(MeterEvent).where(MeterEvent.kind == "container_seconds",
                                                          MeterEvent.actor == "alice")).all()  # fmt: skip

        assert wait_for(metered, 60)
        assert metered()[-1].quantity >= 1 and metered()[-1].details["cpus"] == 1.0
    finally:
        change(db, "reinstate", "整改完成 / remedied")
    user = f"{proc.url}/hub/api/users/alice"

    def stopped() -> bool:
        try:
            return requests.get(user, headers=headers, timeout=10).json()["servers"] == {}
        except (requests.RequestException, ValueError, KeyError):  # not answering yet
            return False

    assert wait_for(stopped, 60)
    assert requests.post(f"{user}/server", headers=headers, timeout=60).status_code in (201, 202)
    assert wait_for(serving, 90)
    assert Kernel(browser, "alice").execute("print('back')").out.strip() == "back"
    assert ws.datasets.list()
    with db.session() as s:
        assert (
            lifecycle.decide(s, request.id, "rita", "approve", "核对无误 / checked").status
            == "in_review"
        )


def test_when_an_agreement_nears_its_end_then_staff_and_admins_are_reminded(hub, alice):
    proc, db, secrets = hub
    browser, token = alice
    with db.session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.name == COMPANY)).one()
        agreement = s.scalars(select(Agreement).where(Agreement.tenant_id == tenant.id)).one()
        saved = agreement.end
        agreement.end = date.today() + timedelta(days=20)
    try:
        home = browser.s.get(f"{proc.url}/hub/home", timeout=30)
        assert "还剩 20 天" in page_text(home) and "20 days left" in page_text(home)
        reminder = Workspace(gateway_url(hub), token).me()["agreement_reminder"]
        assert reminder["days_left"] == 20 and reminder["threshold"] == 30
        admin = signed_in(hub, "adam").s.get(f"{proc.url}/hub/home", timeout=30)
        assert "agreements end within 90 days" in page_text(admin) and COMPANY in page_text(admin)
        bob = signed_in(hub, "bob").s.get(f"{proc.url}/hub/home", timeout=30)
        assert "days left" not in page_text(bob)  # another company's staff see nothing of it
    finally:
        with db.session() as s:
            s.get(Agreement, agreement.id).end = saved


def test_when_a_request_would_go_over_the_budget_then_the_quote_says_so_and_it_is_refused(
    hub, alice
):
    proc, db, _ = hub
    _, token = alice
    ws = Workspace(gateway_url(hub), token, scenario="普惠健康险定价")
    with db.session() as s:
        budget.set_budget(Ctx(session=s, actor="adam"), COMPANY, Decimal("30"))
    try:
        quote = ws.quote("export")
        assert (quote["amount"], quote["budget"], quote["currency"]) == ("50.00", "30.00", "CNY")
        table = crosstab(
            pd.DataFrame({"district": ["上城区"] * 40, "cost": range(40)}),
            "district",
            values="cost",
        )
        with pytest.raises(Conflict_) as caught:
            ws.exports.create(table, purpose="超预算测试 / over budget", name="over-budget")
        assert caught.value.code == "over_budget" and "30.00" in str(caught.value)
    finally:
        with db.session() as s:
            budget.set_budget(Ctx(session=s, actor="adam"), COMPANY, None)
    month = date.today().strftime("%Y-%m")
    rows = ws.statement(month).splitlines()
    assert rows[0].startswith("tenant,month") and rows[-1].split(",")[4] == "total"
    assert "月度账单" in ws.statement(month, format="html")
