"""The data gateway: the only service a tenant workspace may call besides the hub API.

Started by JupyterHub as a managed service. Every call is authenticated with the caller's own
JupyterHub API token (HubAuth) and re-checked against admission. This first version records
notebook executions; catalog and samples come with the desensitized-samples issue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from datetime import date

from jupyterhub.services.auth import HubAuth
from tornado import httpserver, ioloop, web

from hub import admission, audit, home
from hub.db.engine import Database

log = logging.getLogger("shuyu.gateway")
MAX_CODE = 200_000  # characters of a cell recorded in full; longer cells are cut, with their length


class GatewayHandler(web.RequestHandler):
    """Base handler: the caller is the owner of the bearer token; admission holds or 403."""

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings["hub_auth"]

    @property
    def db(self) -> Database:
        return self.settings["db"]

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        else:  # details stay in the log, never in the answer
            message = "网关内部错误 / internal gateway error"
        self.finish({"error": message, "status": status_code})

    async def prepare(self) -> None:
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
        decision = await asyncio.to_thread(self._admit, model["name"])
        if not decision.allowed:
            raise web.HTTPError(403, str(decision.reason))

    def _admit(self, username: str):
        with self.db.session() as s:
            return admission.check(s, username, date.today())

    @property
    def tenant(self) -> str:
        return next((g for g in self.caller.get("groups", []) if g.startswith("tenant-")), "")


class ExecutionHandler(GatewayHandler):
    """POST one notebook execution, before the kernel runs it (see ``kernels/exec_audit.py``)."""

    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "请求体不是 JSON / the body is not JSON") from None
        code = str(body.get("code", ""))
        details = {
            "code": code[:MAX_CODE],
            "code_length": len(code),
            "kernel": str(body.get("kernel_id", ""))[:64],
            "msg_id": str(body.get("msg_id", ""))[:128],
            "session": str(body.get("session", ""))[:128],
        }
        event = await asyncio.to_thread(
            self.settings["writer"].write,
            "kernel.execute",
            actor=self.caller["name"],
            tenant=self.tenant,
            object=str(body.get("server", "") or "default")[:64],
            details=details,
        )
        self.set_status(201)
        self.finish({"id": event["id"], "hash": event["hash"]})


class HealthHandler(web.RequestHandler):
    def get(self) -> None:
        self.finish({"status": "ok"})


def make_app(db: Database, hub_auth: HubAuth, prefix: str) -> web.Application:
    prefix = prefix.rstrip("/")
    return web.Application(
        [
            (rf"{prefix}/api/executions", ExecutionHandler),
            (rf"{prefix}/api/health", HealthHandler),
        ],
        hub_auth=hub_auth,
        db=db,
        writer=audit.AuditWriter(db),
    )


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)s %(asctime)s gateway] %(message)s"
    )
    db = Database(home.default_db_url())
    hub_auth = HubAuth(cache_max_age=30)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/gateway/")
    app = make_app(db, hub_auth, prefix)
    port = int(os.environ.get("SHUYU_GATEWAY_PORT", "8090"))
    # Workspaces reach the gateway on their tenant link's host address; the firewall admits
    # only this port (and the hub API) from each tenant network.
    # No xheaders: workspaces call the gateway directly, so forwarded-for headers are theirs to forge.
    server = httpserver.HTTPServer(app)
    server.listen(port, os.environ.get("SHUYU_GATEWAY_BIND", "0.0.0.0"))
    log.info("gateway listening on port %s under %s", port, prefix)
    loop = ioloop.IOLoop.current()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: loop.add_callback_from_signal(loop.stop))
    loop.start()


if __name__ == "__main__":
    main()
