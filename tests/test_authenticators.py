"""The authenticators' hooks, called as JupyterHub calls them, against a real platform DB."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from tornado import web

from hub.auth.authenticator import PlatformAuthenticator
from hub.auth.credentials import totp_step
from hub.ops import staff, tenants
from tests.test_cli import ID1, PASSWORD, USCC


class FakeUser:
    def __init__(self, name):
        self.name = name


class FakeSpawner:
    name = ""


@pytest.fixture
def alice(ctx_factory):
    """An admitted processor; returns her TOTP secret."""
    from hub.ops import agreements, org

    with ctx_factory() as ctx:
        tenants.add(ctx, "甲科技", USCC)
        agreements.sign(ctx, "甲科技")
        org.add_department(ctx, "市卫生健康委员会")
        new = staff.add(
            ctx,
            username="alice",
            real_name="张三",
            id_number=ID1,
            mobile="13812345678",
            role="processor",
            password=PASSWORD,
            tenant="甲科技",
        )
        staff.verify(ctx, "alice")
        staff.record_training(ctx, "alice", 90)
    return new.totp_secret


async def test_when_credentials_are_right_then_authenticate_returns_tenant_and_role_groups(
    db_url, alice
):
    auth = PlatformAuthenticator(db_url=db_url)
    model = await auth.authenticate(
        None, {"username": "Alice ", "password": PASSWORD, "otp": pyotp.TOTP(alice).now()}
    )
    assert model["name"] == "alice"
    assert set(model["groups"]) == {"role-processor", f"tenant-{USCC.lower()}"}
    assert auth.request_otp and auth.manage_groups


async def test_when_the_tenant_is_suspended_then_refresh_ends_the_session_and_spawn_is_refused(
    db_url, alice, ctx_factory
):
    auth = PlatformAuthenticator(db_url=db_url)
    assert (await auth.refresh_user(FakeUser("alice")))["name"] == "alice"
    await auth.pre_spawn_start(FakeUser("alice"), FakeSpawner())
    with ctx_factory() as ctx:
        tenants.change_status(ctx, "甲科技", "suspend", "检查")
    assert await auth.refresh_user(FakeUser("alice")) is False
    with pytest.raises(web.HTTPError) as e:
        await auth.pre_spawn_start(FakeUser("alice"), FakeSpawner())
    assert e.value.status_code == 403
    assert "暂停" in e.value.jupyterhub_message and "suspended" in e.value.jupyterhub_message


def test_when_a_code_is_one_step_old_then_it_is_accepted_once_and_never_replayed():
    secret = pyotp.random_base32()
    now = 1_800_000_000.0
    previous = pyotp.TOTP(secret).at(now - 30)
    step = totp_step(secret, previous, last_step=None, at=now)
    assert step == int(now // 30) - 1
    assert totp_step(secret, previous, last_step=step, at=now) is None
    assert totp_step(secret, pyotp.TOTP(secret).at(now - 90), last_step=None, at=now) is None
    assert totp_step(secret, "12345", last_step=None, at=now) is None


def test_when_the_lockout_window_has_passed_then_old_failures_no_longer_count(db, alice):
    from hub.auth.gate import Denied, Gate

    now = [datetime.now(UTC)]  # the gate's clock, moved by the test rather than by sleeping
    gate = Gate(db, max_failures=2, window=timedelta(minutes=15), clock=lambda: now[0])
    for _ in range(2):
        with pytest.raises(Denied):
            gate.login("alice", "wrong-password", "000000")
    now[0] += timedelta(minutes=14, seconds=59)
    with pytest.raises(Denied) as e:
        gate.login("alice", PASSWORD, pyotp.TOTP(alice).now())
    assert e.value.code == "locked"
    now[0] += timedelta(seconds=2)
    assert gate.login("alice", PASSWORD, pyotp.TOTP(alice).now())["name"] == "alice"


@pytest.mark.parametrize(
    ("case", "password", "otp"),
    [
        ("right password, wrong code", PASSWORD, "000000"),
        ("right password, no code", PASSWORD, ""),
        ("right password, malformed code", PASSWORD, "12 34x"),
        ("wrong password, no code", "wrong-password", None),
    ],
)
def test_when_a_login_fails_at_any_step_then_the_message_is_that_of_a_wrong_password(
    db, alice, case, password, otp
):
    from hub.auth.gate import Denied, Gate

    gate = Gate(db, max_failures=50)
    with pytest.raises(Denied) as wrong:
        gate.login("alice", "wrong-password", "000000")
    with pytest.raises(Denied) as caught:
        gate.login("alice", password, otp)
    assert (caught.value.msg.zh, caught.value.msg.en) == (wrong.value.msg.zh, wrong.value.msg.en)
    with pytest.raises(Denied) as unknown:
        gate.login("mallory", password, otp)
    assert str(unknown.value.msg) == str(wrong.value.msg), case


def test_when_logins_are_attempted_in_parallel_then_no_more_than_the_limit_are_checked(db, alice):
    """Twelve guesses at once against a limit of three: three are checked, the rest are locked
    out without their password ever being tried, and the lockout is audited once."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from hub.auth.gate import Denied, Gate
    from hub.db.models import AuditEvent, LoginFailure

    gate = Gate(db, max_failures=3)

    def attempt(i: int) -> str:
        try:
            gate.login("alice", f"guess-{i}", "000000")
        except Denied as e:
            return e.code
        return "admitted"

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(attempt, range(12)))
    assert sorted(codes) == ["bad_password"] * 3 + ["locked"] * 9, codes
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 3
        lockouts = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "login.lockout")
        )
    assert lockouts == 1
    # Even the right password and code are locked out now.
    with pytest.raises(Denied) as e:
        gate.login("alice", PASSWORD, pyotp.TOTP(alice).now())
    assert e.value.code == "locked"


def test_when_the_credentials_are_right_but_admission_refuses_then_no_failure_is_counted(
    db, alice, ctx_factory
):
    from sqlalchemy import func, select

    from hub.auth.gate import Denied, Gate
    from hub.db.models import LoginFailure

    with ctx_factory() as ctx:
        tenants.change_status(ctx, "甲科技", "suspend", "抽查 / spot check")
    with pytest.raises(Denied) as e:
        Gate(db, max_failures=2).login("alice", PASSWORD, pyotp.TOTP(alice).now())
    assert e.value.code != "locked" and e.value.code not in ("bad_password", "otp_wrong")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 0
