"""OIDC mode: the unified identity provider logs the user in, then the platform admits them."""

from __future__ import annotations

import asyncio

from oauthenticator.generic import GenericOAuthenticator

from hub.auth.gate import Denied
from hub.auth.platform import PlatformLogin, http_error


class PlatformOIDCAuthenticator(PlatformLogin, GenericOAuthenticator):
    """GenericOAuthenticator whose users must also pass the platform's admission rules.

    The identity provider's ``username_claim`` must carry the platform username. Groups come from
    the platform DB, not from the provider; refresh and spawn re-run admission as for passwords.
    """

    async def check_allowed(self, username, auth_model):
        # Called by get_authenticated_user after the provider has authenticated the user.
        subject = str(
            (auth_model.get("auth_state") or {}).get(self.user_auth_state_key, {}).get("sub", "")
        )
        try:
            admitted = await asyncio.to_thread(self.gate.login_federated, username, subject=subject)
        except Denied as e:
            raise http_error(e) from None
        auth_model["groups"] = admitted["groups"]
        return True
