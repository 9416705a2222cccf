"""The gateway's base handler: bearer-token authentication through the hub, refusals as JSON."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from jupyterhub.services.auth import HubAuth
from tornado import web

from hub import admission
from hub.db.engine import Database
from hub.services.headers import NoFramingMixin
from hub.serving.origin import TenantNetworks
from hub.serving.refusals import Refusal

log = logging.getLogger("shuyu.gateway")
PROXY_HEADERS = (
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Real-Ip",
    "Forwarded",
)


class GatewayHandler(NoFramingMixin, web.RequestHandler):
    """Base handler: the caller is the owner of the bearer token; admission holds or 403."""

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings["hub_auth"]

    @property
    def db(self) -> Database:
        return self.settings["db"]

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, Refusal):
            self.set_status(exc.status)
            self.finish(exc.body())
            return
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        else:  # details stay in the log, never in the answer
            message = "网关内部错误 / internal gateway error"
        self.finish({"error": message, "status": status_code})

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, Refusal):  # an answer, not a fault
            log.info("refused %s %s: %s", self.request.method, self.request.path, value.code)
            return
        super().log_exception(typ, value, tb)

    async def prepare(self) -> None:
        await self.authenticate()
        decision = await asyncio.to_thread(self._admit, self.caller["name"])
        if not decision.allowed:
            raise web.HTTPError(403, str(decision.reason))

    def refuse_proxied(self) -> None:
        """Refuse a call relayed by a proxy (the public one adds ``X-Forwarded-*``).

        The public proxy has no route to the gateway; should one ever be added, every call
        through it would look local (127.0.0.1) and skip the tenant-network check, so such calls
        are refused here as well. Workspaces and the platform call the gateway directly.
        """
        if any(h in self.request.headers for h in PROXY_HEADERS):
            raise web.HTTPError(
                403,
                "数据网关只能在工作空间内调用 / the data gateway is reachable only from workspaces",
            )

    async def authenticate(self) -> None:
        """The caller is the owner of the bearer token (a user, not a service), calling
        directly rather than through a proxy."""
        self.refuse_proxied()
        header = self.request.headers.get("Authorization", "")
        token = (
            header.split(" ", 1)[1].strip()
            if header.lower().startswith(("token ", "bearer "))
            else ""
        )
        if not token:
            raise web.HTTPError(401, "需要 API 令牌 / an API token is required")
        model = await self.hub_auth.user_for_token(token, sync=False)
        if not model or model.get("kind", "user") != "user":
            raise web.HTTPError(403, "令牌无效 / invalid token")
        self.caller = model

    @property
    def networks(self) -> TenantNetworks:
        return self.settings["networks"]

    def _admit(self, username: str) -> admission.Admission:
        """Admission today; a :class:`Refusal` if the call comes from another tenant's network."""
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            decision = admission.admit(staff, date.today())
            if decision.allowed and staff.tenant_id is not None:
                self.networks.check(self.request.remote_ip, staff.tenant_id)
            return decision

    @property
    def tenant(self) -> str:
        return next((g for g in self.caller.get("groups", []) if g.startswith("tenant-")), "")
