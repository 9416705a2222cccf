"""OIDC mode: the unified identity provider logs the user in, then the platform admits them."""

from __future__ import annotations

import asyncio

from oauthenticator.generic import GenericOAuthenticator
from traitlets import default

from hub.auth.gate import Denied
from hub.auth.platform import PlatformLogin, http_error


class PlatformOIDCAuthenticator(PlatformLogin, GenericOAuthenticator):
    """GenericOAuthenticator whose users must also pass the platform's admission rules.

    The identity provider's ``username_claim`` must carry the platform username. Groups come from
    the platform DB, not from the provider.
    """

    @default("allow_all")
    def _default_allow_all(self):
        return True

    @default("manage_groups")
    def _default_manage_groups(self):
        return True

    async def check_allowed(self, username, auth_model):
        # Called by get_authenticated_user after the provider has authenticated the user.
        ip = ""
        subject = str(
            (auth_model.get("auth_state") or {}).get(self.user_auth_state_key, {}).get("sub", "")
        )
        try:
            admitted = await asyncio.to_thread(
                self.gate.login_federated, username, ip=ip, subject=subject
            )
        except Denied as e:
            raise http_error(e) from None
        auth_model["groups"] = admitted["groups"]
        return True

    async def refresh_user(self, user, handler=None):
        # Only platform admission is refreshed; provider tokens are not re-validated here.
        return await PlatformLogin.refresh_user(self, user, handler)
