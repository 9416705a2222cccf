"""The SDK's data API (``/api/v1``): scenarios, catalog, data lists and desensitized samples.

Every call authenticates the bearer token with the hub, decides admission again from the platform
DB, and is audited — answered or refused, with the refusal's code. Refusals are JSON bodies with a
stable ``code`` and a bilingual message (see :mod:`hub.serving.refusals`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from hub.db.models import Tenant
from hub.i18n import Msg
from hub.ops.enforcement import reminder_for
from hub.services import openapi
from hub.services.base import GatewayHandler
from hub.serving import caller as callers
from hub.serving import catalog_view
from hub.serving.caller import Caller
from hub.serving.refusals import NotFound, Refusal

DATASET = r"(?P<name>[a-z][a-z0-9_]{1,63})"


class DataHandler(GatewayHandler):
    """A read of the data API: admission and the read in one transaction, then its audit."""

    async def prepare(self) -> None:
        await self.authenticate()  # admission is part of each read, with its refusal code

    def _read(self, read: Callable[[Session, Caller], Any]) -> tuple[Caller, Any]:
        with self.db.session() as s:
            caller = callers.admit(
                s, self.caller["name"], date.today(), self.request.remote_ip, self.networks
            )
            return caller, read(s, caller)

    async def answer(
        self, action: str, obj: str, read: Callable[[Session, Caller], Any], **details: Any
    ) -> None:
        """Answer with what ``read`` returns (JSON), audited as ``action``."""
        self.finish(await self.audited(action, obj, read, **details))

    async def audited(
        self, action: str, obj: str, read: Callable[[Session, Caller], Any], **details: Any
    ) -> Any:
        """Admission and ``read`` in one transaction; the call audited, answered or refused."""
        writer = self.settings["writer"]
        try:
            caller, payload = await asyncio.to_thread(self._read, read)
        except Refusal as refusal:
            await asyncio.to_thread(
                writer.write,
                action,
                actor=self.caller["name"],
                object=obj,
                outcome="denied",
                reason=refusal.code,
                details={**details, "message": str(refusal.msg)},
            )
            raise
        await asyncio.to_thread(
            writer.write, action, actor=caller.username, tenant=caller.tenant, object=obj,
            details=details,
        )  # fmt: skip
        return payload

    def scenarios_of(self, s: Session, caller: Caller) -> list:
        """The scenario named by ``?scenario=``, or every scenario of the caller's tenant."""
        ref = self.get_query_argument("scenario", "").strip()
        return [callers.scenario(s, caller, ref)] if ref else callers.scenarios(s, caller)


class MeHandler(DataHandler):
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


class ScenariosHandler(DataHandler):
    async def get(self) -> None:
        def read(s: Session, caller: Caller) -> dict:
            found = callers.scenarios(s, caller)
            return {"scenarios": [catalog_view.scenario_view(x) for x in found]}

        await self.answer("gateway.scenarios", "scenarios", read)


class DatasetsHandler(DataHandler):
    async def get(self) -> None:
        def read(s: Session, caller: Caller) -> dict:
            return {"datasets": catalog_view.datasets(s, self.scenarios_of(s, caller))}

        scenario = self.get_query_argument("scenario", "")
        await self.answer("gateway.datasets", "catalog", read, scenario=scenario)


class DatasetHandler(DataHandler):
    async def get(self, name: str) -> None:
        def read(s: Session, caller: Caller) -> dict:
            found = catalog_view.datasets(s, self.scenarios_of(s, caller), name)
            if not found:
                raise NotFound(Msg(f"数据集不存在：{name}", f"unknown dataset: {name}"))
            return found[0]

        scenario = self.get_query_argument("scenario", "")
        await self.answer("gateway.dataset", name, read, scenario=scenario)


class DataListHandler(DataHandler):
    async def get(self) -> None:
        def read(s: Session, caller: Caller) -> dict:
            return {"items": catalog_view.data_list(s, caller)}

        await self.answer("gateway.datalist", "datalist", read)


class SampleHandler(DataHandler):
    """The sample as Arrow IPC (default) or Parquet; audited and metered by the service."""

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
    """The API's description; it names no data, so it needs no token."""

    async def prepare(self) -> None:
        pass

    def get(self) -> None:
        self.finish(openapi.document(self.request.path.rsplit("/api/v1", 1)[0]))


def routes(prefix: str) -> list[tuple[str, type]]:
    v1 = f"{prefix}/api/v1"
    return [
        (rf"{v1}/openapi\.json", OpenAPIHandler),
        (rf"{v1}/me", MeHandler),
        (rf"{v1}/scenarios", ScenariosHandler),
        (rf"{v1}/datasets", DatasetsHandler),
        (rf"{v1}/datasets/{DATASET}", DatasetHandler),
        (rf"{v1}/datasets/{DATASET}/sample", SampleHandler),
        (rf"{v1}/datalist", DataListHandler),
    ]
