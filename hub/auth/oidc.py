"""OIDC mode: the unified identity provider logs the user in, then the platform admits them.

The flow is the authorization code flow with PKCE (oauthenticator's ``enable_pkce``). The ID
token is verified here (RS256 signature against the provider's JWKS, issuer, audience, expiry):
its ``sub`` is the identity the platform binds to a staff record (see :mod:`hub.auth.gate`), and
its ``amr``/``acr`` say whether the provider checked a second factor; when it did not, the
platform asks for its own one-time code (:mod:`hub.auth.second_factor`) before any session exists.
"""

from __future__ import annotations

import asyncio
from functools import cached_property

import jwt
import requests
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, _deserialize_state
from traitlets import Bool, Integer, List, Unicode, default

from hub.auth.gate import Denied
from hub.auth.platform import PlatformLogin, http_error
from hub.auth.second_factor import (
    COOKIE,
    MFA_AMR,
    PendingLogin,
    PendingLogins,
    SecondFactorHandler,
    SecondFactorRequired,
    provider_asserted_mfa,
)


class PlatformOIDCCallbackHandler(OAuthCallbackHandler):
    """The OAuth callback: a login that still needs the platform's one-time code goes to its
    page, with no hub session; any other outcome is oauthenticator's."""

    async def get(self) -> None:
        try:
            await super().get()
        except SecondFactorRequired as e:
            state = self.get_state_cookie()  # read (and cleared) by the state check
            e.pending.next_url = (_deserialize_state(state) if state else {}).get("next_url") or ""
            token = self.authenticator.pending.hold(e.pending)
            # Signed, HTTP-only, secure under https: the hub's own cookie settings.
            self._set_cookie(COOKIE, token, expires_days=None, path=self.hub.base_url)
            self.redirect(self.hub.base_url + "oidc/second-factor")


class PlatformOIDCAuthenticator(PlatformLogin, GenericOAuthenticator):
    """GenericOAuthenticator whose users must also pass the platform's admission rules.

    The provider's ``sub`` decides which staff record logs in once it is bound; the
    ``username_claim`` is read only to find a record not bound yet. Groups come from the platform
    DB, not from the provider; refresh and spawn re-run admission as for passwords.
    """

    callback_handler = PlatformOIDCCallbackHandler

    oidc_issuer = Unicode(
        "",
        config=True,
        help="The provider's issuer URL. When set, its /.well-known/openid-configuration gives "
        "the default authorize, token and JWKS URLs, and ID tokens must name it as issuer.",
    )
    jwks_url = Unicode(
        config=True, help="The provider's JWKS URL (default: from the issuer's discovery)."
    )
    bind_subject_on_first_login = Bool(
        False,
        config=True,
        help="Bind an unbound staff record to the provider's subject at its first complete login "
        "(found by the username claim). Off: an administrator binds subjects beforehand.",
    )
    mfa_amr_values = List(
        Unicode(),
        list(MFA_AMR),
        config=True,
        help="amr values of the ID token that count as a second factor checked by the provider.",
    )
    mfa_acr_values = List(
        Unicode(),
        [],
        config=True,
        help="acr values of the ID token that count as a second factor checked by the provider.",
    )
    second_factor_seconds = Integer(
        300, config=True, help="How long a login waits for the platform's one-time code."
    )

    @default("enable_pkce")
    def _default_pkce(self) -> bool:
        return True

    @default("userdata_from_id_token")
    def _default_from_id_token(self) -> bool:
        return True

    @default("scope")
    def _default_scope(self) -> list[str]:
        return ["openid", "profile"]

    @default("username_claim")
    def _default_username_claim(self) -> str:
        return "preferred_username"

    @default("authorize_url")
    def _default_authorize_url(self) -> str:
        return self._discovered("authorization_endpoint")

    @default("token_url")
    def _default_token_url(self) -> str:
        return self._discovered("token_endpoint")

    @default("jwks_url")
    def _default_jwks_url(self) -> str:
        return self._discovered("jwks_uri")

    @default("login_service")
    def _default_login_service(self) -> str:
        return "统一身份认证 / unified identity"

    @default("auth_refresh_age")
    def _default_auth_refresh_age(self) -> int:
        return 60

    @cached_property
    def _discovery(self) -> dict:
        if not self.oidc_issuer:
            return {}
        url = self.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        answer = requests.get(url, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def _discovered(self, key: str) -> str:
        return str(self._discovery.get(key, ""))

    @cached_property
    def _jwks(self) -> jwt.PyJWKClient:
        return jwt.PyJWKClient(self.jwks_url, cache_keys=True)

    @cached_property
    def pending(self) -> PendingLogins:
        return PendingLogins(ttl=self.second_factor_seconds)

    async def refresh_user(self, user, handler=None):
        """Admission again, and the record still bound: unbinding a staff record's provider
        account (``shuyu staff bind-oidc`` without a subject) ends its open sessions."""
        model = await asyncio.to_thread(self.gate.refresh, user.name, True)
        return model if model is not None else False

    def get_handlers(self, app) -> list:
        return [*super().get_handlers(app), (r"/oidc/second-factor", SecondFactorHandler)]

    def verified_claims(self, id_token: str) -> dict:
        """The ID token's claims after checking its signature (RS256, the provider's JWKS),
        audience, expiry and, when an issuer is configured, issuer. Blocking (JWKS fetch)."""
        return jwt.decode(
            id_token,
            self._signing_key(id_token),
            algorithms=["RS256"],
            audience=self.client_id,
            issuer=self.oidc_issuer.rstrip("/") or None,
            options={"require": ["sub", "exp", "iat", "aud"]},
        )

    def _signing_key(self, id_token: str):
        """The JWKS key the token names (``kid``); a token naming none needs a one-key JWKS."""
        kid = jwt.get_unverified_header(id_token).get("kid")
        if kid:
            return self._jwks.get_signing_key(kid).key
        keys = self._jwks.get_signing_keys()
        if len(keys) != 1:
            raise jwt.InvalidTokenError("an ID token without kid, and not exactly one JWKS key")
        return keys[0].key

    async def authenticate(self, handler, data=None, **kwargs):
        """oauthenticator's code exchange, then the platform: subject, admission, second factor."""
        model = await super().authenticate(handler, data, **kwargs)
        auth_state = model.get("auth_state") or {}
        ip = handler.request.remote_ip if handler is not None else ""
        try:
            claims = await asyncio.to_thread(self._claims, auth_state)
            subject = str(claims["sub"])
            if provider_asserted_mfa(claims, self.mfa_amr_values, self.mfa_acr_values):
                admitted = await asyncio.to_thread(
                    self.gate.login_federated, model["name"], subject=subject, ip=ip,
                    bind_unbound=self.bind_subject_on_first_login,
                )  # fmt: skip
                return {**model, **admitted, "auth_state": auth_state}
            staff = await asyncio.to_thread(
                self.gate.check_federated, model["name"], subject=subject, ip=ip,
                bind_unbound=self.bind_subject_on_first_login,
            )  # fmt: skip
        except Denied as e:
            self.log.info("OIDC login of %r denied: %s", str(model["name"])[:64], e.code)
            raise http_error(e) from None
        raise SecondFactorRequired(PendingLogin(staff, subject, auth_state, "", 0.0))

    def _claims(self, auth_state: dict) -> dict:
        id_token = auth_state.get("id_token")
        if not id_token:
            raise Denied("oidc_no_subject")
        try:
            claims = self.verified_claims(id_token)
        except jwt.PyJWTError as e:
            self.log.warning("OIDC: ID token refused: %s", e)
            raise Denied("oidc_no_subject") from None
        user_info = auth_state.get(self.user_auth_state_key) or {}
        if str(user_info.get("sub", claims["sub"])) != str(claims["sub"]):
            raise Denied("oidc_subject_mismatch")  # userinfo of another person than the token's
        return claims

    async def complete_second_factor(self, pending: PendingLogin, otp: str, ip: str) -> dict:
        """The auth model once the platform's one-time code is right (binding the subject on a
        first login when policy allows); a refusal raises the 403 with its bilingual reason."""
        try:
            admitted = await asyncio.to_thread(
                self.gate.login_federated, pending.username, subject=pending.subject,
                bind_unbound=self.bind_subject_on_first_login, otp=otp, ip=ip,
            )  # fmt: skip
        except Denied as e:
            self.log.info("OIDC one-time code of %r denied: %s", pending.username, e.code)
            raise http_error(e) from None
        return {**admitted, "auth_state": pending.auth_state}
