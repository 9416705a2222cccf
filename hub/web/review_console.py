"""The review console: a JupyterHub-managed service where reviewers decide requests.

Reviewers sign in through the hub (HubOAuth); only tokens holding ``custom:shuyu:review`` get
in. Pages, in Chinese and English (``?lang=en``): the queue per request kind and scenario, the
published products, and a request page with its purpose, requester, the frozen content as its
kind shows it (an export's rows, a job's code and run, a model's card, an import's masked rows,
and the lineage), every automated
check's verdict and reason, the tenant's release history, and approve / reject / return with a
reason (an override of failing checks needs the box ticked and a written reason). Every decision
goes through :mod:`hub.review.lifecycle`, which applies the rules and audits it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from pathlib import Path

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from sqlalchemy import select
from tornado import httpserver, web

from hub import home, kinds
from hub.audit_anchor import Anchor
from hub.db.engine import Database
from hub.db.models import Request, Scenario
from hub.i18n import Msg
from hub.kinds import model as model_kind
from hub.refusals import Conflict, NotFound, Refusal
from hub.review import lifecycle
from hub.review.checks import ORDER
from hub.web import console_views, serve
from hub.web.api_routes import Operation, Route, tornado_rules
from hub.web.console_api import JsonRoute, NoRouteHandler, OpenAPIHandler
from hub.web.console_base import ConsoleHandler, console_settings
from hub.web.console_models import ModelSummary
from hub.web.requests_api import REQUEST_ID
from sdk.statuses import RequestStatus as S

log = logging.getLogger("shuyu.review")


class ReviewHandler(ConsoleHandler):
    """A page of the review console: reviewers only."""

    hub_scopes = {"custom:shuyu:review"}


def _worst(request: Request) -> str:
    return max((c.verdict for c in request.checks), key=ORDER.__getitem__, default="")


QUEUE_STATUSES = (S.IN_REVIEW, S.APPROVED, S.RELEASED, S.REJECTED, S.RETURNED, S.WITHDRAWN)
"""The statuses the queue filters on, waiting first ("all" besides)."""


class QueueHandler(ReviewHandler):
    @web.authenticated
    async def get(self) -> None:
        status = self.get_query_argument("status", lifecycle.IN_REVIEW)
        kind = self.get_query_argument("kind", "")
        scenario = self.get_query_argument("scenario", "")

        def read():
            with self.db.session() as s:
                query = select(Request).order_by(Request.id)
                if status != "all":
                    query = query.where(Request.status == status)
                if kind:
                    query = query.where(Request.kind == kind)
                if scenario.isdigit():
                    query = query.where(Request.scenario_id == int(scenario))
                rows = [
                    {
                        "id": r.id, "kind": r.kind, "name": r.name, "tenant": r.tenant.name,
                        "scenario": r.scenario.name, "requester": r.requester, "level": r.level,
                        "approvals": sum(d.decision == "approve" for d in r.decisions),
                        "needed": r.approvals_needed, "status": r.status, "worst": _worst(r),
                        "submitted": r.submitted_at.strftime("%Y-%m-%d %H:%M") if r.submitted_at else "",
                    }
                    for r in s.scalars(query)
                ]  # fmt: skip
                scenarios = [
                    (x.id, x.name) for x in s.scalars(select(Scenario).order_by(Scenario.id))
                ]
                return rows, scenarios

        rows, scenarios = await asyncio.to_thread(read)
        self.render_page(
            "review_queue.html", rows=rows, scenarios=scenarios, status_filter=status, kind=kind,
            scenario=scenario, status_filters=QUEUE_STATUSES, kind_names=kinds.names(),
        )  # fmt: skip


class RequestPageHandler(ReviewHandler):
    def _load(self, request_id: int) -> dict:
        with self.db.session() as s:
            r = lifecycle.get(s, request_id)
            shown = console_views.content(s, r, self.settings["store"])
            history = s.scalars(
                select(Request)
                .where(
                    Request.tenant_id == r.tenant_id,
                    Request.status.in_((lifecycle.APPROVED, lifecycle.RELEASED)),
                    Request.id != r.id,
                )
                .order_by(Request.id.desc())
            ).all()
            return {
                "r": {
                    "id": r.id, "kind": r.kind, "name": r.name, "purpose": r.purpose,
                    "requester": r.requester, "tenant": r.tenant.name, "scenario": r.scenario.name,
                    "level": r.level, "status": r.status, "status_reason": r.status_reason or "",
                    "needed": r.approvals_needed, "sha256": r.content_sha256, "rows": r.rows,
                    "bytes": r.content_bytes, "frozen": lifecycle.frozen(r),
                    "decidable": r.status == lifecycle.IN_REVIEW,
                },
                "checks": [
                    {"name": c.name, "verdict": c.verdict, "reason": c.reason} for c in r.checks
                ],
                "decisions": [
                    {"reviewer": d.reviewer, "decision": d.decision, "reason": d.reason,
                     "override": d.override, "at": d.at.strftime("%Y-%m-%d %H:%M")}
                    for d in r.decisions
                ],
                "history": [
                    {"id": h.id, "name": h.name, "status": h.status, "rows": h.rows,
                     "sha256": h.content_sha256[:12]}
                    for h in history
                ],
                **shown,
            }  # fmt: skip

    async def show(self, request_id: int, error: str = "", notice: str = "", status: int = 200):
        page = await asyncio.to_thread(self._load, request_id)
        self.render_page(
            "review_request.html", http_status=status, error=error, notice=notice, **page
        )

    @web.authenticated
    async def get(self, request_id: str) -> None:
        await self.show(int(request_id))  # a refusal (404, …) is the error page

    @web.authenticated
    async def post(self, request_id: str) -> None:
        if self.get_body_argument("action", "") == "release_withheld":
            await self.release_withheld(int(request_id))
            return
        decision = self.get_body_argument("decision", "")
        reason = self.get_body_argument("reason", "")
        override = self.get_body_argument("override", "") == "on"
        reviewer = self.username

        def decide() -> str:
            with self.db.session() as s:
                return lifecycle.decide(s, int(request_id), reviewer, decision, reason,
                                        override=override).status  # fmt: skip

        try:
            status = await asyncio.to_thread(decide)
        except Refusal as refusal:
            await self.show(int(request_id), error=self.said(refusal.msg), status=refusal.status)
            return
        t = self.text
        await self.show(int(request_id), notice=f"{t['recorded']}: {t['status_' + status]}")

    async def release_withheld(self, request_id: int) -> None:
        """Release what the release checks held back (a job's parts, a computation's result)
        to its tenant (audited, by the request's kind)."""
        reason = self.get_body_argument("reason", "")
        reviewer = self.username

        def release() -> None:
            with self.db.session() as s:
                request = lifecycle.get(s, request_id)
                kinds.get(request.kind).release_held(
                    s, request, reviewer, reason, self.settings["store"]
                )

        try:
            await asyncio.to_thread(release)
        except Refusal as refusal:
            await self.show(request_id, error=self.said(refusal.msg), status=refusal.status)
            return
        await self.show(request_id, notice=self.text["withheld_released"])


class ModelSummaryHandler(JsonRoute, ReviewHandler):
    """The summary of a model request's frozen ONNX file (what the page shows), as JSON. The file
    itself is served to nobody: a reviewer reads the summary, not the model."""

    api = {
        "get": Operation(
            "The summary of a model request's frozen ONNX file (never the file)",
            ModelSummary,
            refusals=(NotFound, Conflict),
        )
    }

    @web.authenticated
    async def get(self, request_id: str) -> None:
        def read() -> dict:
            with self.db.session() as s:
                r = lifecycle.get(s, int(request_id))
                if not kinds.get(r.kind).model_file or not r.content_path:
                    raise NotFound(
                        Msg(f"申请 #{r.id} 没有模型文件", f"request #{r.id} has no model file")
                    )
                data = Path(r.content_path).read_bytes()
                if hashlib.sha256(data).hexdigest() != r.content_sha256:
                    raise Conflict(
                        Msg("文件与冻结的内容不一致", "the file differs from what was frozen"),
                        "tampered",
                    )
            found = model_kind.summary(data)
            if found is None:
                raise NotFound(
                    Msg(
                        f"申请 #{request_id} 的模型不是有效的 ONNX 模型",
                        f"the model of request #{request_id} is not a valid ONNX model",
                    )  # fmt: skip
                )
            return found

        found = await asyncio.to_thread(read)  # a refusal (404, …) is the error page
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        body = ModelSummary.model_validate(found).model_dump(mode="json")
        self.finish(json.dumps(body, ensure_ascii=False))


class ProductsHandler(ReviewHandler):
    """Published products: their company, scenario, status, live keys and metered calls."""

    @web.authenticated
    async def get(self) -> None:
        def read() -> list[dict]:
            with self.db.session() as s:
                return console_views.products(s)

        self.render_page("review_products.html", rows=await asyncio.to_thread(read))


API_ROUTES = [
    Route("/openapi.json", OpenAPIHandler),
    Route(
        "/requests/{request_id}/model-summary.json",
        ModelSummaryHandler,
        {"request_id": REQUEST_ID},
    ),
]
ABOUT = (
    "Shuyu review console / 数域审核台",
    "The console's JSON answers (its pages are HTML). Sign in through the hub, or send an API "
    "token of a reviewer.",
)


def make_app(
    db: Database, hub_auth: HubOAuth, prefix: str, store: Path | None = None
) -> web.Application:
    prefix = prefix.rstrip("/")
    return web.Application(
        [
            (rf"{prefix}/?", QueueHandler),
            (rf"{prefix}/products", ProductsHandler),
            (rf"{prefix}/requests/(?P<request_id>[0-9]{{1,12}})", RequestPageHandler),
            (rf"{prefix}/oauth_callback", HubOAuthCallbackHandler),
            *tornado_rules(prefix, API_ROUTES),
        ],
        **console_settings(
            db,
            hub_auth,
            prefix,
            store=store or home.domain_store(),
            api_routes=API_ROUTES,
            default_handler_class=NoRouteHandler,
            api_about=ABOUT,
        ),
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s review] %(message)s")
    db = Database(home.default_db_url(), anchor=Anchor.for_home(home.shuyu_home()))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/review/")
    hub_auth = HubOAuth(cache_max_age=10)
    app = make_app(db, hub_auth, prefix)
    port = int(os.environ.get("SHUYU_REVIEW_PORT", "8091"))
    server = httpserver.HTTPServer(app)
    server.listen(port, "127.0.0.1")  # reached through the proxy only, never from workspaces
    log.info("review console listening on port %s under %s", port, prefix)
    serve.until_stopped()


if __name__ == "__main__":
    main()
