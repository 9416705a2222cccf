"""The unified identity login end to end: a real OpenID provider (oidc-provider-mock, RS256,
discovery, authorization code with PKCE) and the real hub configured with ``shuyu-oidc``;
the browser's side driven with requests, through the provider's own authorize page."""

from __future__ import annotations

import json
import re

import pyotp
import pytest
from sqlalchemy import text

from hub.admission import REASONS
from hub.auth.gate import LOGIN_REASONS
from hub.auth.second_factor import EXPIRED, PROMPT
from tests.e2e.conftest import running_hub
from tests.e2e.hub_process import Browser, page_text
from tests.e2e.oidc_provider import running_provider

pytestmark = pytest.mark.e2e
MFA = ["pwd", "otp"]  # the provider checked a one-time code of its own
NO_MFA = ["pwd"]


@pytest.fixture(scope="module")
def oidc_hub(request, tmp_path_factory):
    """(provider, hub process, platform DB, TOTP secrets): first logins bind their subject."""
    with running_provider() as provider:
        env = {
            "SHUYU_OIDC_ISSUER": provider.issuer,
            "SHUYU_OIDC_CLIENT_ID": "shuyu-e2e",
            "SHUYU_OIDC_CLIENT_SECRET": "e2e-client-secret",
            "SHUYU_OIDC_BIND_FIRST_LOGIN": "1",
        }
        with running_hub(request, tmp_path_factory, "sqlite", env) as (proc, db, secrets):
            yield provider, proc, db, secrets


def provider_login(provider, hub_url: str, sub: str, username: str, amr: list[str]):
    """(browser, the hub's answer to the provider's redirect back): sign in at the hub, be sent
    to the provider, authorize there as ``sub``, come back to the hub's callback."""
    provider.user(sub, preferred_username=username, amr=amr)
    browser = Browser(hub_url)
    page = browser.s.get(f"{hub_url}/hub/oauth_login", timeout=30)
    assert page.url.startswith(f"{provider.issuer}/oauth2/authorize"), page.url
    assert "code_challenge_method=S256" in page.url and "Authorize" in page.text
    back = browser.s.post(page.url, data={"sub": sub}, timeout=30, allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"].startswith(hub_url)
    return browser, browser.s.get(back.headers["Location"], timeout=60, allow_redirects=False)


def hub_user(browser: Browser) -> str | None:
    """The name of the hub session's user, or None without a session."""
    xsrf = browser.s.cookies.get("_xsrf", path="/hub/") or ""
    answer = browser.s.get(
        f"{browser.hub_url}/hub/api/user", headers={"X-XSRFToken": xsrf}, timeout=10
    )
    return answer.json()["name"] if answer.status_code == 200 else None


def subject_of(db, username: str) -> str | None:
    with db.engine.connect() as conn:
        return conn.execute(
            text("SELECT oidc_subject FROM staff WHERE username = :u"), {"u": username}
        ).scalar()


def last_login(db, username: str) -> dict:
    with db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT outcome, reason, details FROM audit_events WHERE action = 'login' "
                 "AND actor = :u ORDER BY id DESC LIMIT 1"), {"u": username},
        ).mappings().first()  # fmt: skip
    return {**row, "details": json.loads(row["details"])}


def refused_with(response, message) -> None:
    assert response.status_code == 403, page_text(response)[:300]
    assert str(message) in page_text(response)
    assert "Traceback" not in response.text


def second_factor(browser: Browser, otp: str):
    form = browser.s.get(f"{browser.hub_url}/hub/oidc/second-factor", timeout=30)
    assert form.status_code == 200 and str(PROMPT) in page_text(form)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    return browser.s.post(
        f"{browser.hub_url}/hub/oidc/second-factor",
        data={"_xsrf": xsrf, "otp": otp},
        timeout=30,
        allow_redirects=False,
    )


def test_when_the_provider_asserts_mfa_then_an_admitted_processor_reaches_a_running_server(
    oidc_hub,
):
    provider, proc, db, _ = oidc_hub
    verified = provider.guard.verified
    browser, back = provider_login(provider, proc.url, "idp-alice", "alice", MFA)
    assert back.status_code == 302, page_text(back)[:500]
    assert provider.guard.verified == verified + 1  # the code was exchanged with its PKCE verifier
    assert hub_user(browser) == "alice"
    assert subject_of(db, "alice") == "idp-alice"
    event = last_login(db, "alice")
    assert event["outcome"] == "allowed" and event["details"]["via"] == "oidc"
    status = browser.start_server("alice")
    assert "started" in status.json()


DENIALS = [
    ("untrained", "carol", REASONS["training"]),
    ("training expired", "erin", REASONS["training"]),
    ("tenant suspended", "sam", REASONS["tenant_suspended"]),
    ("agreement expired", "dave", REASONS["agreement_expired"]),
]


@pytest.mark.parametrize("case, username, reason", DENIALS, ids=[d[0] for d in DENIALS])
def test_when_admission_refuses_then_the_provider_login_ends_with_the_reason_and_no_session(
    oidc_hub, case, username, reason
):
    provider, proc, db, _ = oidc_hub
    browser, back = provider_login(provider, proc.url, f"idp-{username}", username, MFA)
    refused_with(back, reason)
    assert hub_user(browser) is None
    assert subject_of(db, username) is None
    event = last_login(db, username)
    assert event["outcome"] == "denied" and event["reason"] == str(reason)


def test_when_another_provider_account_claims_a_bound_username_then_it_is_refused(oidc_hub):
    provider, proc, db, _ = oidc_hub
    first, back = provider_login(provider, proc.url, "idp-bob", "bob", MFA)
    assert back.status_code == 302 and hub_user(first) == "bob"
    browser, back = provider_login(provider, proc.url, "idp-impostor", "bob", MFA)
    refused_with(back, LOGIN_REASONS["oidc_subject_mismatch"])
    assert hub_user(browser) is None
    assert subject_of(db, "bob") == "idp-bob"
    assert last_login(db, "bob")["details"]["code"] == "oidc_subject_mismatch"


def test_when_the_provider_asserts_no_mfa_then_only_the_platform_code_opens_the_session(oidc_hub):
    provider, proc, db, secrets = oidc_hub
    browser, back = provider_login(provider, proc.url, "idp-lucy", "lucy", NO_MFA)
    assert back.status_code == 302
    assert back.headers["Location"].endswith("/hub/oidc/second-factor")
    # Skipping the code page gets nowhere: there is no session until the code is right.
    assert hub_user(browser) is None
    skipped = browser.s.get(f"{proc.url}/hub/spawn/lucy", timeout=30, allow_redirects=False)
    assert skipped.status_code == 302 and "/hub/login" in skipped.headers["Location"]
    wrong = second_factor(browser, "000000")
    refused_with(wrong, LOGIN_REASONS["otp_wrong"])
    assert hub_user(browser) is None and subject_of(db, "lucy") is None
    assert last_login(db, "lucy")["details"]["via"] == "oidc+totp"
    right = second_factor(browser, pyotp.TOTP(secrets["lucy"]).now())
    assert right.status_code == 302, page_text(right)[:500]
    assert hub_user(browser) == "lucy"
    assert subject_of(db, "lucy") == "idp-lucy"
    # The pending login is used up: the page has nothing to complete any more.
    used = browser.s.get(f"{proc.url}/hub/oidc/second-factor", timeout=30)
    refused_with(used, EXPIRED)
