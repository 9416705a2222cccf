"""The SDK's request API (``/api/v1/exports``, ``/api/v1/requests``): submit a result for
export, follow its checks and review, withdraw it, download it once approved.

Only the requester sees and moves their requests here; reviewers decide in the review console.
Checks run in the gateway's pool after the submit has committed; a gateway that dies mid-check
resumes them at its next start (:func:`hub.review.runner.resume`).
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from sqlalchemy import select

from hub.access import caller as callers
from hub.db.models import Request
from hub.i18n import Msg
from hub.refusals import AccessDenied, BadRequest, Conflict, NotFound
from hub.review import lifecycle, lineage, runner
from hub.web import api_models as m
from hub.web import billing_api
from hub.web.api_routes import Media, Operation, Param, Route
from hub.web.base import GatewayHandler

MAX_META = 1 << 20  # bytes of the X-Shuyu-Meta header's JSON (table statistics)
PARQUET = "application/vnd.apache.parquet"
REQUEST_ID = Param("[0-9]{1,10}", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1})
LINKS = {"id": REQUEST_ID}  # a created request's id is the path parameter of the others


def request_view(r: Request) -> dict:
    return {
        "id": r.id,
        "kind": r.kind,
        "name": r.name,
        "status": r.status,
        "status_reason": r.status_reason,
        "purpose": r.purpose,
        "scenario": r.scenario.name,
        "scenario_id": r.scenario_id,
        "level": r.level,
        "approvals_needed": r.approvals_needed,
        # how many reviewers approved, not who: reviewers stay anonymous to requesters
        "approvals": len({d.reviewer for d in r.decisions if d.decision == "approve"}),
        "sha256": r.content_sha256,
        "bytes": r.content_bytes,
        "rows": r.rows,
        "quote": (r.meta or {}).get("quote"),
        "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
        "checks": [
            {"name": c.name, "verdict": c.verdict, "reason": c.reason, "details": c.details}
            for c in r.checks
        ],
        "decisions": [
            {
                "decision": d.decision,
                "reason": d.reason,
                "override": d.override,
                "at": d.at.isoformat(),
            }
            for d in r.decisions
        ],  # fmt: skip
    }


class RequestHandler(GatewayHandler):
    @property
    def store(self) -> Path:
        return self.settings["store"]

    def own(self, s, caller, request_id: str) -> Request:
        request = lifecycle.get(s, int(request_id))
        if request.requester != caller.username:
            raise AccessDenied(Msg("这不是您的申请", "this is not your request"), "not_requester")
        return request

    def run_checks(self, request_id: int) -> None:
        _, limits = self.settings["rules"]
        loop = asyncio.get_running_loop()
        loop.run_in_executor(
            None, runner.check, self.db, request_id, self.store, limits,
            self.settings["production"], self.settings.get("privacy"), self.settings["prices"].caps,
        )  # fmt: skip


class ExportsHandler(RequestHandler):
    """POST a result (Parquet body) for export; answers at once, checks follow."""

    api = {
        "post": Operation(
            "Submit a result table (Parquet) for export: checked, then reviewed",
            m.Request,
            status=201,
            query=m.ExportQuery,
            headers=m.MetaHeader,
            body=Media((PARQUET,), "The result table"),
            refusals=(BadRequest, NotFound, Conflict),
            links=LINKS,
        )
    }

    async def post(self) -> None:
        body = self.request.body
        purpose = self.get_query_argument("purpose", "")
        name = self.get_query_argument("name", "export")
        scenario = self.get_query_argument("scenario", "").strip() or None
        header = self.request.headers.get("X-Shuyu-Meta", "{}")

        def read(s, caller) -> dict:
            if len(header) > MAX_META:
                raise BadRequest(Msg("附带的统计信息过大", "the attached statistics are too large"))
            try:
                meta = json.loads(header)
            except ValueError:
                raise BadRequest(
                    Msg("附带的统计信息不是 JSON", "the attached statistics are not JSON")
                ) from None
            readable(body)
            found = callers.scenario(s, caller, scenario)
            quote = billing_api.checked(s, caller, found, "export", {}, self.settings["prices"])
            request = lifecycle.create(
                s, kind="export", requester=caller.username, tenant_id=caller.tenant_id,
                scenario_id=found.id, purpose=purpose, name=name,
                meta={**lineage.client_meta(meta), "quote": quote},
                policy=self.settings["rules"][0],
            )  # fmt: skip
            lifecycle.submit(s, request, body, self.store, caller.username)
            return request_view(request)

        view = await self.audited("gateway.export", name[:200], read)
        self.set_status(201)
        self.finish(view)
        self.run_checks(view["id"])


def readable(body: bytes) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(io.BytesIO(body))
    except (pa.ArrowException, OSError):
        raise BadRequest(
            Msg("导出内容须为 Parquet 文件", "the export must be a Parquet file")
        ) from None


class RequestsHandler(RequestHandler):
    api = {
        "get": Operation(
            "The caller's requests, oldest first", m.Requests, links={"requests/0/id": REQUEST_ID}
        )
    }

    async def get(self) -> None:
        def read(s, caller) -> dict:
            mine = s.scalars(
                select(Request).where(Request.requester == caller.username).order_by(Request.id)
            )
            return {"requests": [request_view(r) for r in mine]}

        await self.answer("gateway.requests", "requests", read)


class OneRequestHandler(RequestHandler):
    api = {"get": Operation("One request of the caller's, with its checks and decisions", m.Request, refusals=(NotFound,))}  # fmt: skip

    async def get(self, request_id: str) -> None:
        await self.answer(
            "gateway.request", f"request:{request_id}",
            lambda s, caller: request_view(self.own(s, caller, request_id)),
        )  # fmt: skip


class WithdrawHandler(RequestHandler):
    api = {
        "post": Operation(
            "Withdraw a request that is not decided yet", m.Request, refusals=(NotFound, Conflict)
        )
    }

    async def post(self, request_id: str) -> None:
        def read(s, caller) -> dict:
            self.own(s, caller, request_id)
            return request_view(lifecycle.withdraw(s, int(request_id), caller.username))

        await self.answer("gateway.withdraw", f"request:{request_id}", read)


class DownloadHandler(RequestHandler):
    """The approved file, for its requester; audited (``request.released``/``download``)."""

    api = {
        "get": Operation(
            "The approved file (once)",
            Media((PARQUET,), "The released file", {"X-Shuyu-Sha256": "string"}),
            refusals=(NotFound, Conflict),
        )
    }

    async def get(self, request_id: str) -> None:
        def read(s, caller) -> tuple:
            request, content = lifecycle.download(s, int(request_id), caller.username)
            return request.content_sha256, content

        sha, content = await self.audited("gateway.download", f"request:{request_id}", read)
        self.set_header("Content-Type", "application/vnd.apache.parquet")
        self.set_header("X-Shuyu-Sha256", sha)
        self.set_header(
            "Content-Disposition", f'attachment; filename="request-{request_id}.parquet"'
        )
        self.finish(content)


def routes() -> list[Route]:
    v1 = "/api/v1"
    rid = {"request_id": REQUEST_ID}
    return [
        Route(f"{v1}/exports", ExportsHandler),
        Route(f"{v1}/requests", RequestsHandler),
        Route(f"{v1}/requests/{{request_id}}", OneRequestHandler, rid),
        Route(f"{v1}/requests/{{request_id}}/withdraw", WithdrawHandler, rid),
        Route(f"{v1}/requests/{{request_id}}/download", DownloadHandler, rid),
    ]


def json_object(raw: bytes | str, what: Msg) -> dict:
    """``raw`` as a JSON object, or a bilingual 400 naming ``what`` (too large, not JSON, not an
    object)."""
    if len(raw) > MAX_META:
        raise BadRequest(Msg(f"{what.zh}过大", f"{what.en} is too large"))
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        raise BadRequest(Msg(f"{what.zh}不是 JSON", f"{what.en} is not JSON")) from None
    if not isinstance(value, dict):
        raise BadRequest(Msg(f"{what.zh}须为 JSON 对象", f"{what.en} must be a JSON object"))
    return value
