"""The administration console's forms dispatch through one table per page: every action is
reachable by its name, an unknown one is refused (400, in both languages) and changes nothing.
Parties are suspended, resumed and revoked there as on the CLI (audited alike); an auditor
changes nothing and a data-provider department does not see the page."""

from __future__ import annotations

import pytest
from jupyterhub.services.auth import HubOAuth
from sqlalchemy import func, select

from hub.billing.prices import book
from hub.db.models import AuditEvent, Party, Tenant
from hub.demo import world
from hub.ops import Ctx, parties
from hub.refusals import BadRequest
from hub.settings import Prices
from hub.web import admin_actions, admin_console
from hub.web.console_base import ConsoleHandler
from tests.console_app import FAKE_HUB, serving

CARBON = world.TENANTS[1]["name"]
PAGES = [
    ("/", "command", admin_actions.TENANT_ACTIONS, admin_console.TenantsHandler),
    ("/staff", "action", admin_actions.STAFF_ACTIONS, admin_console.StaffHandler),
    ("/parties", "command", admin_actions.PARTY_ACTIONS, admin_console.PartiesHandler),
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
        await client.get("/admin/")  # the xsrf cookie (a page without forms sets none)
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
    assert set(admin_actions.PARTY_ACTIONS) == {"suspend", "resume", "revoke"}  # no "add"


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


# ---- parties ----------------------------------------------------------------------------------


@pytest.fixture
def bank(demo, shuyu_home) -> str:
    """A party registered as ``shuyu party add`` does; its id."""
    with demo.session() as s:
        party, _ = parties.add(Ctx(session=s, actor="adam"), shuyu_home, "某银行", CARBON,
                               "10.0.0.2:9470", "127.0.0.1:9470")  # fmt: skip
        return party.id


def party_state(db, party_id: str) -> tuple[str, str | None, str | None]:
    with db.session() as s:
        p = s.get(Party, party_id)
        return p.status.value, p.status_reason, p.status_by


def party_events(db, party_id: str) -> list[tuple[str, str, str | None, str]]:
    with db.session() as s:
        found = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.object == f"party:{party_id}")
            .order_by(AuditEvent.id)
        )
        return [(e.action, e.actor, e.reason, e.tenant) for e in found]


async def test_when_an_admin_suspends_resumes_and_revokes_a_party_then_each_is_audited_as_on_the_cli(
    console, demo, bank
):
    steps = [("suspend", "对账异常 / reconciliation mismatch", "suspended"),
             ("resume", "已核实 / checked", "active"),
             ("revoke", "合作终止 / partnership ended", "revoked")]  # fmt: skip
    for command, reason, status in steps:
        answer = await console.post(
            "/admin/parties?lang=en", {"command": command, "party": bank, "reason": reason}
        )
        page = answer.body.decode()
        assert answer.code == 200 and f"Recorded: {bank} · {command}" in page, page
        assert party_state(demo, bank) == (status, reason, "adam")
    answer = await console.post("/admin/parties", {"command": "resume", "party": bank,
                                                   "reason": "误操作 / mistake"})  # fmt: skip
    assert answer.code == 400 and "已撤销的须重新登记" in answer.body.decode()  # zh by default
    with demo.session() as s:
        group = s.scalars(select(Tenant).where(Tenant.name == CARBON)).one().group
    events = party_events(demo, bank)
    assert [(a, actor, reason) for a, actor, reason, _ in events] == [
        ("party.add", "adam", ""),
        *[(f"party.{c}", "adam", r) for c, r, _ in steps],
    ]
    assert {tenant for *_, tenant in events} == {group}


@pytest.mark.parametrize(
    "form, zh, en",
    [
        ({"command": "suspend", "reason": ""}, "原因不能为空", "reason must not be empty"),
        ({"command": "suspend", "party": "p-000000000000", "reason": "核查 / check"},
         "参与方不存在：p-000000000000", "unknown party: p-000000000000"),
        ({"command": "resume", "reason": "核查 / check"},
         "只能恢复已暂停的参与方", "only a suspended party can be resumed"),
    ],
    ids=["missing-reason", "unknown-party", "resume-active"],
)  # fmt: skip
async def test_when_a_party_form_is_wrong_then_it_says_why_in_both_languages_and_changes_nothing(
    console, demo, bank, form, zh, en
):
    form = {"party": bank, **form}
    before = audit_count(demo)
    for lang, said in (("zh", zh), ("en", en)):
        answer = await console.post(f"/admin/parties?lang={lang}", form)
        page = answer.body.decode()
        assert answer.code == 400 and said in page and 'id="error"' in page, page
    assert party_state(demo, bank) == ("active", None, None)
    assert audit_count(demo) == before


async def test_when_a_revoked_party_is_revoked_again_then_it_is_refused_and_nothing_changes(
    console, demo, bank
):
    await console.post(
        "/admin/parties", {"command": "revoke", "party": bank, "reason": "终止 / end"}
    )
    state, before = party_state(demo, bank), audit_count(demo)
    for lang, said in (("zh", "该参与方已撤销"), ("en", "this party is already revoked")):
        answer = await console.post(f"/admin/parties?lang={lang}",
                                    {"command": "revoke", "party": bank, "reason": "再次 / again"})  # fmt: skip
        assert answer.code == 400 and said in answer.body.decode()
    assert party_state(demo, bank) == state == ("revoked", "终止 / end", "adam")
    assert audit_count(demo) == before


async def test_when_the_parties_page_is_read_then_it_shows_each_party_and_says_to_register_on_the_cli(
    console, demo, bank, signed_in
):
    with demo.session() as s:
        p = s.get(Party, bank)
        parties.record_schema(s, p, {"loans": {"columns": {"id_hash": "str", "balance": "float64",
                                                            "overdue_days": "int64"}}})  # fmt: skip
        fingerprint = p.fingerprint
    for who, scope in (("adam", admin_console.ADMIN), ("audrey", admin_console.AUDIT)):
        signed_in(who, scope)
        for lang, words in (("zh", ("参与方", "只能在命令行", "正常")),
                            ("en", ("Parties", "command line only", "active"))):  # fmt: skip
            answer = await console.get(f"/admin/parties?lang={lang}")
            page = answer.body.decode()
            assert answer.code == 200 and all(w in page for w in words), (who, lang)
            assert "某银行" in page and bank in page and CARBON in page and "10.0.0.2:9470" in page
            assert fingerprint[:16] in page and fingerprint[16:] not in page
            assert "loans (3)" in page and "balance" not in page  # names and counts only
            assert "shuyu party add --name NAME --tenant TENANT --address HOST:PORT" in page
            assert "BEGIN CERTIFICATE" not in page and "PRIVATE KEY" not in page
            # an admin has one form per party; an auditor none
            assert page.count('class="act"') == (1 if who == "adam" else 0)


async def test_when_an_auditor_revokes_a_party_then_it_is_refused_and_nothing_changes(
    console, demo, bank, signed_in
):
    signed_in("audrey", admin_console.AUDIT)
    before = audit_count(demo)
    for command in ("revoke", "suspend", "resume"):
        answer = await console.post(
            "/admin/parties", {"command": command, "party": bank, "reason": "越权 / overreach"}
        )
        assert answer.code == 403 and "无权执行此操作" in answer.body.decode()
    assert party_state(demo, bank) == ("active", None, None)
    assert audit_count(demo) == before


async def test_when_a_provider_opens_the_parties_page_then_the_hub_scope_check_keeps_them_out(
    demo, bank, monkeypatch
):
    """The real hub scope check of the console (only the signed-in user's lookup is given):
    a data-provider department (custom:shuyu:provide) may not open it; an auditor may."""
    hub_auth = HubOAuth(api_token="unused", cache_max_age=10)
    hub_auth.login_url = "/hub/login"
    user = {}
    monkeypatch.setattr(hub_auth, "get_user", lambda handler: dict(user))
    monkeypatch.setattr(ConsoleHandler, "_hub_auth", hub_auth)  # what each handler asks
    app = admin_console.make_app(demo, hub_auth, "/admin/", book(Prices()), b"p" * 32)
    async with serving(app) as client:
        user.update(name="adam", scopes=[admin_console.ADMIN])
        assert (await client.get("/admin/")).code == 200 and client.xsrf  # a valid form token
        user.update(name="paul", scopes=[admin_console.PROVIDE])
        for path in ("/admin/parties", "/admin/parties?lang=en"):
            answer = await client.get(path)
            assert answer.code == 403 and bank not in answer.body.decode()
        answer = await client.post("/admin/parties", {"command": "revoke", "party": bank,
                                                      "reason": "越权 / overreach"})  # fmt: skip
        assert answer.code == 403
        user.update(name="audrey", scopes=[admin_console.AUDIT])
        answer = await client.get("/admin/parties")
        assert answer.code == 200 and bank in answer.body.decode()
    assert party_state(demo, bank) == ("active", None, None)
