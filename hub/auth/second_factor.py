"""The platform's own second factor after an identity provider login that asserted none.

The provider's ID token says how the person authenticated (``amr``, RFC 8176, and ``acr``).
When it shows no second factor, the OIDC callback does not log anyone in: it keeps the pending
login here, on the hub's side, under a random token in a signed short-lived cookie, and sends the
browser to :class:`SecondFactorHandler`. Only a right one-time code there creates the hub session
(and binds a first-time subject); skipping the page leaves no session at all.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from jupyterhub._xsrf_utils import _set_xsrf_cookie
from jupyterhub.handlers import BaseHandler
from tornado import web

from hub.i18n import Msg

# amr values (RFC 8176) that are themselves a second factor or say several were used.
MFA_AMR = ("mfa", "otp", "hwk")
COOKIE = "shuyu-oidc-second-factor"
EXPIRED = Msg(
    "登录已过期，请重新通过统一身份认证登录",
    "the login has expired: sign in through the identity provider again",
)
PROMPT = Msg(
    "统一身份认证未验证第二因素，请输入平台动态验证码",
    "the identity provider did not check a second factor: enter your platform one-time code",
)


def provider_asserted_mfa(
    claims: Mapping[str, object], amr_values: Iterable[str], acr_values: Iterable[str]
) -> bool:
    """Whether the ID token's ``amr`` or ``acr`` shows a second factor the platform accepts."""
    amr = claims.get("amr")
    if isinstance(amr, str):  # a single value where a list is due: read it as one
        amr = [amr]
    if isinstance(amr, list) and set(map(str, amr)) & set(amr_values):
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in set(acr_values)


@dataclass
class PendingLogin:
    """An identity provider login waiting for the platform's one-time code."""

    username: str  # the staff record the subject resolved to (not the provider's claim)
    subject: str
    auth_state: dict
    next_url: str
    expires: float
    tries: int = field(default=0)


class SecondFactorRequired(web.HTTPError):
    """Raised by the authenticator instead of returning a user: no session exists yet.

    A 401 if nothing catches it (never a login); the OIDC callback turns it into the redirect to
    the one-time code page."""

    def __init__(self, pending: PendingLogin):
        super().__init__(401, "second factor required")
        self.pending = pending


class PendingLogins:
    """Pending logins of this hub process, by a random token; expired ones are dropped."""

    def __init__(self, ttl: float = 300, max_tries: int = 3):
        self.ttl = ttl
        self.max_tries = max_tries
        self._by_token: dict[str, PendingLogin] = {}

    def hold(self, pending: PendingLogin) -> str:
        self._sweep()
        token = secrets.token_urlsafe(32)
        pending.expires = time.monotonic() + self.ttl
        self._by_token[token] = pending
        return token

    def get(self, token: str) -> PendingLogin | None:
        self._sweep()
        return self._by_token.get(token)

    def failed(self, token: str) -> None:
        """Count a wrong code; the pending login is dropped after ``max_tries`` of them."""
        pending = self._by_token.get(token)
        if pending is not None:
            pending.tries += 1
            if pending.tries >= self.max_tries:
                self._by_token.pop(token, None)

    def take(self, token: str) -> None:
        self._by_token.pop(token, None)

    def _sweep(self) -> None:
        now = time.monotonic()
        for token in [t for t, p in self._by_token.items() if p.expires < now]:
            del self._by_token[token]


class SecondFactorHandler(BaseHandler):
    """``/hub/oidc/second-factor``: the one-time code form, and its check."""

    def _token(self) -> str:
        raw = self.get_secure_cookie(COOKIE, max_age_days=1)
        return raw.decode("ascii", "replace") if raw else ""

    def _pending(self) -> PendingLogin:
        pending = self.authenticator.pending.get(self._token())
        if pending is None:
            err = web.HTTPError(403, "%s", str(EXPIRED))
            err.jupyterhub_message = str(EXPIRED)
            raise err
        return pending

    async def _form(self, error: str = "") -> None:
        _set_xsrf_cookie(
            self, self._xsrf_token_id, cookie_path=self.hub.base_url, xsrf_token=self.xsrf_token
        )
        html = await self.render_template(
            "hub_second_factor.html",
            prompt=str(PROMPT),
            error=error,
            xsrf=self.xsrf_token.decode("ascii"),
            action=self.request.path,
        )
        self.finish(html)

    async def get(self) -> None:
        self._pending()
        await self._form()

    async def post(self) -> None:
        token = self._token()
        pending = self._pending()
        otp = self.get_body_argument("otp", "")
        try:
            model = await self.authenticator.complete_second_factor(
                pending, otp, self.request.remote_ip
            )
        except web.HTTPError as e:
            self.authenticator.pending.failed(token)
            self.set_status(e.status_code)
            await self._form(getattr(e, "jupyterhub_message", "") or str(EXPIRED))
            return
        self.authenticator.pending.take(token)
        self.clear_cookie(COOKIE, path=self.hub.base_url)
        user = await self.auth_to_user(model)
        self.set_login_cookie(user)
        user._auth_refreshed = time.monotonic()
        self._jupyterhub_user = user  # as the login form's handler: the landing is the user's
        self.log.info("User logged in: %s (identity provider + one-time code)", user.name)
        self.redirect(pending.next_url or self.get_next_url(user))
