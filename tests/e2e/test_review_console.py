"""The review console driven in headless Chromium (Debian ``chromium`` through Playwright):
reviewers approve (two of them), reject and return, in Chinese and in English; a processor is
kept out; failing checks need an override with a reason.
"""

from __future__ import annotations

import time

import pandas as pd
import pyotp
import pytest

from sdk import Workspace
from sdk.disclosure import crosstab
from tests.e2e.conftest import PASSWORD, api_tokens, gateway_url

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


# The hub on SQLite only: the unit tests run this module's database work on PostgreSQL too.
BACKENDS = ("sqlite",)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def alice(hub):
    return Workspace(gateway_url(hub), api_tokens(hub, ["alice"])["alice"])


def submit(ws: Workspace, frame: pd.DataFrame, name: str) -> int:
    request = ws.exports.create(frame, purpose=f"控制台测试 / console test {name}",
                                scenario="普惠健康险定价", name=name, preflight=False)  # fmt: skip
    deadline = time.monotonic() + 30
    while request.reload().status != "in_review":
        assert time.monotonic() < deadline, request.attrs
        time.sleep(0.2)
    return request.id


def clean() -> pd.DataFrame:
    # counts only: a synthetic magnitude could not be recomputed from raw data (deny by default)
    frame = pd.DataFrame({"district": ["上城区"] * 30 + ["西湖区"] * 20})
    return crosstab(frame, "district")


def signed_in(browser, hub, user: str):
    """A browser context logged in to the hub as ``user`` (password and one-time code)."""
    proc, _, secrets = hub
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{proc.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=otp]", pyotp.TOTP(secrets[user]).now())
    page.click("[type=submit]")
    page.wait_for_load_state()
    return context, page


@pytest.fixture(scope="module")
def pages(browser, hub):
    """One signed-in page per user for the module: a one-time code cannot be used twice."""
    contexts, out = [], {}
    for user in ("rita", "ryan", "lucy"):
        context, page = signed_in(browser, hub, user)
        contexts.append(context)
        out[user] = page
    yield out
    for context in contexts:
        context.close()


def open_request(page, hub, request_id: int, lang: str):
    page.goto(f"{hub[0].url}/services/review/requests/{request_id}?lang={lang}")
    page.wait_for_selector("#status")


def decide(page, decision_label: str, reason: str, override: bool = False) -> None:
    page.fill("textarea[name=reason]", reason)
    if override:
        page.check("input[name=override]")
    page.click(f"#decide button:has-text('{decision_label}')")
    page.wait_for_selector("#notice, #error")


def test_when_two_reviewers_approve_in_the_console_then_the_export_is_approved(hub, pages, alice):
    request_id = submit(alice, clean(), "two-reviewers")
    page = pages["rita"]
    page.goto(f"{hub[0].url}/services/review/?lang=zh")
    row = page.locator(f"tr[data-request='{request_id}']")
    assert row.count() == 1 and "0/2" in row.inner_text()
    open_request(page, hub, request_id, "zh")
    assert "控制台测试" in page.inner_text("#purpose")
    assert page.locator("#checks .pass").count() == 6  # every export check
    decide(page, "批准", "数据已汇总，符合用途 / aggregated, fits the purpose")
    assert "已记录" in page.inner_text("#notice")
    assert page.inner_text("#status") == "审核中"  # one of two approvals
    page = pages["ryan"]
    open_request(page, hub, request_id, "en")
    decide(page, "Approve", "second reviewer agrees")
    assert page.inner_text("#status") == "approved"
    assert alice.requests.get(request_id).status == "approved"


@pytest.mark.parametrize(
    "lang, label, status_text, status",
    [("en", "Reject", "rejected", "rejected"), ("zh", "退回修改", "已退回", "returned")],
)
def test_when_a_reviewer_rejects_or_returns_then_the_requester_sees_it(
    hub, pages, alice, lang, label, status_text, status
):
    request_id = submit(alice, clean(), f"{status}-{lang}")
    page = pages["rita"]
    open_request(page, hub, request_id, lang)
    decide(page, label, "用途不清 / purpose unclear")
    assert page.inner_text("#status") == status_text
    request = alice.requests.get(request_id)
    assert request.status == status and request.status_reason == "用途不清 / purpose unclear"


def test_when_checks_fail_then_approval_needs_the_override_and_a_reason(hub, pages, alice):
    small = pd.DataFrame({"district": ["上城区", "西湖区"], "n": [40, 3]})
    request_id = submit(alice, small, "small")
    page = pages["rita"]
    open_request(page, hub, request_id, "en")
    assert page.locator("#checks tr[data-check='sdc'] .fail").count() == 1
    decide(page, "Approve", "looks fine")
    assert "automated checks failed" in page.inner_text("#error")
    decide(page, "Approve", "3 is a structural count, verified with the requester", override=True)
    assert "Recorded" in page.inner_text("#notice")


def test_when_a_processor_opens_the_console_then_the_hub_keeps_them_out(hub, pages):
    page = pages["lucy"]  # a processor (alice signs in for the SDK; a code works once)
    response = page.goto(f"{hub[0].url}/services/review/")
    assert response.status == 403
    assert page.locator("#queue").count() == 0 and page.locator("#empty").count() == 0
