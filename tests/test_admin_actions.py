"""The administration console's forms dispatch through one table per page: every action is
reachable by its name, an unknown one is refused (400, in both languages) and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.billing.prices import book
from hub.db.models import AuditEvent, Tenant
from hub.demo import world
from hub.ops import Ctx
from hub.refusals import BadRequest
from hub.settings import Prices
from hub.web import admin_actions, admin_console
from hub.web.console_base import ConsoleHandler
from tests.console_app import FAKE_HUB, serving

CARBON = world.TENANTS[1]["name"]
PAGES = [
    ("/", "command", admin_actions.TENANT_ACTIONS, admin_console.TenantsHandler),
    ("/staff", "action", admin_actions.STAFF_ACTIONS, admin_console.StaffHandler),
    ("/onboarding", "step", admin_actions.ONBOARDING_STEPS, admin_console.OnboardingHandler),
    ("/scenarios", "command", admin_actions.SCENARIO_ACTIONS, admin_console.ScenariosHandler),
]
EVERY_ACTION = [
    pytest.param(path, field, name, id=f"{path}:{name}")
    for path, field, table, _ in PAGES
    for name in table
]


def audit_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


@pytest.fixture
def demo(shuyu_home, db):
    world.build(shuyu_home, db, rows=50)
    return db


@pytest.fixture
def signed_in(monkeypatch):
    def as_user(name: str, *scopes: str) -> None:
        user = {"name": name, "scopes": list(scopes)}
        monkeypatch.setattr(ConsoleHandler, "get_current_user", lambda self: user)

    return as_user


@pytest.fixture
async def console(demo, signed_in):
    signed_in("adam", admin_console.ADMIN)
    app = admin_console.make_app(demo, FAKE_HUB, "/admin/", book(Prices()), b"p" * 32)
    async with serving(app) as client:
        yield client


def test_when_a_page_posts_then_its_handler_dispatches_through_its_table():
    for _, field, table, handler in PAGES:
        assert handler.actions is table and handler.action_field == field


def test_the_forms_offer_exactly_the_actions_of_the_tables():
    assert set(admin_actions.TENANT_ACTIONS) == {"suspend", "revoke", "reinstate", "renew",
                                                 "terminate", "budget"}  # fmt: skip
    assert set(admin_actions.STAFF_ACTIONS) == {"register", "verify", "disable", "enable",
                                                "reset_totp", "role", "exam"}  # fmt: skip
    assert set(admin_actions.ONBOARDING_STEPS) == {"publish", "apply", "qualify", "score",
                                                   "approve", "reject", "sign"}  # fmt: skip
    assert set(admin_actions.SCENARIO_ACTIONS) == {"file", "revoke"}


def test_when_an_action_is_not_in_the_table_then_find_refuses_it_with_400():
    with pytest.raises(BadRequest) as refused:
        admin_actions.find(admin_actions.TENANT_ACTIONS, "explode")
    assert refused.value.status == 400 and refused.value.code == "unknown_action"
    assert "未知操作" in str(refused.value.msg) and "unknown action" in str(refused.value.msg)


@pytest.mark.parametrize("path, field, name", EVERY_ACTION)
async def test_when_an_action_is_posted_then_its_function_is_reached(console, path, field, name):
    answer = await console.post("/admin" + path, {field: name})  # no other field: refused there
    page = answer.body.decode()
    assert answer.code in (200, 400)
    assert "unknown action" not in page and "未知操作" not in page


@pytest.mark.parametrize("path, field", [(p, f) for p, f, _, _ in PAGES])
async def test_when_an_unknown_action_is_posted_then_it_is_refused_and_nothing_changes(
    console, demo, path, field
):
    before = audit_count(demo)
    answer = await console.post(
        "/admin" + path, {field: "explode", "tenant": CARBON, "reason": "试探 / probing"}
    )
    page = answer.body.decode()
    assert answer.code == 400
    assert "未知操作：explode" in page and "unknown action: explode" in page
    assert audit_count(demo) == before


async def test_when_an_admin_suspends_a_company_then_the_table_s_action_takes_effect(console, demo):
    answer = await console.post("/admin/", {"command": "suspend", "tenant": CARBON,
                                            "reason": "违规调用接口 / misuse"})  # fmt: skip
    assert answer.code == 200 and f"{CARBON} · suspend" in answer.body.decode()
    with demo.session() as s:
        assert s.scalars(select(Tenant).where(Tenant.name == CARBON)).one().status.value == (
            "suspended"
        )
        admin_actions.TENANT_ACTIONS["reinstate"](
            Ctx(session=s, actor="adam"), {"tenant": CARBON, "reason": "已整改 / fixed"}.get
        )
    with demo.session() as s:
        assert s.scalars(select(Tenant).where(Tenant.name == CARBON)).one().status.value == "active"


async def test_when_an_auditor_posts_any_action_then_it_is_refused_and_nothing_changes(
    console, demo, signed_in
):
    signed_in("audrey", admin_console.AUDIT)
    before = audit_count(demo)
    for path, field, table, _ in PAGES:
        for name in [*table, "explode"]:
            answer = await console.post("/admin" + path, {field: name, "tenant": CARBON})
            assert answer.code == 403, (path, name)
    assert audit_count(demo) == before
