"""The SDK's data API (``/api/v1``): scenarios, catalog, data lists and desensitized samples.

Every call authenticates the bearer token with the hub, decides admission again from the platform
DB, and is audited — answered or refused, with the refusal's code. Refusals are JSON bodies with a
stable ``code`` and a bilingual message (see :mod:`hub.refusals`).
"""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy.orm import Session

from hub.access import caller as callers
from hub.access import catalog_view
from hub.access.caller import Caller
from hub.db.models import Tenant
from hub.i18n import Msg
from hub.ops.enforcement import reminder_for
from hub.refusals import Conflict, NotApproved, NotFound
from hub.web import api_models as m
from hub.web import openapi
from hub.web.api_routes import Media, Operation, Param, Route
from hub.web.base import GatewayHandler

ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
DATASET = Param("[a-z][a-z0-9_]{1,63}", {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,63}$"})


class MeHandler(GatewayHandler):
    api = {"get": Operation("Who is calling, and their scenarios", m.Me)}

    async def get(self) -> None:
        def read(s: Session, caller: Caller) -> dict:
            tenant = s.get(Tenant, caller.tenant_id)
            reminder = reminder_for(tenant, date.today())
            return {
                "username": caller.username,
                "tenant": caller.tenant,
                "scenarios": [catalog_view.scenario_view(x) for x in callers.scenarios(s, caller)],
                "agreement_reminder": reminder.as_dict() if reminder else None,
            }

        await self.answer("gateway.me", "me", read)


class ScenariosHandler(GatewayHandler):
    api = {"get": Operation("The caller's tenant's scenarios", m.Scenarios)}

    async def get(self) -> None:
        def read(s: Session, caller: Caller) -> dict:
            found = callers.scenarios(s, caller)
            return {"scenarios": [catalog_view.scenario_view(x) for x in found]}

        await self.answer("gateway.scenarios", "scenarios", read)


class DatasetsHandler(GatewayHandler):
    api = {
        "get": Operation(
            "The catalog, with each column's masking and approval",
            m.Datasets,
            query=m.ScenarioQuery,
            refusals=(NotFound, Conflict),
            links={"datasets/0/name": DATASET},
        )
    }

    async def get(self) -> None:
        def read(s: Session, caller: Caller) -> dict:
            return {"datasets": catalog_view.datasets(s, self.scenarios_of(s, caller))}

        scenario = self.get_query_argument("scenario", "")
        await self.answer("gateway.datasets", "catalog", read, scenario=scenario)


class DatasetHandler(GatewayHandler):
    api = {
        "get": Operation(
            "One dataset", m.Dataset, query=m.ScenarioQuery, refusals=(NotFound, Conflict)
        )
    }

    async def get(self, name: str) -> None:
        def read(s: Session, caller: Caller) -> dict:
            found = catalog_view.datasets(s, self.scenarios_of(s, caller), name)
            if not found:
                raise NotFound(Msg(f"数据集不存在：{name}", f"unknown dataset: {name}"))
            return found[0]

        scenario = self.get_query_argument("scenario", "")
        await self.answer("gateway.dataset", name, read, scenario=scenario)


class DataListHandler(GatewayHandler):
    api = {"get": Operation("The data-list items of the caller's tenant and their decisions", m.DataList)}  # fmt: skip

    async def get(self) -> None:
        def read(s: Session, caller: Caller) -> dict:
            return {"items": catalog_view.data_list(s, caller)}

        await self.answer("gateway.datalist", "datalist", read)


class SampleHandler(GatewayHandler):
    """The sample as Arrow IPC (default) or Parquet; audited and metered by the service."""

    api = {
        "get": Operation(
            "The desensitized sample of the approved columns (fixed rows, capped)",
            Media(
                (ARROW, PARQUET),
                "The sample; masking per column in the schema metadata 'shuyu'",
                {
                    "X-Shuyu-Rows": "integer",
                    "X-Shuyu-Scenario-Id": "integer",
                    "X-Shuyu-Sha256": "string",
                },
            ),  # fmt: skip
            query=m.SampleQuery,
            refusals=(NotApproved, NotFound, Conflict),
        )
    }

    async def get(self, name: str) -> None:
        served = await asyncio.to_thread(
            self.settings["samples"].sample,
            self.caller["name"],
            name,
            self.get_query_argument("scenario", "").strip() or None,
            self.get_query_argument("format", "arrow"),
            self.request.remote_ip,
        )
        self.set_header("Content-Type", served.media_type)
        self.set_header("X-Shuyu-Rows", str(served.rows))
        self.set_header("X-Shuyu-Scenario-Id", str(served.scenario_id))
        self.set_header("X-Shuyu-Sha256", served.sha256)
        self.set_header("Cache-Control", "no-store")
        self.finish(served.body)


class OpenAPIHandler(GatewayHandler):
    """The API's description, generated from the route table; it names no data, so it needs
    no token."""

    api = {"get": Operation("This description (OpenAPI 3.1)", m.Document, public=True)}

    def get(self) -> None:
        base = self.request.path.rsplit("/api/v1", 1)[0]
        self.finish(openapi.document(base, self.settings["api_routes"]))


def routes() -> list[Route]:
    v1 = "/api/v1"
    return [
        Route(f"{v1}/openapi.json", OpenAPIHandler),
        Route(f"{v1}/me", MeHandler),
        Route(f"{v1}/scenarios", ScenariosHandler),
        Route(f"{v1}/datasets", DatasetsHandler),
        Route(f"{v1}/datasets/{{name}}", DatasetHandler, {"name": DATASET}),
        Route(f"{v1}/datasets/{{name}}/sample", SampleHandler, {"name": DATASET}),
        Route(f"{v1}/datalist", DataListHandler),
    ]
