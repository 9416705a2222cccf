"""The one base of the gateway's handlers: bearer-token authentication through the hub,
admission, inputs validated against the route's declaration, audit, and every answer that is
not a success as the one JSON refusal shape (:mod:`hub.refusals`)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from jupyterhub.services.auth import HubAuth
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from tornado import web

from hub import admission, refusals
from hub.access import caller as callers
from hub.access.caller import Caller
from hub.access.origin import TenantNetworks
from hub.db.engine import Database
from hub.i18n import Msg
from hub.refusals import AccessDenied, BadRequest, Refusal
from hub.web.api_routes import Declared
from hub.web.headers import NoFramingMixin

log = logging.getLogger("shuyu.gateway")
PROXY_HEADERS = (
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Real-Ip",
    "Forwarded",
)


def invalid(what: Msg, error: ValidationError) -> BadRequest:
    """A refusal naming the fields that failed, never echoing their values."""
    fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in error.errors()})
    names = ", ".join(fields)
    return BadRequest(Msg(f"{what.zh}有误：{names}", f"{what.en} are invalid: {names}"))


class GatewayHandler(Declared, NoFramingMixin, web.RequestHandler):
    """Base handler. ``prepare`` refuses an undeclared method, authenticates the caller (the
    owner of the bearer token) unless the operation is public, and validates the declared query,
    headers and JSON body (``self.args``, ``self.meta``, ``self.spec``). Reads go through
    :meth:`audited`: admission and the read in one transaction, then the audit record."""

    args: Any = None
    meta: Any = None
    spec: Any = None

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings["hub_auth"]

    @property
    def db(self) -> Database:
        return self.settings["db"]

    @property
    def networks(self) -> TenantNetworks:
        return self.settings["networks"]

    # ---- answers that are not a success -------------------------------------------------

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, Refusal):
            refusal = exc
        elif isinstance(exc, web.HTTPError):  # tornado's own (unknown method, bad request, …)
            refusal = refusals.for_status(status_code)
        else:  # details stay in the log, never in the answer
            refusal = refusals.for_status(500)
        if refusal.status == 405:
            self.set_header("Allow", ", ".join(m.upper() for m in self.api))
        self.clear_header("Content-Disposition")
        self.set_header("Content-Type", "application/json")
        self.set_status(refusal.status)
        self.finish(refusal.body())

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, Refusal) and value.status < 500:  # an answer, not a fault
            log.info("refused %s %s: %s", self.request.method, self.request.path, value.code)
            return
        super().log_exception(typ, value, tb)

    # ---- before every call --------------------------------------------------------------

    async def prepare(self) -> None:
        operation = self.declared()
        if not operation.public:
            await self.authenticate()
        self.args = self._validated(operation.query, self._query(), Msg("查询参数", "parameters"))
        self.meta = self._validated(
            operation.headers, dict(self.request.headers), Msg("请求头", "headers")
        )
        if isinstance(operation.body, type):
            self.spec = self._validated(operation.body, self._json_body(), Msg("请求体", "body"))

    def _query(self) -> dict[str, str]:
        """The query as sent (the last of repeated arguments), before tornado's clean-up."""
        try:
            return {k: v[-1].decode() for k, v in self.request.query_arguments.items()}
        except UnicodeDecodeError:
            raise BadRequest(Msg("查询参数不是 UTF-8", "the parameters are not UTF-8")) from None

    def _json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"{}")
        except ValueError:
            raise BadRequest(Msg("请求体不是 JSON", "the body is not JSON")) from None

    @staticmethod
    def _validated(model: type[BaseModel] | None, data: Any, what: Msg) -> BaseModel | None:
        if model is None:
            return None
        if not isinstance(data, dict):
            raise BadRequest(Msg(f"{what.zh}须为 JSON 对象", f"the {what.en} must be an object"))
        try:
            return model.model_validate(data)
        except ValidationError as e:
            raise invalid(what, e) from None

    def refuse_proxied(self) -> None:
        """Refuse a call relayed by a proxy (the public one adds ``X-Forwarded-*``).

        The public proxy has no route to the gateway; should one ever be added, every call
        through it would look local (127.0.0.1) and skip the tenant-network check, so such calls
        are refused here as well. Workspaces and the platform call the gateway directly.
        """
        if any(h in self.request.headers for h in PROXY_HEADERS):
            raise AccessDenied(
                Msg("数据网关只能在工作空间内调用", "the data gateway is reachable only from workspaces"),
                "proxied",
            )  # fmt: skip

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
            raise refusals.Unauthorized(refusals.BY_STATUS[401][1])
        model = await self.hub_auth.user_for_token(token, sync=False)
        if not model or model.get("kind", "user") != "user":
            raise AccessDenied(Msg("令牌无效", "invalid token"), "invalid_token")
        self.caller = model

    # ---- admission and audit ------------------------------------------------------------

    async def admit_staff(self) -> None:
        """Admission today for any staff member (not only processors), from their tenant's
        network if they have a tenant; :class:`AccessDenied` with the reason otherwise."""
        await asyncio.to_thread(self._admit_staff, self.caller["name"])

    def _admit_staff(self, username: str) -> None:
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            decision = admission.admit(staff, date.today())
            if not decision.allowed:
                raise AccessDenied(decision.reason, decision.code)
            if staff.tenant_id is not None:
                self.networks.check(self.request.remote_ip, staff.tenant_id)

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

    @property
    def tenant(self) -> str:
        return next((g for g in self.caller.get("groups", []) if g.startswith("tenant-")), "")


class NoRouteHandler(GatewayHandler):
    """Any path the gateway does not serve (or whose parameters do not match): a JSON 404."""

    async def prepare(self) -> None:
        raise refusals.for_status(404)
