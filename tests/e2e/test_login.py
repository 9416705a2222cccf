"""Log in through the real hub and proxy: password + TOTP, every denial with its reason and audit event."""

from __future__ import annotations

import re
import subprocess
import sys

import pyotp
import pytest
from sqlalchemy import text

from hub.admission import REASONS
from hub.auth.gate import LOGIN_REASONS
from hub.demo.world import TENANTS
from tests.e2e.conftest import PASSWORD
from tests.e2e.hub_process import CHECKOUT, Browser, page_text
from tests.tamper import tamper

pytestmark = pytest.mark.e2e


def last_login_event(db, username: str) -> dict:
    with db.engine.connect() as conn:
        row = (
            conn.execute(
                text(
                    "SELECT * FROM audit_events WHERE action = 'login' AND actor = :u ORDER BY id DESC LIMIT 1"
                ),
                {"u": username},
            )
            .mappings()
            .first()
        )
    return dict(row)


def login_error(response) -> str:
    """The refusal shown on the login form (the form itself differs: it keeps the username)."""
    assert response.status_code == 403
    found = re.search(r'<p class="login_error">(.*?)</p>', response.text, re.S)
    return found.group(1).strip() if found else ""


def code(secrets, username):
    return pyotp.TOTP(secrets[username]).now()


def assert_denied(response, db, username, reason_code, message):
    assert response.status_code == 403
    assert str(message) in page_text(response)
    assert "Traceback" not in response.text
    event = last_login_event(db, username)
    assert event["outcome"] == "denied"
    assert f'"code":"{reason_code}"' in event["details"]
    assert event["reason"] == str(message)


def test_when_password_and_totp_are_right_then_the_user_reaches_a_running_server(hub):
    proc, db, secrets = hub
    browser = Browser(proc.url)
    otp = code(secrets, "alice")
    response = browser.login("alice", PASSWORD, otp)
    assert response.status_code == 302, page_text(response)[:500]
    assert last_login_event(db, "alice")["outcome"] == "allowed"
    xsrf = browser.s.cookies.get("_xsrf", path="/hub/")
    me = browser.s.get(
        f"{proc.url}/hub/api/user", headers={"X-XSRFToken": xsrf or ""}, timeout=10
    ).json()
    assert set(me["groups"]) == {"role-processor", f"tenant-{TENANTS[0]['uscc'].lower()}"}
    assert "custom:shuyu:process" in me["scopes"]
    assert not {"custom:shuyu:review", "custom:shuyu:admin", "custom:shuyu:audit"} & set(
        me["scopes"]
    )
    status = browser.start_server("alice")
    assert "started" in status.json()
    with db.engine.connect() as conn:
        spawns = conn.execute(
            text(
                "SELECT outcome FROM audit_events WHERE action = 'server.spawn' AND actor = 'alice'"
            )
        ).all()
    assert [r[0] for r in spawns] == ["allowed"]
    # The same one-time code cannot be used a second time.
    replay = Browser(proc.url).login("alice", PASSWORD, otp)
    assert_denied(replay, db, "alice", "otp_wrong", LOGIN_REASONS["otp_wrong"])


DENIALS = [
    (
        "wrong password",
        "bob",
        "not-the-password",
        True,
        "bad_password",
        LOGIN_REASONS["bad_password"],
    ),
    ("missing TOTP", "bob", PASSWORD, None, "otp_missing", LOGIN_REASONS["otp_missing"]),
    ("wrong TOTP", "bob", PASSWORD, "000000", "otp_wrong", LOGIN_REASONS["otp_wrong"]),
    ("unknown user", "mallory", PASSWORD, "123456", "bad_password", LOGIN_REASONS["bad_password"]),
    ("untrained", "carol", PASSWORD, True, "training", REASONS["training"]),
    ("training expired", "erin", PASSWORD, True, "training", REASONS["training"]),
    (
        "agreement expired",
        "dave",
        PASSWORD,
        True,
        "agreement_expired",
        REASONS["agreement_expired"],
    ),
    ("tenant suspended", "sam", PASSWORD, True, "tenant_suspended", REASONS["tenant_suspended"]),
    ("empty username", "", PASSWORD, "123456", "bad_password", LOGIN_REASONS["bad_password"]),
    (
        "overlong username",
        "x" * 5000,
        PASSWORD,
        "123456",
        "bad_password",
        LOGIN_REASONS["bad_password"],
    ),
    (
        "SQL in the username",
        "alice' OR '1'='1",
        PASSWORD,
        "123456",
        "bad_password",
        LOGIN_REASONS["bad_password"],
    ),
]


@pytest.mark.parametrize(
    "case, username, password, otp, reason_code, message", DENIALS, ids=[d[0] for d in DENIALS]
)
def test_when_login_is_not_admissible_then_it_is_refused_with_its_reason_and_audited(
    hub, case, username, password, otp, reason_code, message
):
    proc, db, secrets = hub
    if otp is True:
        otp = code(secrets, username)
    response = Browser(proc.url).login(username, password, otp)
    assert_denied(response, db, username.strip().lower()[:64], reason_code, message)


def test_when_five_logins_fail_then_the_account_is_locked_even_for_the_right_password(hub):
    proc, db, secrets = hub
    for _ in range(5):
        assert Browser(proc.url).login("lucy", "wrong-password", "000000").status_code == 403
    response = Browser(proc.url).login("lucy", PASSWORD, code(secrets, "lucy"))
    assert_denied(response, db, "lucy", "locked", LOGIN_REASONS["locked"])
    with db.engine.connect() as conn:
        lockouts = conn.execute(
            text(
                "SELECT count(*) FROM audit_events WHERE action = 'login.lockout' AND actor = 'lucy'"
            )
        ).scalar()
    assert lockouts == 1


def test_when_a_tenant_is_suspended_after_login_then_its_staff_cannot_spawn(hub):
    proc, db, secrets = hub
    browser = Browser(proc.url)
    assert browser.login("bob", PASSWORD, code(secrets, "bob")).status_code == 302
    from hub.ops import Ctx, tenants

    with db.session() as s:
        tenants.change_status(
            Ctx(session=s, actor="e2e"), TENANTS[1]["name"], "suspend", "抽查 / spot check"
        )
    try:
        page = browser.s.get(f"{proc.url}/hub/spawn/bob", timeout=30)
        assert str(REASONS["tenant_suspended"]) in page_text(page)
        status = browser.s.get(f"{proc.url}/user/bob/api/status", timeout=10, allow_redirects=False)
        assert status.status_code != 200
        with db.engine.connect() as conn:
            outcomes = conn.execute(
                text(
                    "SELECT action, outcome FROM audit_events WHERE actor = 'bob' AND action IN ('server.spawn', 'session.refresh')"
                )
            ).all()
        assert ("server.spawn", "allowed") not in outcomes
        assert any(outcome == "denied" for _, outcome in outcomes)
    finally:
        with db.session() as s:
            tenants.change_status(
                Ctx(session=s, actor="e2e"), TENANTS[1]["name"], "reinstate", "恢复 / restored"
            )


def test_when_an_audit_row_is_altered_then_shuyu_audit_verify_names_it(hub):
    proc, db, secrets = hub
    verify = [sys.executable, "-m", "hub.cli", "audit", "verify"]
    ok = subprocess.run(verify, env=proc.env, cwd=CHECKOUT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    with db.engine.connect() as conn:
        target = conn.execute(
            text(
                "SELECT id FROM audit_events WHERE action = 'login' AND outcome = 'denied' ORDER BY id LIMIT 1"
            )
        ).scalar()
    tamper(db.engine, f"UPDATE audit_events SET outcome = 'allowed' WHERE id = {int(target)}")
    broken = subprocess.run(verify, env=proc.env, cwd=CHECKOUT, capture_output=True, text=True)
    assert broken.returncode != 0
    assert f"#{target}" in broken.stdout


@pytest.mark.parametrize(
    "username, group, has, lacks",
    [
        ("rita", "role-reviewer", "custom:shuyu:review", "custom:shuyu:admin"),
        ("audrey", "role-auditor", "custom:shuyu:audit", "custom:shuyu:review"),
        ("paul", "role-provider", "custom:shuyu:provide", "custom:shuyu:audit"),
        ("adam", "role-admin", "custom:shuyu:admin", "custom:shuyu:review"),
    ],
)
def test_when_staff_log_in_then_their_role_group_carries_exactly_their_custom_scope(
    hub, username, group, has, lacks
):
    proc, db, secrets = hub
    browser = Browser(proc.url)
    assert browser.login(username, PASSWORD, code(secrets, username)).status_code == 302
    xsrf = browser.s.cookies.get("_xsrf", path="/hub/")
    me = browser.s.get(f"{proc.url}/hub/api/user", headers={"X-XSRFToken": xsrf or ""}, timeout=10)
    assert me.status_code == 200, me.text
    model = me.json()
    assert group in model["groups"]
    assert has in model["scopes"]
    assert lacks not in model["scopes"]


def test_when_the_password_is_right_but_the_code_is_not_then_the_page_says_what_a_wrong_password_says(
    hub,
):
    """Nothing on the page tells a guessed password from a wrong one before the code is right."""
    proc, _, _ = hub
    pages = {
        case: login_error(Browser(proc.url).login("bob", password, otp))
        for case, password, otp in [
            ("wrong password", "not-the-password", "000000"),
            ("right password, wrong code", PASSWORD, "000000"),
            ("right password, no code", PASSWORD, None),
            ("right password, empty code", PASSWORD, ""),
        ]
    }
    assert len(set(pages.values())) == 1 and "" not in pages.values(), pages


FRAMED_PAGES = {
    None: ["/hub/login"],
    # Users no other test of this module signs in (a one-time code cannot be used twice).
    "ryan": ["/hub/home", "/services/review/", "/services/admin/"],
}


def test_when_a_page_is_served_then_no_other_site_may_frame_it(hub):
    """Hub pages and both consoles, refusals included."""
    proc, _, secrets = hub
    seen = []
    for user, paths in FRAMED_PAGES.items():
        browser = Browser(proc.url)
        if user:
            assert browser.login(user, PASSWORD, code(secrets, user)).status_code == 302
        for path in paths:
            response = browser.s.get(f"{proc.url}{path}", timeout=30)
            seen.append(response.status_code)
            assert response.headers.get("X-Frame-Options") == "DENY", (user, path)
            csp = response.headers.get("Content-Security-Policy", "")
            assert "frame-ancestors 'none'" in csp, (user, path, csp)
    assert 200 in seen and 403 in seen, seen
