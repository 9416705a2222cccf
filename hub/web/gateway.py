"""The data gateway: the only service a tenant workspace may call besides the hub API.

Started by JupyterHub as a managed service. Every call is authenticated with the caller's own
JupyterHub API token (HubAuth) and re-checked against admission. It records notebook executions
(``/api/executions``) and serves the SDK's data API (``/api/v1``, see :mod:`hub.web.data_api`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading

from jupyterhub.services.auth import HubAuth
from tornado import httpserver, web

from hub import audit, execution_keys, home, settings
from hub.access.origin import TenantNetworks
from hub.access.samples import SampleService
from hub.audit_anchor import Anchor
from hub.billing import prices
from hub.db.engine import Database
from hub.i18n import Msg
from hub.privacy.node import Node, platform_node
from hub.refusals import AccessDenied, BadRequest
from hub.web import api_models as m
from hub.web import (
    billing_api,
    data_api,
    privacy_api,
    production_api,
    registration_api,
    requests_api,
    serve,
)
from hub.web.api_routes import Operation, Route, tornado_rules
from hub.web.base import GatewayHandler, NoRouteHandler

log = logging.getLogger("shuyu.gateway")
MAX_CODE = 200_000  # characters of a cell recorded in full; longer cells are cut, with their length


class ExecutionHandler(GatewayHandler):
    """POST one notebook execution or file save, before it takes effect (see
    ``kernels/exec_audit.py``). Only the workspace's server process can sign a record with its
    server's key (:mod:`hub.execution_keys`); anything else (kernel code holding the user's token,
    a forged or edited body) is refused."""

    api = {
        "post": Operation(
            "Record one notebook execution or file save, signed by the workspace's server",
            m.Recorded,
            status=201,
            body=m.ExecutionRecord,
            refusals=(BadRequest,),
        )
    }

    async def post(self) -> None:
        await self.admit_staff()
        raw = self.request.body or b""
        body = json.loads(raw or b"{}")  # a JSON object: the declared body was validated
        server = str(body.get("server", ""))
        signature = self.request.headers.get(execution_keys.HEADER, "")
        if not execution_keys.verify(
            self.settings["exec_master"], self.caller["name"], server, raw, signature
        ):
            log.warning("unsigned execution record from %r refused", self.caller["name"])
            raise AccessDenied(
                Msg("记录未经工作空间服务签名", "the record is not signed by the server"),
                "unsigned",
            )
        if body.get("kind") == "file_save":
            action, details = "workspace.file_save", self._file_save(body)
        else:
            action, details = "kernel.execute", self._cell(body)
        event = await asyncio.to_thread(
            self.settings["writer"].write,
            action,
            actor=self.caller["name"],
            tenant=self.tenant,
            object=(server or "default")[:64],
            details=details,
        )
        self.set_status(201)
        self.finish({"id": event["id"], "hash": event["hash"]})

    @staticmethod
    def _cell(body: dict) -> dict:
        code = str(body.get("code", ""))
        return {
            "code": code[:MAX_CODE],
            "code_length": len(code),
            "kernel": str(body.get("kernel_id", ""))[:64],
            "msg_id": str(body.get("msg_id", ""))[:128],
            "session": str(body.get("session", ""))[:128],
        }

    @staticmethod
    def _file_save(body: dict) -> dict:
        content = str(body.get("content", ""))
        return {
            "path": str(body.get("path", ""))[:1024],
            "type": str(body.get("type", ""))[:16],
            "format": str(body.get("format", ""))[:16],
            "content": content[:MAX_CODE],
            "content_length": len(content),
            "sha256": hashlib.sha256(content.encode()).hexdigest(),
        }


class HealthHandler(GatewayHandler):
    api = {"get": Operation("Whether the gateway is up", m.Health, public=True)}

    def get(self) -> None:
        self.finish({"status": "ok"})


def gateway_routes() -> list[Route]:
    """Every route of the gateway, each with its declaration (see :mod:`hub.web.openapi`)."""
    return [
        Route("/api/executions", ExecutionHandler),
        Route("/api/health", HealthHandler),
        *data_api.routes(),
        *requests_api.routes(),
        *production_api.routes(),
        *registration_api.routes(),
        *billing_api.routes(),
        *privacy_api.routes(),
    ]


def make_app(
    db: Database,
    hub_auth: HubAuth,
    prefix: str,
    samples: SampleService,
    exec_master: bytes | None = None,
    config: settings.Settings | None = None,
    privacy: Node | None = None,
) -> web.Application:
    """The gateway's application; ``samples`` carries the tenant networks calls are checked
    against; ``exec_master`` is the secret servers' record keys derive from (the platform's);
    ``config`` the platform's settings (default: :func:`hub.settings.load`); ``privacy`` the
    platform's privacy node (proposals to parties, progress of their runs)."""
    config = config or settings.load()
    prefix = prefix.rstrip("/")
    routes = gateway_routes()
    return web.Application(
        tornado_rules(prefix, routes),
        default_handler_class=NoRouteHandler,
        api_routes=routes,
        hub_auth=hub_auth,
        db=db,
        writer=audit.AuditWriter(db),
        exec_master=exec_master or home.secret(execution_keys.MASTER),
        samples=samples,
        networks=samples.networks,
        store=samples.store,
        rules=(config.review_rules.policy, config.review_rules.checks),
        production=config.production_rules,
        prices=prices.book(config.price_book),
        privacy=privacy,
    )


def _warm_up(db: Database, config: settings.Settings, privacy: Node | None = None) -> None:
    """Load the PII detectors, then finish the checks a previous run left undone."""
    from hub.masking.detectors import mask_text
    from hub.review import runner

    mask_text("患者张三，电话13800000000")
    resumed = runner.resume(
        db,
        home.domain_store(),
        config.review_rules.checks,
        config.production_rules,
        privacy,
        config.price_book.product_caps,
    )
    if resumed:
        log.info("resumed the checks of requests %s", resumed)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)s %(asctime)s gateway] %(message)s"
    )
    config = settings.load()  # once, at startup: the one document jupyterhub_config.py hands us
    db = Database(home.default_db_url(), anchor=Anchor.for_home(home.shuyu_home()))
    hub_auth = HubAuth(cache_max_age=30)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/gateway/")
    samples = SampleService(
        db,
        home.domain_store(),
        home.secret("masking_master"),
        limits=config.sample_limits,
        networks=TenantNetworks(os.environ.get("SHUYU_TENANT_NETWORK", "")),
    )
    node = platform_node(config.privacy, home.shuyu_home())
    app = make_app(db, hub_auth, prefix, samples, config=config, privacy=node)
    port = int(os.environ.get("SHUYU_GATEWAY_PORT", "8090"))
    # Loopback only: workspaces reach the gateway on their tenant link's host address, which the
    # link's firewall forwards to loopback; the public proxy has no route to it. (In Kubernetes,
    # where the gateway is its own pod, SHUYU_GATEWAY_BIND=0.0.0.0 and network policies decide.)
    # No xheaders: workspaces call the gateway directly, so forwarded-for headers are theirs to forge.
    server = httpserver.HTTPServer(app, max_body_size=256 << 20)  # exports up to the limit
    server.listen(port, os.environ.get("SHUYU_GATEWAY_BIND", "127.0.0.1"))
    log.info("gateway listening on port %s under %s", port, prefix)
    # The PII detectors take seconds to import (presidio); load them now, not at the first sample.
    threading.Thread(target=_warm_up, args=(db, config, node), name="warm-up", daemon=True).start()
    serve.until_stopped()


if __name__ == "__main__":
    main()
