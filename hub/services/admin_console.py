"""The administration and supervision console: a JupyterHub-managed service.

Data-provider departments (``custom:shuyu:provide``) decide the data-list items of their own
datasets here and see nothing else. Admins (``custom:shuyu:admin``) run the programme here: suspend, revoke and reinstate companies,
renew or end agreements, set budgets; verify, disable, enable staff, record exam results, reset
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
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado import httpserver, web

from hub import audit, home
from hub.audit_anchor import Anchor
from hub.billing import budget, prices, statements
from hub.db.engine import Database
from hub.i18n import Msg, UserError
from hub.ops import Ctx, agreements, catalog, lookup, onboarding, org, staff, tenants
from hub.services import admin_views, serve
from hub.services import charts as charts_svg
from hub.services.console_text import TEXT, language
from hub.services.headers import NoFramingMixin
from hub.serving.refusals import Refusal

log = logging.getLogger("shuyu.admin")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ADMIN, AUDIT, PROVIDE = "custom:shuyu:admin", "custom:shuyu:audit", "custom:shuyu:provide"
FILTERS = ("tenant", "actor", "action", "since", "until")


class AdminHandler(NoFramingMixin, HubOAuthenticated, web.RequestHandler):
    hub_scopes = {ADMIN, AUDIT}

    @property
    def db(self) -> Database:
        return self.settings["db"]

    @property
    def can_change(self) -> bool:
        return ADMIN in self.current_user.get("scopes", [])

    def render_page(self, template: str, http_status: int = 200, **values) -> None:
        self.set_status(http_status)
        values.setdefault("error", "")
        values.setdefault("notice", "")
        lang = language(self)
        self.render(template, t=TEXT[lang], lang=lang, reviewer=self.current_user["name"],
                    prefix=self.settings["prefix"], can_change=self.can_change, **values)  # fmt: skip

    def write_error(self, status_code: int, **kwargs) -> None:
        t = TEXT[language(self)]
        self.finish(f"<!doctype html><meta charset=utf-8><h1>{status_code}</h1><p>{t['error']}</p>")

    async def change(self, action) -> str:
        """Run ``action(ctx)`` as the signed-in admin; returns the error to show, or ''."""
        if not self.can_change:
            raise web.HTTPError(403)

        def run():
            with self.db.session() as s:
                action(
                    Ctx(session=s, actor=self.current_user["name"], pepper=self.settings["pepper"])
                )

        try:
            await asyncio.to_thread(run)
        except (UserError, Refusal) as e:
            msg = e.msg if isinstance(e.msg, Msg) else Msg(str(e.msg), str(e.msg))
            return msg.zh if language(self) == "zh" else msg.en
        return ""


class TenantsHandler(AdminHandler):
    async def show(self, error: str = "", notice: str = "", status: int = 200) -> None:
        def read():
            with self.db.session() as s:
                return admin_views.tenants(s, self.settings["prices"], date.today())

        self.render_page(
            "admin_tenants.html",
            status,
            rows=await asyncio.to_thread(read),
            error=error,
            notice=notice,
        )

    @web.authenticated
    async def get(self) -> None:
        await self.show()

    @web.authenticated
    async def post(self) -> None:
        name = self.get_body_argument("tenant", "")
        command = self.get_body_argument("command", "")
        reason = self.get_body_argument("reason", "")

        def act(ctx: Ctx) -> None:
            if command in ("suspend", "revoke", "reinstate"):
                tenants.change_status(ctx, name, command, reason)
            elif command == "renew":
                agreements.renew(ctx, name)
            elif command == "terminate":
                agreements.terminate(ctx, name, reason)
            elif command == "budget":
                raw = self.get_body_argument("amount", "").strip()
                try:
                    amount = None if raw in ("", "none") else Decimal(raw)
                except InvalidOperation:
                    raise UserError(Msg(f"金额无效：{raw}", f"not an amount: {raw}")) from None
                budget.set_budget(ctx, name, amount)
            else:
                raise UserError(Msg(f"未知操作：{command}", f"unknown action: {command}"))

        error = await self.change(act)
        t = TEXT[language(self)]
        await self.show(
            error, "" if error else f"{t['recorded']}: {name} · {command}", 400 if error else 200
        )


class DashboardHandler(AdminHandler):
    """One company: activity per day, requests by kind and status, this month's fees, staff."""

    @web.authenticated
    async def get(self, tenant_id: str) -> None:
        def read():
            with self.db.session() as s:
                return admin_views.dashboard(
                    s, int(tenant_id), self.settings["prices"], date.today()
                )

        board = await asyncio.to_thread(read)
        if not board:
            raise web.HTTPError(404)
        t = TEXT[language(self)]
        charts = [
            charts_svg.bars(board["activity"], title=t["chart_activity"]),
            charts_svg.bars(board["requests"], title=t["chart_requests"]),
            charts_svg.bars(
                board["fees"], title=f"{t['chart_fees']} {board['month']} ({board['currency']})"
            ),
        ]
        self.render_page("admin_dashboard.html", board=board, charts=charts)


class StaffHandler(AdminHandler):
    async def show(
        self, error: str = "", notice: str = "", status: int = 200, secret: str = ""
    ) -> None:
        def read():
            with self.db.session() as s:
                return admin_views.staff(s, date.today())

        self.render_page("admin_staff.html", status, rows=await asyncio.to_thread(read), error=error,
                         notice=notice, secret=secret)  # fmt: skip

    @web.authenticated
    async def get(self) -> None:
        await self.show()

    @web.authenticated
    async def post(self) -> None:
        username = self.get_body_argument("username", "")
        action = self.get_body_argument("action", "")
        reason = self.get_body_argument("reason", "")
        shown: dict[str, str] = {}

        def act(ctx: Ctx) -> None:
            if action == "register":
                new = staff.add(ctx, username=username, real_name=self.get_body_argument("real_name", ""),
                                id_number=self.get_body_argument("id_number", ""),
                                mobile=self.get_body_argument("mobile", ""), role=self.get_body_argument("role", ""),
                                password=self.get_body_argument("password", ""),
                                tenant=self.get_body_argument("tenant", "") or None,
                                department=self.get_body_argument("department", "") or None)  # fmt: skip
                shown["secret"] = new.totp_secret
            elif action == "verify":
                staff.verify(ctx, username)
            elif action in ("disable", "enable"):
                staff.set_active(ctx, username, action == "enable", reason)
            elif action == "reset_totp":
                shown["secret"] = staff.reset_totp(ctx, username, reason).totp_secret
            elif action == "role":
                staff.change_role(ctx, username, self.get_body_argument("role", ""), reason)
            elif action == "exam":
                try:
                    score = int(self.get_body_argument("score", ""))
                    pass_mark = int(
                        self.get_body_argument("pass_mark", "") or staff.DEFAULT_PASS_MARK
                    )
                except ValueError:
                    raise UserError(
                        Msg("成绩须为整数", "the score must be a whole number")
                    ) from None
                course = self.get_body_argument("course", "") or staff.DEFAULT_COURSE
                staff.record_training(ctx, username, score, course=course, pass_mark=pass_mark)
            else:
                raise UserError(Msg(f"未知操作：{action}", f"unknown action: {action}"))

        error = await self.change(act)
        t = TEXT[language(self)]
        await self.show(error, "" if error else f"{t['recorded']}: {username} · {action}",
                        400 if error else 200, shown.get("secret", ""))  # fmt: skip


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


class AuditExportHandler(AuditHandler):
    @web.authenticated
    async def get(self) -> None:
        fmt = "json" if self.get_query_argument("format", "csv") == "json" else "csv"
        filters = self.filters()

        def read():
            with self.db.session() as s:
                point, _ = self.db.anchor.read() if self.db.anchor else (None, True)
                text = admin_views.export(s, filters, fmt, point)
                audit.append(
                    s,
                    "audit.export",
                    actor=self.current_user["name"],
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
        username = self.current_user["name"]
        provider = PROVIDE in self.current_user.get("scopes", [])

        def read():
            with self.db.session() as s:
                return admin_views.data_list_items(s, username if provider else None)

        self.render_page("admin_datalists.html", status, rows=await asyncio.to_thread(read),
                         can_decide=provider, error=error, notice=notice)  # fmt: skip

    @web.authenticated
    async def get(self) -> None:
        await self.show()

    @web.authenticated
    async def post(self) -> None:
        if PROVIDE not in self.current_user.get("scopes", []):
            raise web.HTTPError(403)
        try:
            item_id = int(self.get_body_argument("item", ""))
        except ValueError:
            raise web.HTTPError(400) from None
        decision = self.get_body_argument("decision", "")
        reason = self.get_body_argument("reason", "")
        username = self.current_user["name"]

        def act():
            with self.db.session() as s:
                catalog.decide(
                    Ctx(session=s, actor=username), item_id, decision, by=username, reason=reason
                )

        try:
            await asyncio.to_thread(act)
        except UserError as e:
            await self.show(e.msg.zh if language(self) == "zh" else e.msg.en, status=400)
            return
        t = TEXT[language(self)]
        await self.show(notice=f"{t['recorded']}: #{item_id} · {decision}")


class OnboardingHandler(AdminHandler):
    """信息发布 → 申请提交 → 资格审查 → 专家评审 → 协调小组审定 → 协议签订, one form per step."""

    async def show(self, error: str = "", notice: str = "", status: int = 200) -> None:
        def read():
            with self.db.session() as s:
                return [(n.id, n.field, n.title, str(n.closes_on), [
                    {"id": a.id, "company": a.company, "uscc": a.uscc, "status": a.status,
                     "missing": [k for k, ok in a.checklist.items() if not ok],
                     "scores": [f"{x['expert']}: {x['score']}" for x in a.scores],
                     "reason": a.decision_reason or ""} for a in apps])
                    for n, apps in onboarding.pipeline(Ctx(session=s, actor=""))]  # fmt: skip

        self.render_page("admin_onboarding.html", status, notices=await asyncio.to_thread(read),
                         checklist=onboarding.CHECKLIST, error=error, notice=notice)  # fmt: skip

    @web.authenticated
    async def get(self) -> None:
        await self.show()

    @web.authenticated
    async def post(self) -> None:
        step = self.get_body_argument("step", "")
        arg = self.get_body_argument

        def number(name: str) -> int:
            try:
                return int(arg(name, ""))
            except ValueError:
                raise UserError(Msg(f"{name} 须为整数", f"{name} must be a whole number")) from None

        def act(ctx: Ctx) -> None:
            if step == "publish":
                from hub.validators import parse_date

                onboarding.publish(
                    ctx,
                    arg("field", ""),
                    arg("title", ""),
                    parse_date(arg("closes_on", ""), "closes_on"),
                )
            elif step == "apply":
                onboarding.apply(
                    ctx,
                    number("notice"),
                    arg("company", ""),
                    arg("uscc", ""),
                    arg("security_officer", ""),
                )
            elif step == "qualify":
                ticked = {k: arg(k, "") == "on" for k in onboarding.CHECKLIST}
                onboarding.review_qualification(ctx, number("application"), ticked)
            elif step == "score":
                onboarding.score(
                    ctx,
                    number("application"),
                    arg("expert", ""),
                    number("score"),
                    arg("comment", ""),
                )
            elif step in ("approve", "reject"):
                onboarding.decide(ctx, number("application"), step == "approve", arg("reason", ""))
            elif step == "sign":
                onboarding.sign(ctx, number("application"))
            else:
                raise UserError(Msg(f"未知步骤：{step}", f"unknown step: {step}"))

        error = await self.change(act)
        t = TEXT[language(self)]
        await self.show(error, "" if error else f"{t['recorded']}: {step}", 400 if error else 200)


class ScenariosHandler(AdminHandler):
    """Scenarios (一场景一清单一审定): filed by a company's admin on its behalf, revoked with a reason."""

    async def show(self, error: str = "", notice: str = "", status: int = 200) -> None:
        def read():
            with self.db.session() as s:
                return admin_views.scenarios(s)

        self.render_page("admin_scenarios.html", status, rows=await asyncio.to_thread(read),
                         fields=org.FIELDS, error=error, notice=notice)  # fmt: skip

    @web.authenticated
    async def get(self) -> None:
        await self.show()

    @web.authenticated
    async def post(self) -> None:
        arg = self.get_body_argument
        command = arg("command", "")

        def act(ctx: Ctx) -> None:
            if command == "file":
                org.add_scenario(ctx, tenant=arg("tenant", ""), name=arg("name", ""), field=arg("field", ""),
                                 purpose=arg("purpose", ""), category=arg("category", ""))  # fmt: skip
            elif command == "revoke":
                org.revoke_scenario(ctx, arg("tenant", ""), arg("name", ""), arg("reason", ""))
            else:
                raise UserError(Msg(f"未知操作：{command}", f"unknown action: {command}"))

        error = await self.change(act)
        t = TEXT[language(self)]
        await self.show(
            error, "" if error else f"{t['recorded']}: {command}", 400 if error else 200
        )


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


def make_app(
    db: Database, hub_auth: HubOAuth, prefix: str, book: prices.PriceBook, pepper: bytes
) -> web.Application:
    prefix = prefix.rstrip("/")
    return web.Application(
        [
            (rf"{prefix}/?", TenantsHandler),
            (rf"{prefix}/staff", StaffHandler),
            (rf"{prefix}/tenants/(?P<tenant_id>[0-9]{{1,9}})", DashboardHandler),
            (rf"{prefix}/audit", AuditHandler),
            (rf"{prefix}/audit/export", AuditExportHandler),
            (rf"{prefix}/statements", StatementsHandler),
            (rf"{prefix}/datalists", DataListHandler),
            (rf"{prefix}/onboarding", OnboardingHandler),
            (rf"{prefix}/scenarios", ScenariosHandler),
            (rf"{prefix}/oauth_callback", HubOAuthCallbackHandler),
        ],
        hub_auth=hub_auth, db=db, prefix=prefix, prices=book, pepper=pepper,
        cookie_secret=os.urandom(32), xsrf_cookies=True, template_path=str(TEMPLATES),
        login_url=hub_auth.login_url,
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
