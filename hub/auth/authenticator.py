"""``PlatformAuthenticator``: password (argon2id) + TOTP, lockout, then admission."""

from __future__ import annotations

import asyncio

from jupyterhub.auth import Authenticator
from traitlets import default

from hub.auth.gate import Denied
from hub.auth.platform import PlatformLogin, http_error


class PlatformAuthenticator(PlatformLogin, Authenticator):
    """Admit only active, real-name-verified, trained staff of tenants with a valid agreement.

    The one-time code uses JupyterHub's own OTP field (``request_otp``, form field ``otp``).
    Denials are raised as 403 errors whose message JupyterHub shows on the login form.
    """

    @default("request_otp")
    def _default_request_otp(self):
        return True

    @default("otp_prompt")
    def _default_otp_prompt(self):
        return "动态验证码 / One-time code:"

    @default("auth_refresh_age")
    def _default_auth_refresh_age(self):
        return 60

    async def authenticate(self, handler, data):
        ip = handler.request.remote_ip if handler is not None else ""
        try:
            return await asyncio.to_thread(
                self.gate.login,
                data.get("username", ""),
                data.get("password", ""),
                data.get("otp"),
                ip=ip,
            )
        except Denied as e:
            self.log.info("Login of %r denied: %s", data.get("username", "")[:64], e.code)
            raise http_error(e) from None
