"""The administration and supervision console: a JupyterHub-managed service.

Data-provider departments (``custom:shuyu:provide``) decide the data-list items of their own
datasets here and see nothing else. Admins (``custom:shuyu:admin``) run the programme here: suspend, revoke and reinstate companies,
suspend, resume and revoke parties (outside organisations' nodes; registered on the CLI), renew or end agreements, set budgets; verify, disable, enable staff, record exam results, reset
second factors, change platform roles; read statements. Auditors (``custom:shuyu:audit``) read
everything — the trail filtered by company, person, action and time, its chain verified, exported
with its hashes for regulators, statements — and change nothing: every POST needs the admin
scope. Each change goes through :mod:`hub.ops` and is audited there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from datetime import date
from typing import ClassVar

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from sqlalchemy import select
from tornado import httpserver, web

from hub import audit, home
from hub.audit_anchor import Anchor
from hub.billing import annual, prices, statements
from hub.db.engine import Database
from hub.db.models import Tenant
from hub.i18n import UserError
from hub.ops import Ctx, catalog, lookup, onboarding, org
from hub.production import listing
from hub.refusals import Refusal
from hub.web import admin_actions, admin_views, product_views, serve
from hub.web import charts as charts_svg
from hub.web.admin_actions import Action
from hub.web.api_routes import Media, Operation, Route, tornado_rules
from hub.web.console_api import JsonRoute, NoRouteHandler, OpenAPIHandler
from hub.web.console_base import ConsoleHandler, console_settings
from hub.web.console_models import AuditExport, AuditExportQuery

log = logging.getLogger("shuyu.admin")
ADMIN, AUDIT, PROVIDE = "custom:shuyu:admin", "custom:shuyu:audit", "custom:shuyu:provide"
FILTERS = ("tenant", "actor", "action", "since", "until")


class AdminHandler(ConsoleHandler):
    """A page of the administration console: admins and auditors read, only admins change."""

    hub_scopes = {ADMIN, AUDIT}

    @property
    def can_change(self) -> bool:
        return self.has_scope(ADMIN)

    def page_values(self) -> dict:
        return {"can_change": self.can_change}

    async def show(self, error: str = "", notice: str = "", status: int = 200, **extra) -> None:
        """The page, with the outcome of a form if one was posted (hook)."""
        raise NotImplementedError


class ActionsHandler(AdminHandler):
    """A page whose form posts one of ``actions`` (named by the field ``action_field``), run
    as the signed-in admin; the page shows again with the outcome."""

    actions: ClassVar[Mapping[str, Action]] = {}
    action_field: ClassVar[str] = "action"
    subject_field: ClassVar[str] = ""  # the field naming what was changed, for the notice

    @web.authenticated
    async def get(self) -> None:
        await self.show()

    @web.authenticated
    async def post(self) -> None:
        self.require(ADMIN)
        name = self.get_body_argument(self.action_field, "")
        try:
            action = admin_actions.find(self.actions, name)
        except Refusal as refusal:  # nothing ran; said in both languages
            await self.show(str(refusal.msg), status=refusal.status)
            return
        form = lambda field: self.get_body_argument(field, "")  # noqa: E731

        def run(s) -> str | None:
            return action(Ctx(session=s, actor=self.username, pepper=self.settings["pepper"]), form)

        try:
            secret = await self.in_session(run)
        except (UserError, Refusal) as e:
            await self.show(self.said(e.msg), status=400)
            return
        subject = form(self.subject_field) if self.subject_field else ""
        done = f"{subject} · {name}" if subject else name
        extra = {"secret": secret} if secret else {}
        await self.show(notice=f"{self.text['recorded']}: {done}", **extra)


class TenantsHandler(ActionsHandler):
    actions = admin_actions.TENANT_ACTIONS
    action_field, subject_field = "command", "tenant"

    async def show(self, error: str = "", notice: str = "", status: int = 200, **extra) -> None:
        def read(s):
            return admin_views.tenants(s, self.settings["prices"], date.today())

        self.render_page("admin_tenants.html", status, rows=await self.in_session(read),
                         error=error, notice=notice)  # fmt: skip


class PartiesHandler(ActionsHandler):
    """Parties (outside organisations' nodes): listed, suspended, resumed and revoked with a
    reason through :func:`hub.ops.parties.change_status`, audited as on the CLI. Registering
    one stays on the CLI: it prints a bundle holding the party's private key."""

    actions = admin_actions.PARTY_ACTIONS
    action_field, subject_field = "command", "party"

    async def show(self, error: str = "", notice: str = "", status: int = 200) -> None:
        self.render_page("admin_parties.html", status, rows=await self.in_session(admin_views.parties),
                         error=error, notice=notice)  # fmt: skip


class DashboardHandler(AdminHandler):
    """One company: activity per day, requests by kind and status, this month's fees, staff."""

    @web.authenticated
    async def get(self, tenant_id: str) -> None:
        def read(s):
            return admin_views.dashboard(s, int(tenant_id), self.settings["prices"], date.today())

        board = await self.in_session(read)
        if not board:
            raise web.HTTPError(404)
        t = self.text
        charts = [
            charts_svg.bars(board["activity"], title=t["chart_activity"]),
            charts_svg.bars(board["requests"], title=t["chart_requests"]),
            charts_svg.bars(
                board["fees"], title=f"{t['chart_fees']} {board['month']} ({board['currency']})"
            ),
        ]
        self.render_page("admin_dashboard.html", board=board, charts=charts)


class StaffHandler(ActionsHandler):
    actions = admin_actions.STAFF_ACTIONS
    action_field, subject_field = "action", "username"

    async def show(
        self, error: str = "", notice: str = "", status: int = 200, secret: str = ""
    ) -> None:
        def read(s):
            return admin_views.staff(s, date.today())

        self.render_page("admin_staff.html", status, rows=await self.in_session(read), error=error,
                         notice=notice, secret=secret)  # fmt: skip


class AuditHandler(AdminHandler):
    def filters(self) -> dict[str, str]:
        return {k: v for k in FILTERS if (v := self.get_query_argument(k, "").strip())}

    @web.authenticated
    async def get(self) -> None:
        filters = self.filters()
        verify = self.get_query_argument("verify", "") == "1"

        def read():
            with self.db.session() as s:
                rows = admin_views.events(s, filters)
                rows = [{f: getattr(e, f) for f in admin_views.EXPORT_FIELDS} for e in rows]
            # Outside the transaction: on SQLite it holds the write lock the whole platform
            # appends under, and verification reads the whole trail.
            return rows, audit.verify(self.db.engine, self.db.anchor) if verify else None

        try:
            rows, report = await asyncio.to_thread(read)
        except ValueError:
            raise web.HTTPError(400) from None
        self.render_page("admin_audit.html", rows=rows, report=report, filters=filters)


class AuditExportHandler(JsonRoute, AuditHandler):
    """The trail with its chain hashes, for regulators; the export itself is audited."""

    api = {
        "get": Operation(
            "The matching audit events, oldest first, with their chain hashes (CSV, or JSON "
            "with the signed checkpoint of the chain's head)",
            Media(("text/csv", "application/json"), "The events",
                  headers={"X-Shuyu-Audit-Checkpoint": "string"},
                  models={"application/json": AuditExport}),
            query=AuditExportQuery,
        )
    }  # fmt: skip

    def filters(self) -> dict[str, str]:
        found = {k: getattr(self.args, k) for k in FILTERS}
        return {k: v.strip() for k, v in found.items() if v and v.strip()}

    @web.authenticated
    async def get(self) -> None:
        fmt = self.args.format
        filters = self.filters()

        def read():
            with self.db.session() as s:
                point, _ = self.db.anchor.read() if self.db.anchor else (None, True)
                text = admin_views.export(s, filters, fmt, point)
                audit.append(
                    s,
                    "audit.export",
                    actor=self.username,
                    details={"filters": filters, "format": fmt},
                )
                return text, point

        text, point = await asyncio.to_thread(read)
        if point is not None:  # the signed head travels with the file (JSON: in its body)
            self.set_header("X-Shuyu-Audit-Checkpoint", json.dumps(point.as_dict()))
        self.set_header(
            "Content-Type", f"{'application/json' if fmt == 'json' else 'text/csv'}; charset=utf-8"
        )
        self.set_header("Content-Disposition", f'attachment; filename="shuyu-audit.{fmt}"')
        self.finish(text)


class DataListHandler(AdminHandler):
    """Data-list items (一场景一清单一审定): a department decides its own datasets' items; admins
    and auditors read them all."""

    hub_scopes = {ADMIN, AUDIT, PROVIDE}

    async def show(self, error: str = "", notice: str = "", status: int = 200) -> None:
        provider = self.has_scope(PROVIDE)

        def read(s):
            return admin_views.data_list_items(s, self.username if provider else None)

        self.render_page("admin_datalists.html", status, rows=await self.in_session(read),
                         can_decide=provider, error=error, notice=notice)  # fmt: skip

    @web.authenticated
    async def get(self) -> None:
        await self.show()

    @web.authenticated
    async def post(self) -> None:
        self.require(PROVIDE)
        try:
            item_id = int(self.get_body_argument("item", ""))
        except ValueError:
            raise web.HTTPError(400) from None
        decision = self.get_body_argument("decision", "")
        reason = self.get_body_argument("reason", "")
        username = self.username

        def act(s) -> None:
            catalog.decide(
                Ctx(session=s, actor=username), item_id, decision, by=username, reason=reason
            )

        try:
            await self.in_session(act)
        except UserError as e:
            await self.show(self.said(e.msg), status=400)
            return
        await self.show(notice=f"{self.text['recorded']}: #{item_id} · {decision}")


class OnboardingHandler(ActionsHandler):
    """信息发布 → 申请提交 → 资格审查 → 专家评审 → 协调小组审定 → 协议签订, one form per step."""

    actions = admin_actions.ONBOARDING_STEPS
    action_field = "step"

    async def show(self, error: str = "", notice: str = "", status: int = 200) -> None:
        def read(s):
            return [(n.id, n.field, n.title, str(n.closes_on), [
                    {"id": a.id, "company": a.company, "uscc": a.uscc, "status": a.status,
                     "missing": [k for k, ok in a.checklist.items() if not ok],
                     "scores": [f"{x['expert']}: {x['score']}" for x in a.scores],
                     "reason": a.decision_reason or ""} for a in apps])
                    for n, apps in onboarding.pipeline(Ctx(session=s, actor=""))]  # fmt: skip

        self.render_page("admin_onboarding.html", status, notices=await self.in_session(read),
                         checklist=onboarding.CHECKLIST, error=error, notice=notice)  # fmt: skip


class ScenariosHandler(ActionsHandler):
    """Scenarios (一场景一清单一审定): filed by a company's admin on its behalf, revoked with a reason."""

    actions = admin_actions.SCENARIO_ACTIONS
    action_field = "command"

    async def show(self, error: str = "", notice: str = "", status: int = 200) -> None:
        self.render_page("admin_scenarios.html", status, rows=await self.in_session(admin_views.scenarios),
                         fields=org.FIELDS, error=error, notice=notice)  # fmt: skip


class StatementsHandler(AdminHandler):
    @web.authenticated
    async def get(self) -> None:
        name = self.get_query_argument("tenant", "")
        month = self.get_query_argument("month", date.today().strftime("%Y-%m"))
        fmt = self.get_query_argument("format", "html")

        def read():
            with self.db.session() as s:
                st = statements.statement(s, lookup.tenant(s, name), month, self.settings["prices"])
                return statements.to_csv(st) if fmt == "csv" else statements.to_html(st)

        try:
            text = await asyncio.to_thread(read)
        except (UserError, Refusal):
            raise web.HTTPError(404) from None
        self.set_header(
            "Content-Type", f"{'text/csv' if fmt == 'csv' else 'text/html'}; charset=utf-8"
        )
        self.finish(text)


class AnnualReportHandler(AdminHandler):
    """The yearly report of one operator, read-only, for admins and auditors (the hub's scope
    check keeps providers and processors out), with its CSV for download."""

    @web.authenticated
    async def get(self) -> None:
        name = self.get_query_argument("tenant", "").strip()
        raw_year = self.get_query_argument("year", str(date.today().year))
        fmt = self.get_query_argument("format", "html")

        def read():
            year = annual.check_year(raw_year)
            with self.db.session() as s:
                names = [t.name for t in s.scalars(select(Tenant).order_by(Tenant.name))]
                if not name:
                    return year, names, None
                return year, names, annual.reports(s, year, self.settings["prices"], name)

        try:
            year, names, reps = await asyncio.to_thread(read)
        except UserError as e:
            self.set_status(400 if e.field == "year" else 404)  # a bad year; else none found
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(_annual_page(raw_year, [], "", f"<p class=error>{_e(str(e.msg))}</p>"))
            return
        if fmt == "csv" and reps:
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", f"attachment; filename=annual-{year}.csv")
            self.finish(annual.to_csv(reps))
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        body = annual.body_html(reps[0]) if reps else ""
        self.finish(_annual_page(str(year), names, name, body))


class ProductsHandler(AdminHandler):
    """Data products and their registration state (read-only: registrations are requests,
    decided by reviewers)."""

    @web.authenticated
    async def get(self) -> None:
        self.render_page("admin_products.html", rows=await self.in_session(product_views.rows))


class ProductHandler(AdminHandler):
    """One product's 核验: lineage from the approved datasets to the model, the model's checks,
    its registrations; with the listing package of the registration in force."""

    @web.authenticated
    async def get(self, name: str, fmt: str | None = None) -> None:
        if fmt is None:
            month = self.get_query_argument("month", date.today().strftime("%Y-%m"))
            found = await self.in_session(lambda s: product_views.detail(s, name, month))
            self.render_page("admin_product.html", p=found)
            return
        currency = self.settings["prices"].currency
        package = await self.in_session(lambda s: listing.package(s, name, currency))
        if fmt == "json":
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.set_header("Content-Disposition", f"attachment; filename={name}-listing.json")
            self.finish(json.dumps(package, ensure_ascii=False, indent=1))
        else:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(listing.page(package))


def _e(text: str) -> str:
    import html

    return html.escape(text)


def _annual_page(year: str, names: list[str], chosen: str, body: str) -> str:
    from urllib.parse import urlencode

    options = "".join(
        f"<option{' selected' if n == chosen else ''}>{_e(n)}</option>" for n in names
    )
    csv_link = (
        f"<p><a id=csv href='annual?{_e(urlencode({'tenant': chosen, 'year': year, 'format': 'csv'}))}'>"
        "下载 CSV / Download CSV</a></p>"
        if chosen and body
        else ""
    )
    return (
        "<!doctype html><html lang=zh-CN><meta charset=utf-8>"
        "<title>年度报告 / Annual report</title>"
        "<h1>年度报告 / Annual report</h1>"
        "<form method=get><label>加工使用主体 Operator <select name=tenant>"
        f"{options}</select></label> <label>年份 Year <input name=year value='{_e(year)}' size=4>"
        "</label> <button>查看 / Show</button></form>"
        f"{csv_link}{body}</html>"
    )


API_ROUTES = [
    Route("/openapi.json", OpenAPIHandler),
    Route("/audit/export", AuditExportHandler),
]
ABOUT = (
    "Shuyu administration console / 数域管理与监管台",
    "The console's JSON answers (its pages are HTML). Sign in through the hub, or send an API "
    "token of an admin or auditor.",
)


def make_app(
    db: Database, hub_auth: HubOAuth, prefix: str, book: prices.PriceBook, pepper: bytes
) -> web.Application:
    prefix = prefix.rstrip("/")
    return web.Application(
        [
            (rf"{prefix}/?", TenantsHandler),
            (rf"{prefix}/staff", StaffHandler),
            (rf"{prefix}/parties", PartiesHandler),
            (rf"{prefix}/tenants/(?P<tenant_id>[0-9]{{1,9}})", DashboardHandler),
            (rf"{prefix}/audit", AuditHandler),
            (rf"{prefix}/statements", StatementsHandler),
            (rf"{prefix}/annual", AnnualReportHandler),
            (rf"{prefix}/datalists", DataListHandler),
            (rf"{prefix}/onboarding", OnboardingHandler),
            (rf"{prefix}/scenarios", ScenariosHandler),
            (rf"{prefix}/products", ProductsHandler),
            (rf"{prefix}/products/(?P<name>[a-z][a-z0-9_-]{{2,63}})", ProductHandler),
            (rf"{prefix}/products/(?P<name>[a-z][a-z0-9_-]{{2,63}})/listing\.(?P<fmt>json|html)", ProductHandler),
            (rf"{prefix}/oauth_callback", HubOAuthCallbackHandler),
            *tornado_rules(prefix, API_ROUTES),
        ],
        **console_settings(db, hub_auth, prefix, prices=book, pepper=pepper, api_routes=API_ROUTES,
                           api_about=ABOUT, default_handler_class=NoRouteHandler),
    )  # fmt: skip


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s admin] %(message)s")
    db = Database(home.default_db_url(), anchor=Anchor.for_home(home.shuyu_home()))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/admin/")
    from hub import settings

    book = prices.book(settings.load().price_book)  # the one settings document, once
    app = make_app(db, HubOAuth(cache_max_age=10), prefix, book, home.secret("id_pepper"))
    port = int(os.environ.get("SHUYU_ADMIN_PORT", "8092"))
    httpserver.HTTPServer(app).listen(port, "127.0.0.1")  # through the proxy only
    log.info("admin console listening on port %s under %s", port, prefix)
    serve.until_stopped()


if __name__ == "__main__":
    main()
