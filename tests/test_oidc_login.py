"""The unified identity login's rules, against a real platform DB: which staff record a provider
subject logs in as, admission, and when the platform asks for its own one-time code."""

from __future__ import annotations

import json
import time

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthenticator.oauth2 import OAuthenticator
from sqlalchemy import select
from tornado import web

from hub.admission import REASONS
from hub.auth.gate import LOGIN_REASONS, Denied, Gate
from hub.auth.oidc import PlatformOIDCAuthenticator
from hub.auth.second_factor import (
    PendingLogin,
    PendingLogins,
    SecondFactorRequired,
    provider_asserted_mfa,
)
from hub.db.models import AuditEvent, Staff
from hub.ops import agreements, staff, tenants
from tests.test_cli import ID1, ID2, PASSWORD, USCC

TENANT = "甲科技"
ID3 = "110105194912310038"


@pytest.fixture
def people(ctx_factory) -> dict[str, str]:
    """alice and bob admitted, carol untrained; returns TOTP secrets by username."""
    secrets = {}
    with ctx_factory() as ctx:
        tenants.add(ctx, TENANT, USCC)
        agreements.sign(ctx, TENANT)
        for username, id_number in (("alice", ID1), ("bob", ID2), ("carol", ID3)):
            new = staff.add(ctx, username=username, real_name="张三", id_number=id_number,
                            mobile="13812345678", role="processor", password=PASSWORD,
                            tenant=TENANT)  # fmt: skip
            secrets[username] = new.totp_secret
            staff.verify(ctx, username)
            if username != "carol":
                staff.record_training(ctx, username, 90)
    return secrets


def subject_of(db, username: str) -> str | None:
    with db.session() as s:
        return s.scalar(select(Staff.oidc_subject).where(Staff.username == username))


def refused(call) -> str:
    with pytest.raises(Denied) as e:
        call()
    return e.value.code


# --- the subject → staff mapping ------------------------------------------------------------------
def test_when_policy_allows_then_the_first_login_binds_the_subject_and_another_one_is_refused(
    db, people
):
    gate = Gate(db)
    assert gate.login_federated("Alice", subject="idp-1", bind_unbound=True)["name"] == "alice"
    assert subject_of(db, "alice") == "idp-1"
    # A second provider account whose username claim is "alice" cannot take her record over.
    assert refused(lambda: gate.login_federated("alice", subject="idp-2", bind_unbound=True)) == (
        "oidc_subject_mismatch"
    )
    assert subject_of(db, "alice") == "idp-1"
    # Once bound, the subject alone says who logs in, whatever the username claim now says.
    assert gate.login_federated("bob", subject="idp-1", bind_unbound=True)["name"] == "alice"
    assert subject_of(db, "bob") is None


def test_when_policy_does_not_allow_binding_then_an_unbound_record_is_refused_until_an_admin_binds_it(
    db, people, ctx_factory
):
    gate = Gate(db)
    assert refused(lambda: gate.login_federated("alice", subject="idp-1")) == "oidc_unbound"
    assert subject_of(db, "alice") is None
    with ctx_factory() as ctx:
        staff.bind_subject(ctx, "alice", "idp-1", "统一身份认证开通 / IdP enrolment")
    assert gate.login_federated("alice", subject="idp-1")["name"] == "alice"
    with ctx_factory() as ctx, pytest.raises(Exception, match="already bound"):
        staff.bind_subject(ctx, "bob", "idp-1", "误操作 / mistake")


@pytest.mark.parametrize("subject", ["", "x" * 256])
def test_when_the_subject_is_missing_or_overlong_then_the_login_is_refused(db, people, subject):
    gate = Gate(db)
    assert refused(lambda: gate.login_federated("alice", subject=subject, bind_unbound=True)) == (
        "oidc_no_subject"
    )
    assert subject_of(db, "alice") is None


def test_when_the_username_claim_names_nobody_then_the_login_is_refused_as_unknown(db, people):
    assert refused(lambda: Gate(db).login_federated("mallory", subject="s", bind_unbound=True)) == (
        "unknown"
    )


# --- admission, the same as for passwords ---------------------------------------------------------
def test_when_admission_refuses_then_nothing_is_bound_and_the_refusal_is_audited(
    db, people, ctx_factory
):
    gate = Gate(db)
    assert refused(lambda: gate.login_federated("carol", subject="c", bind_unbound=True)) == (
        "training"
    )
    assert subject_of(db, "carol") is None
    assert refused(lambda: gate.check_federated("carol", subject="c", bind_unbound=True)) == (
        "training"
    )
    with ctx_factory() as ctx:
        tenants.change_status(ctx, TENANT, "suspend", "抽查 / spot check")
    assert refused(lambda: gate.login_federated("alice", subject="a", bind_unbound=True)) == (
        "tenant_suspended"
    )
    with db.session() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.actor == "alice").order_by(AuditEvent.id.desc())
        ).first()
    assert event.outcome == "denied" and event.reason == str(REASONS["tenant_suspended"])
    details = json.loads(event.details)
    assert details["via"] == "oidc" and details["subject"] == "a"


# --- the platform's own second factor -------------------------------------------------------------
@pytest.mark.parametrize(
    "claims, asserted",
    [
        ({"amr": ["pwd"]}, False),
        ({}, False),
        ({"amr": "pwd"}, False),
        ({"amr": ["pwd", "otp"]}, True),
        ({"amr": ["mfa"]}, True),
        ({"amr": "hwk"}, True),
        ({"acr": "urn:idp:loa:2"}, True),
        ({"acr": "urn:idp:loa:1"}, False),
        ({"amr": [{"mfa": 1}]}, False),
    ],
)
def test_when_the_id_token_shows_a_second_factor_then_no_platform_code_is_asked(claims, asserted):
    assert provider_asserted_mfa(claims, ["mfa", "otp", "hwk"], ["urn:idp:loa:2"]) is asserted


def test_when_the_second_factor_is_checked_by_the_platform_then_the_subject_is_bound_only_after_it(
    db, people
):
    gate = Gate(db)
    assert gate.check_federated("alice", subject="idp-1", bind_unbound=True) == "alice"
    assert subject_of(db, "alice") is None  # nothing bound before the code is right
    wrong = refused(
        lambda: gate.login_federated("alice", subject="idp-1", bind_unbound=True, otp="000000")
    )
    assert wrong == "otp_wrong" and subject_of(db, "alice") is None
    code = pyotp.TOTP(people["alice"]).now()
    model = gate.login_federated("alice", subject="idp-1", bind_unbound=True, otp=code)
    assert model["name"] == "alice" and subject_of(db, "alice") == "idp-1"
    replay = refused(
        lambda: gate.login_federated("alice", subject="idp-1", bind_unbound=True, otp=code)
    )
    assert replay == "otp_wrong"  # a code is used once


def test_when_the_subject_is_bound_to_another_record_meanwhile_then_the_code_does_not_log_in(
    db, people, ctx_factory
):
    gate = Gate(db)
    assert gate.check_federated("alice", subject="idp-x", bind_unbound=True) == "alice"
    with ctx_factory() as ctx:
        staff.bind_subject(ctx, "bob", "idp-x", "管理员绑定 / bound by an admin")
    code = pyotp.TOTP(people["alice"]).now()
    assert refused(
        lambda: gate.login_federated("alice", subject="idp-x", bind_unbound=True, otp=code)
    ) == ("oidc_subject_mismatch")
    assert subject_of(db, "alice") is None


def test_when_wrong_codes_follow_a_provider_login_then_they_count_toward_the_lockout(db, people):
    gate = Gate(db, max_failures=2)
    for _ in range(2):
        refused(lambda: gate.login_federated("bob", subject="b", bind_unbound=True, otp="000000"))
    code = pyotp.TOTP(people["bob"]).now()
    assert refused(
        lambda: gate.login_federated("bob", subject="b", bind_unbound=True, otp=code)
    ) == ("locked")


def test_when_a_pending_login_has_had_its_tries_or_its_time_then_it_is_gone():
    logins = PendingLogins(ttl=60, max_tries=2)
    token = logins.hold(PendingLogin("alice", "s", {}, "", 0.0))
    logins.failed(token)
    assert logins.get(token) is not None
    logins.failed(token)
    assert logins.get(token) is None
    token = logins.hold(PendingLogin("alice", "s", {}, "", 0.0))
    logins._by_token[token].expires = time.monotonic() - 1
    assert logins.get(token) is None


# --- the authenticator: a verified ID token decides ----------------------------------------------
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = "http://127.0.0.1:9"


class FakeJWKS:
    """The provider's key set: KEY's public half, as ``k1``."""

    def get_signing_keys(self) -> list[jwt.PyJWK]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
        return [jwt.PyJWK.from_dict({**jwk, "kid": "k1"})]

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        found = [k for k in self.get_signing_keys() if k.key_id == kid]
        if not found:
            raise jwt.PyJWKClientError(f"no key {kid}")
        return found[0]


def id_token(sub: str, key=KEY, **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "shuyu", "sub": sub, "iat": now, "exp": now + 300, **claims}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def oidc(db_url, monkeypatch):
    """The authenticator with oauthenticator's code exchange replaced by a given ID token."""
    auth = PlatformOIDCAuthenticator(
        db_url=db_url, client_id="shuyu", client_secret="s", oidc_issuer=ISSUER,
        authorize_url=f"{ISSUER}/authorize", token_url=f"{ISSUER}/token",
        bind_subject_on_first_login=True,
    )  # fmt: skip
    auth.__dict__["_jwks"] = FakeJWKS()
    issued = {}

    async def exchanged(self, handler, data=None, **kwargs):
        claims = jwt.decode(issued["token"], options={"verify_signature": False})
        return {"name": claims.get("preferred_username", ""), "auth_state": {
            "id_token": issued["token"], "oauth_user": claims}}  # fmt: skip

    monkeypatch.setattr(OAuthenticator, "authenticate", exchanged)

    async def login(token: str):
        issued["token"] = token
        return await auth.authenticate(None, {})

    return auth, login


async def test_when_the_provider_asserts_mfa_then_admission_logs_in_without_a_platform_code(
    oidc, people
):
    auth, login = oidc
    model = await login(id_token("idp-a", preferred_username="alice", amr=["pwd", "otp"]))
    assert model["name"] == "alice" and "role-processor" in model["groups"]
    assert auth.enable_pkce and auth.userdata_from_id_token


async def test_when_the_provider_asserts_no_mfa_then_no_user_until_the_platform_code_is_right(
    oidc, people
):
    auth, login = oidc
    with pytest.raises(SecondFactorRequired) as e:
        await login(id_token("idp-a", preferred_username="alice", amr=["pwd"]))
    pending = e.value.pending
    assert (pending.username, pending.subject) == ("alice", "idp-a")
    with pytest.raises(web.HTTPError) as wrong:
        await auth.complete_second_factor(pending, "000000", "127.0.0.1")
    assert wrong.value.status_code == 403
    assert wrong.value.jupyterhub_message == str(LOGIN_REASONS["otp_wrong"])
    model = await auth.complete_second_factor(
        pending, pyotp.TOTP(people["alice"]).now(), "127.0.0.1"
    )
    assert model["name"] == "alice" and "role-processor" in model["groups"]


@pytest.mark.parametrize(
    "case, token, reason",
    [
        ("untrained", lambda: id_token("c", preferred_username="carol", amr=["mfa"]),
         REASONS["training"]),
        ("forged signature", lambda: id_token("a", key=rsa.generate_private_key(
            public_exponent=65537, key_size=2048), preferred_username="alice", amr=["mfa"]),
         LOGIN_REASONS["oidc_no_subject"]),
        ("other issuer", lambda: id_token("a", preferred_username="alice", amr=["mfa"],
                                          iss="http://127.0.0.1:10"),
         LOGIN_REASONS["oidc_no_subject"]),
        ("other audience", lambda: id_token("a", preferred_username="alice", amr=["mfa"],
                                            aud="another-client"),
         LOGIN_REASONS["oidc_no_subject"]),
    ],
)  # fmt: skip
async def test_when_the_login_is_not_admissible_then_the_403_carries_the_bilingual_reason(
    oidc, people, case, token, reason
):
    auth, login = oidc
    with pytest.raises(web.HTTPError) as e:
        await login(token())
    assert e.value.status_code == 403, case
    assert e.value.jupyterhub_message == str(reason), case


async def test_when_admission_changes_then_refresh_and_spawn_decide_again(
    oidc, people, ctx_factory
):
    from tests.test_authenticators import FakeSpawner, FakeUser

    auth, _ = oidc
    with ctx_factory() as ctx:
        staff.bind_subject(ctx, "alice", "idp-alice", "开通 / opened")
    assert (await auth.refresh_user(FakeUser("alice")))["name"] == "alice"
    with ctx_factory() as ctx:
        tenants.change_status(ctx, TENANT, "revoke", "严重违规")
    assert await auth.refresh_user(FakeUser("alice")) is False
    with pytest.raises(web.HTTPError) as e:
        await auth.pre_spawn_start(FakeUser("alice"), FakeSpawner())
    assert "revoked" in e.value.jupyterhub_message


async def test_when_an_admin_unbinds_a_record_then_its_open_session_ends_at_the_next_refresh(
    oidc, people, ctx_factory, db
):
    from tests.test_authenticators import FakeUser

    auth, _ = oidc
    with ctx_factory() as ctx:
        staff.bind_subject(ctx, "alice", "idp-alice", "开通 / opened")
    assert (await auth.refresh_user(FakeUser("alice")))["name"] == "alice"
    with ctx_factory() as ctx:
        staff.bind_subject(ctx, "alice", None, "离职 / left")
    assert await auth.refresh_user(FakeUser("alice")) is False
    with db.session() as s:
        ended = s.scalars(select(AuditEvent).where(AuditEvent.action == "session.refresh")).all()
    assert [json.loads(e.details)["code"] for e in ended] == ["oidc_unbound"]


def test_when_an_admin_binds_a_subject_with_the_cli_then_that_account_logs_in_and_unbinding_ends_it(
    world, cli, db_url
):
    from hub.db.engine import Database

    assert cli("staff", "bind-oidc", "alice", "--subject", "idp-9", "--reason", "开通")[0] == 0
    db = Database(db_url)
    assert subject_of(db, "alice") == "idp-9"
    rc, _, err = cli("staff", "bind-oidc", "alice", "--reason", "")
    assert rc != 0 and subject_of(db, "alice") == "idp-9"  # a reason is required
    assert cli("staff", "bind-oidc", "alice", "--reason", "离职 / left")[0] == 0
    assert subject_of(db, "alice") is None
    db.dispose()
