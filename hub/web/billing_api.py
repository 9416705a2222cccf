"""Fees in the SDK's API: a quote before a request (with the month's spending and the cap) and
the caller's company's monthly statement (CSV or HTML)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.access import caller as callers
from hub.access.caller import Caller
from hub.billing import budget, statements
from hub.billing.budget import Quote
from hub.db.models import Scenario, Tenant
from hub.i18n import Msg
from hub.refusals import BadRequest, Conflict, NotFound
from hub.web import api_models as m
from hub.web.api_routes import Media, Operation, Param, Route
from hub.web.base import GatewayHandler

KINDS = m.QUOTED
MONTH = Param(
    "[1-9][0-9]{3}-(?:0[1-9]|1[0-2])",
    {"type": "string", "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"},
)


def checked(
    s: Session, caller: Caller, scenario: Scenario, kind: str, resources: dict, book
) -> dict:
    """The quote of a request about to be created, refused if over the month's budget."""
    return budget.check(
        s, s.get(Tenant, caller.tenant_id), scenario, kind, resources, book
    ).as_dict()


class QuoteHandler(GatewayHandler):
    """GET ?kind=job&cpus=&seconds=&scenario=: what the request would cost, against the cap."""

    api = {
        "get": Operation(
            "What a request would cost, with the month's spending and the cap",
            m.Quote,
            query=m.QuoteQuery,
            refusals=(BadRequest, NotFound, Conflict),
        )
    }

    async def get(self) -> None:
        kind = self.get_query_argument("kind", "")
        ref = self.get_query_argument("scenario", "").strip() or None
        resources = {
            k: self.get_query_argument(k)
            for k in ("cpus", "seconds")
            if self.get_query_argument(k, "")
        }

        def read(s: Session, caller: Caller) -> dict:
            if kind not in KINDS:
                raise BadRequest(Msg(f"类型须为 {', '.join(KINDS)} 之一", f"kind must be one of {', '.join(KINDS)}"), "kind")  # fmt: skip
            found = callers.scenario(s, caller, ref)
            q: Quote = budget.quote(
                s, s.get(Tenant, caller.tenant_id), found, kind, resources, self.settings["prices"]
            )
            return q.as_dict()

        await self.answer("gateway.quote", kind[:16], read)


class StatementHandler(GatewayHandler):
    """GET /statements/YYYY-MM?format=csv|html: the caller's company's statement of a month."""

    api = {
        "get": Operation(
            "The caller's company's monthly statement",
            Media(("text/csv", "text/html"), "The statement"),
            query=m.StatementQuery,
            refusals=(BadRequest,),
        )
    }

    async def get(self, month: str) -> None:
        fmt = self.get_query_argument("format", "csv")

        def read(s: Session, caller: Caller) -> str:
            st = statements.statement(
                s, s.get(Tenant, caller.tenant_id), month, self.settings["prices"]
            )
            return statements.to_html(st) if fmt == "html" else statements.to_csv(st)

        text = await self.audited("gateway.statement", month, read)
        kind = "text/html" if fmt == "html" else "text/csv"
        self.set_header("Content-Type", f"{kind}; charset=utf-8")
        self.finish(text)


def routes() -> list[Route]:
    return [
        Route("/api/v1/quote", QuoteHandler),
        Route("/api/v1/statements/{month}", StatementHandler, {"month": MONTH}),
    ]
