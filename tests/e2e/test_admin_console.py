"""The administration and supervision console driven in headless Chromium: an admin suspends
and reinstates a company, disables and enables a person, sets a budget, suspends, resumes and
revokes a party; an auditor filters the trail, verifies its chain and exports it, and can change
nothing; a processor and a department are kept out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from hub.db.models import AuditEvent, DataListItem, Dataset, Party, Staff, Tenant
from hub.demo import world
from tests.e2e.attack_lab import wait_for
from tests.e2e.conftest import PASSWORD, running_hub

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
CARBON = world.TENANTS[1]["name"]


@pytest.fixture(scope="module")
def hub(request, tmp_path_factory):
    """One hub, on SQLite: the console's queries are the ops' and views', which the unit tests
    run on both backends; driving the pages twice would only double the time."""
    with running_hub(request, tmp_path_factory, "sqlite") as running:
        yield running


@pytest.fixture(scope="module")
def pages(hub):
    """One signed-in page per user for the module: a one-time code cannot be used twice."""
    sync_api = pytest.importorskip("playwright.sync_api")
    proc, _, secrets = hub
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        out = {}
        for user in ("adam", "audrey", "lucy", "paul"):
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto(f"{proc.url}/hub/login")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", PASSWORD)
            page.fill("input[name=otp]", pyotp.TOTP(secrets[user]).now())
            page.click("[type=submit]")
            page.wait_for_load_state()
            out[user] = page
        yield out
        browser.close()


def admin(hub, page, path: str = "/"):
    response = page.goto(f"{hub[0].url}/services/admin{path}")
    return response


def act_on_tenant(page, name: str, command: str, reason: str = "", amount: str = "") -> str:
    row = page.locator(f"tr[data-tenant='{name}']")
    row.locator("select[name=command]").select_option(command)
    row.locator("input[name=reason]").fill(reason)
    row.locator("input[name=amount]").fill(amount)
    row.locator("button").click()
    page.wait_for_selector("#notice, #error")
    return page.locator("#notice, #error").inner_text()


def test_when_an_admin_suspends_and_reinstates_a_company_then_it_takes_effect(hub, pages):
    page = pages["adam"]
    assert admin(hub, page, "/?lang=en").status == 200
    assert act_on_tenant(page, CARBON, "suspend", "违规调用接口 / misuse").startswith("Recorded")
    assert page.locator(f"tr[data-tenant='{CARBON}'] .status").inner_text().startswith("suspended")
    with hub[1].session() as s:
        assert (
            s.scalars(select(Tenant).where(Tenant.name == CARBON)).one().status.value == "suspended"
        )
    assert "Recorded" in act_on_tenant(page, CARBON, "reinstate", "整改完成 / remedied")
    assert "reason" in act_on_tenant(page, CARBON, "suspend", "")  # a reason is required
    with hub[1].session() as s:
        assert s.scalars(select(Tenant).where(Tenant.name == CARBON)).one().status.value == "active"
    assert "Recorded" in act_on_tenant(page, CARBON, "budget", amount="1234.5")
    assert page.locator(f"tr[data-tenant='{CARBON}']").inner_text().count("1234.50") == 1


def test_when_an_admin_disables_a_person_then_admission_refuses_them_until_enabled(hub, pages):
    page = pages["adam"]
    admin(hub, page, "/staff?lang=en")
    row = page.locator("tr[data-user='erin']")
    row.locator("select[name=action]").select_option("disable")
    row.locator("input[name=reason]").fill("离职 / left the company")
    row.locator("button").click()
    page.wait_for_selector("#notice")
    assert page.locator("tr[data-user='erin'] .admitted").inner_text() == "inactive"
    row = page.locator("tr[data-user='erin']")
    row.locator("select[name=action]").select_option("enable")
    row.locator("input[name=reason]").fill("返聘 / rehired")
    row.locator("button").click()
    page.wait_for_selector("#notice")
    assert page.locator("tr[data-user='erin'] .admitted").inner_text() == "training"  # expired
    with hub[1].session() as s:
        assert s.scalars(select(Staff).where(Staff.username == "erin")).one().active


def test_when_an_auditor_reads_the_trail_then_it_filters_verifies_and_exports_with_hashes(
    hub, pages
):
    page = pages["audrey"]
    assert admin(hub, page, "/audit?lang=en&actor=adam&action=tenant.").status == 200
    actions = page.locator("#events .action").all_inner_texts()
    assert "tenant.suspend" in actions and "tenant.reinstate" in actions
    assert set(actions) <= {"tenant.suspend", "tenant.reinstate", "tenant.budget"}
    page.click("#verify")
    page.wait_for_selector("#chain")
    assert page.locator("#chain").inner_text().startswith("Hash chain intact")
    with page.expect_download() as got:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8"))))
    assert rows and {"prev_hash", "hash"} <= set(rows[0]) and {r["actor"] for r in rows} == {"adam"}
    with hub[1].session() as s:
        stored = {
            e.id: e.hash for e in s.scalars(select(AuditEvent).where(AuditEvent.actor == "adam"))
        }
    assert all(stored[int(r["id"])] == r["hash"] for r in rows)
    exported = page.request.get(f"{hub[0].url}/services/admin/audit/export?format=json&actor=adam")
    assert len(json.loads(exported.text())["events"]) == len(rows)


def test_when_an_auditor_tries_to_change_anything_then_it_is_refused(hub, pages):
    page = pages["audrey"]
    admin(hub, page, "/?lang=en")
    assert page.locator("form.act").count() == 0  # no controls
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    response = page.request.post(
        f"{hub[0].url}/services/admin/",
        form={"_xsrf": xsrf, "tenant": CARBON, "command": "suspend", "reason": "越权 / overreach"},
    )
    assert response.status == 403
    with hub[1].session() as s:
        assert s.scalars(select(Tenant).where(Tenant.name == CARBON)).one().status.value == "active"


ADMIN_PAGES = ["/", "/staff", "/parties", "/audit", "/audit/export?format=csv", "/onboarding", "/tenants/1",
               "/statements?tenant=x"]  # fmt: skip


def test_when_an_auditor_posts_to_any_admin_form_then_nothing_changes(hub, pages):
    page = pages["audrey"]
    admin(hub, page, "/staff")
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    with hub[1].session() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    for path, form in [
        ("/staff", {"username": "erin", "action": "disable", "reason": "越权 / overreach"}),
        (
            "/onboarding",
            {"step": "publish", "field": "金融", "title": "越权公告", "closes_on": "2099-01-01"},
        ),
        (
            "/scenarios",
            {"command": "revoke", "tenant": CARBON, "name": "个人低碳出行积分", "reason": "越权"},
        ),
        ("/datalists", {"item": "1", "decision": "revoked", "reason": "越权 / overreach"}),
    ]:
        response = page.request.post(
            f"{hub[0].url}/services/admin{path}", form={"_xsrf": xsrf, **form}
        )
        assert response.status == 403, path
    with hub[1].session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before


@pytest.mark.parametrize("user", ["lucy", "paul"])  # a processor, a data-provider department
def test_when_anyone_else_opens_the_admin_console_then_the_hub_keeps_them_out(hub, pages, user):
    for path in ADMIN_PAGES:
        assert admin(hub, pages[user], path).status == 403, path
    assert admin(hub, pages[user], "/datalists").status == (200 if user == "paul" else 403)


def test_when_an_admin_onboards_a_company_in_the_console_then_it_becomes_a_tenant(hub, pages):
    from datetime import date, timedelta

    from hub.validators import uscc_check_char

    uscc = "91330106MA2QNB027" + uscc_check_char("91330106MA2QNB027")
    page = pages["adam"]
    admin(hub, page, "/onboarding?lang=en")

    def submit(form, **fields) -> str:
        for name, value in fields.items():
            if isinstance(value, bool):
                form.locator(f"input[name={name}]").check()
            else:
                form.locator(f"input[name={name}]").fill(value)
        form.locator("button").first.click()
        page.wait_for_selector("#notice, #error")
        return page.locator("#notice, #error").inner_text()

    closes = (date.today() + timedelta(days=30)).isoformat()
    assert "Recorded" in submit(
        page.locator("#publish"), field="金融", title="普惠金融授权运营公告", closes_on=closes
    )
    section = page.locator("section[data-notice]").first
    assert "Recorded" in submit(section.locator("form.apply"), company="杭州控制台准入科技有限公司", uscc=uscc,
                                security_officer="周安全")  # fmt: skip
    row = page.locator("tr[data-application]").first
    assert "Recorded" in submit(row.locator("form.qualify"), **dict.fromkeys(
        ["licences", "no_major_violation", "not_dishonest", "no_tax_violation", "security_officer",
         "mlps3", "security_certification", "dcmm3"], True))  # fmt: skip
    assert page.locator("tr[data-application] .stage").first.inner_text() == "qualified"
    for expert, value in (("李专家", "81"), ("张专家", "77"), ("赵专家", "69")):
        submit(page.locator("tr[data-application] form.score").first, expert=expert, score=value)
    decide = page.locator("tr[data-application] form.decide").first
    decide.locator("input[name=reason]").fill("材料齐全，评分合格 / complete, scored")
    decide.locator("button[value=approve]").click()
    page.wait_for_selector("#notice, #error")
    assert (
        page.locator("tr[data-application] .stage").first.inner_text()
        == "approved by the coordination group"
    )
    submit(page.locator("tr[data-application] form.sign").first)
    assert page.locator("tr[data-application] .stage").first.inner_text() == "signed"
    admin(hub, page, "/?lang=en")
    assert (
        page.locator("tr[data-tenant='杭州控制台准入科技有限公司'] .status")
        .inner_text()
        .startswith("active")
    )


def test_when_a_department_decides_then_only_its_own_datasets_items_are_in_its_hands(hub, pages):
    from hub.ops import Ctx, catalog

    with hub[1].session() as s:  # bob's company asks for medical visits (the health commission's)
        ctx = Ctx(session=s, actor="e2e")
        scenario = catalog.find_scenario(ctx, world.TENANTS[1]["scenario"][0], CARBON)
        item = catalog.request_item(
            ctx, scenario=scenario, dataset="medical_visits", columns=["gender", "age"]
        )
        foreign = s.scalars(
            select(DataListItem).join(Dataset).where(Dataset.name == "enterprise_registry")
        ).first()
        item_id, foreign_id, foreign_decision = item.id, foreign.id, foreign.decision.value
    page = pages["paul"]  # 市卫生健康委员会
    assert admin(hub, page, "/datalists?lang=en").status == 200
    datasets = {r.split("\t")[3] for r in page.locator("#items tr[data-item]").all_inner_texts()}
    assert datasets == {"medical_visits"}
    row = page.locator(f"tr[data-item='{item_id}']")
    row.locator("select[name=decision]").select_option("approved")
    row.locator("input[name=reason]").fill("用途明确，字段最小化 / minimal columns")
    row.locator("button").click()
    page.wait_for_selector("#notice")
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    response = page.request.post(  # another department's item, reached by hand
        f"{hub[0].url}/services/admin/datalists",
        form={
            "_xsrf": xsrf,
            "item": str(foreign_id),
            "decision": "revoked",
            "reason": "越权 / overreach",
        },
    )
    assert response.status == 400 and "only staff of" in response.text()
    with hub[1].session() as s:
        assert s.get(DataListItem, item_id).decision.value == "approved"
        assert s.get(DataListItem, item_id).decided_by == "paul"
        assert s.get(DataListItem, foreign_id).decision.value == foreign_decision
    auditor = pages["audrey"]
    admin(hub, auditor, "/datalists?lang=en")
    assert (
        auditor.locator("form.act").count() == 0
        and auditor.locator(f"tr[data-item='{foreign_id}']").count() == 1
    )


def test_when_an_admin_opens_a_company_dashboard_then_its_charts_and_fees_show(hub, pages):
    from datetime import date

    from hub.billing import statements
    from hub.billing.prices import book
    from hub.settings import Prices

    page = pages["adam"]
    admin(hub, page, "/?lang=en")
    page.click(f"tr[data-tenant='{world.TENANTS[0]['name']}'] a[href*='/tenants/']")
    page.wait_for_selector("#dashboard")
    assert page.locator("figure.chart").count() == 3  # activity, requests, fees (empty ones say so)
    assert page.locator("figure.chart").first.locator("rect").count() == 30  # one bar a day
    with hub[1].session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[0]["name"])).one()
        total = statements.statement(
            s, tenant, date.today().strftime("%Y-%m"), book(Prices())
        ).total
    assert page.locator("#fees-total").inner_text() == str(total)


def test_when_an_admin_registers_trains_and_resets_a_person_then_they_are_admitted(hub, pages):
    from hub.validators import resident_id_check_char

    page = pages["adam"]
    admin(hub, page, "/staff?lang=en")
    form = page.locator("#register")
    for name, value in {"username": "zoe", "real_name": "周洲", "mobile": "13912345678",
                        "id_number": "33010619910101123" + resident_id_check_char("33010619910101123"),
                        "tenant": world.TENANTS[0]["name"], "password": "Zoe-strong-pass-2026"}.items():  # fmt: skip
        form.locator(f"input[name={name}]").fill(value)
    form.locator("select[name=role]").select_option("processor")
    form.locator("button").click()
    page.wait_for_selector("#notice")
    first = page.locator("#new-secret code").inner_text()
    assert len(first) >= 16
    assert page.locator("tr[data-user='zoe'] .admitted").inner_text() == "not_verified"

    def act(action: str, **fields) -> None:
        row = page.locator("tr[data-user='zoe']")
        row.locator("select[name=action]").select_option(action)
        for name, value in fields.items():
            row.locator(f"input[name={name}]").fill(value)
        row.locator("button").click()
        page.wait_for_selector("#notice, #error")

    act("verify")
    assert page.locator("tr[data-user='zoe'] .admitted").inner_text() == "training"
    act("exam", score="72")  # under the pass mark of 80
    assert page.locator("tr[data-user='zoe'] .admitted").inner_text() == "training"
    act("exam", score="91")
    assert page.locator("tr[data-user='zoe'] .admitted").inner_text() == "ok"
    act("reset_totp", reason="手机丢失 / lost phone")
    assert page.locator("#new-secret code").inner_text() not in ("", first)
    with hub[1].session() as s:
        actions = [
            e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.object == "zoe"))
        ]
    assert actions == [
        "staff.add",
        "staff.verify",
        "training.record",
        "training.record",
        "staff.totp_reset",
    ]


def test_when_an_admin_files_and_revokes_a_scenario_then_it_is_closed(hub, pages):
    page = pages["adam"]
    admin(hub, page, "/scenarios?lang=en")
    form = page.locator("#file-scenario")
    form.locator("input[name=tenant]").fill(CARBON)
    form.locator("input[name=name]").fill("绿色出行指数")
    form.locator("select[name=field]").select_option(index=0)
    form.locator("select[name=category]").select_option("public-governance")
    form.locator("input[name=purpose]").fill("编制城市绿色出行指数 / a green travel index")
    form.locator("button").click()
    page.wait_for_selector("#notice")
    assert page.locator("tr[data-scenario='绿色出行指数'] .status").inner_text() == "filed"
    row = page.locator("tr[data-scenario='绿色出行指数']")
    row.locator("input[name=reason]").fill("用途不再需要 / no longer needed")
    row.locator("button").click()
    page.wait_for_selector("#notice")
    assert page.locator("tr[data-scenario='绿色出行指数'] .status").inner_text() == "revoked"


@pytest.fixture(scope="module")
def banks(hub) -> dict[str, str]:
    """Two parties registered as ``shuyu party add`` does (the CLI prints their bundles); ids."""
    from hub.ops import Ctx, parties

    proc, db, _ = hub
    out = {}
    with db.session() as s:
        for name, address in (("某银行", "10.0.0.2:9470"), ("某保险", "10.0.0.3:9470")):
            party, _ = parties.add(Ctx(session=s, actor="e2e"), proc.home, name, CARBON, address,
                                   "127.0.0.1:9470")  # fmt: skip
            out[name] = party.id
    return out


def party_status(hub, party_id: str) -> str:
    with hub[1].session() as s:
        return s.get(Party, party_id).status.value


def act_on_party(page, party_id: str, command: str, reason: str) -> str:
    row = page.locator(f"tr[data-party='{party_id}']")
    row.locator("select[name=command]").select_option(command)
    row.locator("input[name=reason]").fill(reason)
    row.locator("button").click()
    page.wait_for_selector("#notice, #error")
    return page.locator("#notice, #error").inner_text()


def test_when_an_admin_suspends_resumes_and_revokes_a_party_then_it_takes_effect(hub, pages, banks):
    page, bank = pages["adam"], banks["某银行"]
    assert admin(hub, page, "/?lang=en").status == 200
    page.click("#nav-parties")
    page.wait_for_selector("#parties")
    assert "shuyu party add" in page.locator("#register-on-cli").inner_text()
    row = page.locator(f"tr[data-party='{bank}']")
    assert row.locator(".status").inner_text() == "active"
    with hub[1].session() as s:
        assert row.locator(".fingerprint").inner_text() == s.get(Party, bank).fingerprint[:16]
    assert act_on_party(page, bank, "suspend", "") == "reason must not be empty"
    assert party_status(hub, bank) == "active"
    notice = act_on_party(page, bank, "suspend", "对账异常 / reconciliation mismatch")
    assert notice == f"Recorded: {bank} · suspend"
    assert page.locator(f"tr[data-party='{bank}'] .status").inner_text().startswith("suspended")
    assert party_status(hub, bank) == "suspended"
    assert "Recorded" in act_on_party(page, bank, "resume", "已核实 / checked")
    assert party_status(hub, bank) == "active"
    admin(hub, page, "/parties?lang=zh")  # in Chinese
    assert act_on_party(page, bank, "revoke", "合作终止 / ended").startswith("已记录")
    assert page.locator(f"tr[data-party='{bank}'] .status").inner_text().startswith("已撤销")
    assert page.locator(f"tr[data-party='{bank}'] form.act").count() == 0  # nothing left to do
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    response = page.request.post(  # revoked again, by hand: refused, in the reader's language
        f"{hub[0].url}/services/admin/parties",
        form={"_xsrf": xsrf, "party": bank, "command": "revoke", "reason": "再次 / again"},
    )
    assert response.status == 400 and "该参与方已撤销" in response.text()
    with hub[1].session() as s:
        found = s.scalars(select(AuditEvent).where(AuditEvent.object == f"party:{bank}"))
        assert [(e.action, e.actor) for e in found] == [
            ("party.add", "e2e"), ("party.suspend", "adam"), ("party.resume", "adam"),
            ("party.revoke", "adam"),
        ]  # fmt: skip
    assert party_status(hub, bank) == "revoked"


def test_when_an_auditor_revokes_a_party_then_it_is_refused_and_nothing_changes(hub, pages, banks):
    page, insurer = pages["audrey"], banks["某保险"]
    assert admin(hub, page, "/parties?lang=en").status == 200
    assert page.locator(f"tr[data-party='{insurer}']").count() == 1
    assert page.locator("form.act").count() == 0  # no controls
    admin(hub, page, "/staff")  # a page that sets the form token
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    with hub[1].session() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    response = page.request.post(
        f"{hub[0].url}/services/admin/parties",
        form={"_xsrf": xsrf, "party": insurer, "command": "revoke", "reason": "越权 / overreach"},
    )
    assert response.status == 403
    assert party_status(hub, insurer) == "active"
    with hub[1].session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_when_an_auditor_checks_a_registered_product_then_its_lineage_and_listing_show(hub, pages):
    """核验 of a product in the console: the lineage from the approved dataset through the job
    and the model to the product, the model's checks, the registration, the listing package."""
    from hub.review import lifecycle
    from tests.test_product_registration import HEALTH, body, publish_model, submit

    proc, db, _ = hub
    publish_model(proc.home, db, "console-visit", "alice", HEALTH, "medical_visits", b"console")
    request_id = submit(proc.home, db, body("console-visit", title="就诊费用评分"))
    for reviewer in ("rita", "ryan"):
        with db.session() as s:
            lifecycle.decide(s, request_id, reviewer, "approve", "核对无误 / checked")

    def issued() -> bool:  # by the hub's own production service
        with db.session() as s:
            return lifecycle.get(s, request_id).status == lifecycle.PUBLISHED

    assert wait_for(issued, 60)
    page = pages["audrey"]
    admin(hub, page, "/products?lang=en")
    row = page.locator("tr[data-product='console-visit']")
    assert row.locator(".state").inner_text() == "registered (in force)"
    row.locator("a").click()
    page.wait_for_selector("#lineage")
    assert "medical_visits" in page.locator("#lineage").inner_text()
    assert page.locator("#model-checks tr").count() == 3  # a header and the model's two checks
    assert page.locator("#code").inner_text().endswith("V1")
    with page.expect_download() as download:
        page.click("#listing-json")
    listing = json.loads(Path(download.value.path()).read_text())
    assert listing["registration"]["data_resources"][0]["dataset"] == "medical_visits"
    admin(hub, page, "/products/console-visit?lang=zh")
    assert "来源追溯" in page.content() and "已登记（生效）" in page.locator("#state").inner_text()


def test_when_a_consumer_calls_a_product_then_admins_read_its_keys_usage_and_annual_report(
    hub, pages
):
    """Who uses a product, in the console: the consumer's key (its prefix, never the key) and
    the month's calls, records and charge at the registered price (per call), equal to what the consumer
    called through the public port; then the company's yearly report lists the product."""
    import requests

    from tests import consumer_world as cw

    proc, db, _ = hub
    cw.publish(db, proc.home, "console-score")
    cw.register(db, "console-score", 0.05, "call")
    key = cw.issue(db, "console-score", "甲银行风控系统", calls_per_minute=60)
    url = f"{proc.url}/services/products/api/v1/console-score/score"
    for records in ([{"age": 30}, {"age": 60}], [{"age": 45}]):
        called = requests.post(url, json={"records": records}, headers={"Authorization": f"Bearer {key}"}, timeout=60)  # fmt: skip
        assert called.status_code == 200, called.text
    page = pages["adam"]
    admin(hub, page, "/products/console-score?lang=en")
    keys = page.locator("#keys").inner_text()
    assert "甲银行风控系统" in keys and key[:12] in keys and key not in page.content()
    assert "active" in keys and "60 / calls/min" in keys
    usage = page.locator("#usage tr").nth(1).locator("td").all_inner_texts()
    assert usage[0] == "甲银行风控系统" and usage[2:] == ["2", "3", "0.10"], usage
    assert page.locator("#usage-total").inner_text() == "0.10"
    admin(hub, page, "/products/console-score?lang=zh&month=2020-01")  # a month with no calls
    assert "使用方与用量" in page.content() and page.locator("#usage-total").inner_text() == "0.00"
    refused = admin(hub, page, "/products/console-score?month=2026-13")
    assert refused.status == 400 and "YYYY-MM" in page.content()
    admin(hub, page, f"/annual?tenant={cw.TENANT}")
    report = page.locator("section.annual").inner_text()
    assert "运营主体 / Operator" in report and cw.TENANT in report and "console-score" in report
    with page.expect_download() as download:
        page.click("#csv")
    assert "console-score" in Path(download.value.path()).read_text(encoding="utf-8-sig")
