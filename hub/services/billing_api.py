"""Fees in the SDK's API: a quote before a request (with the month's spending and the cap) and
the caller's company's monthly statement (CSV or HTML)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.billing import budget, statements
from hub.billing.budget import Quote
from hub.db.models import Scenario, Tenant
from hub.i18n import Msg
from hub.services.data_api import DataHandler
from hub.serving import caller as callers
from hub.serving.caller import Caller
from hub.serving.refusals import BadRequest

KINDS = ("job", "export", "model", "import")


def checked(
    s: Session, caller: Caller, scenario: Scenario, kind: str, resources: dict, book
) -> dict:
    """The quote of a request about to be created, refused if over the month's budget."""
    return budget.check(
        s, s.get(Tenant, caller.tenant_id), scenario, kind, resources, book
    ).as_dict()


class QuoteHandler(DataHandler):
    """GET ?kind=job&cpus=&seconds=&scenario=: what the request would cost, against the cap."""

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


class StatementHandler(DataHandler):
    """GET /statements/YYYY-MM?format=csv|html: the caller's company's statement of a month."""

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


def routes(prefix: str) -> list[tuple[str, type]]:
    v1 = f"{prefix}/api/v1"
    return [
        (rf"{v1}/quote", QuoteHandler),
        (rf"{v1}/statements/(?P<month>[0-9]{{4}}-[0-9]{{2}})", StatementHandler),
    ]
