"""The SDK's production API: training jobs, model publishing, products and imports.

Each request goes through the one review lifecycle (:mod:`hub.review.lifecycle`); what a job
produced reaches its tenant only as released metrics and a masked log; result tables leave only
through an export request; a product answers only holders of its key, for its own scenario.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from sqlalchemy import select

from hub import kinds
from hub.access import caller as callers
from hub.db.models import Product, ProductKey, Request, Tenant
from hub.i18n import Msg
from hub.production import consumers, imports, jobs, outputs, products, publishing
from hub.refusals import (
    AccessDenied,
    BadRequest,
    Conflict,
    NotFound,
    RateLimited,
    TooLarge,
)
from hub.review import lifecycle, lineage
from hub.store import restored
from hub.web import api_models as m
from hub.web.api_routes import Media, Operation, Param, Route
from hub.web.billing_api import checked
from hub.web.requests_api import (
    LINKS,
    REQUEST_ID,
    RequestHandler,
    json_object,
    readable,
    request_view,
)

ENDED = (lifecycle.SUCCEEDED, lifecycle.FAILED)
PRODUCT = Param(m.PRODUCT_NAME.strip("^$"), {"type": "string", "pattern": m.PRODUCT_NAME})


def job_view(r: Request) -> dict:
    return request_view(r) | kinds.get("job").sdk_view(r)


class JobsHandler(RequestHandler):
    """POST a training job: a tar bundle of code, its entrypoint, datasets, params, resources."""

    api = {
        "post": Operation(
            "Submit a training job (a tar bundle of code)",
            m.Job,
            status=201,
            query=m.ExportQuery,
            headers=m.MetaHeader,
            body=Media(("application/x-tar",), "The code bundle"),
            refusals=(BadRequest, NotFound, Conflict),
            links=LINKS,
        )
    }

    async def post(self) -> None:
        body = self.request.body
        purpose = self.get_query_argument("purpose", "")
        name = self.get_query_argument("name", "job")
        scenario = self.get_query_argument("scenario", "").strip() or None
        header = self.request.headers.get("X-Shuyu-Meta", "{}")
        rules = self.settings["production"]

        def create(s, caller) -> dict:
            meta = json_object(header, Msg("作业说明", "the job description"))
            found = callers.scenario(s, caller, scenario)
            jobs.validate(meta, jobs.approved_datasets(s, found.id), rules)
            jobs.read_bundle(body, rules)
            keep = {
                k: meta.get(k)
                for k in ("entrypoint", "datasets", "params", "resources", "files", "cell")
            }
            prices = self.settings["prices"]
            keep["quote"] = checked(s, caller, found, "job", meta.get("resources") or {}, prices)
            request = lifecycle.create(
                s, kind="job", requester=caller.username, tenant_id=caller.tenant_id,
                scenario_id=found.id, purpose=purpose, name=name, meta=keep, policy=self.settings["rules"][0],
            )  # fmt: skip
            lifecycle.submit(s, request, body, self.store, caller.username, suffix=".tar")
            return job_view(request)

        view = await self.audited("gateway.job", name[:200], create)
        self.set_status(201)
        self.finish(view)
        self.run_checks(view["id"])


class OneJobHandler(RequestHandler):
    api = {"get": Operation("A job, its review and its released run", m.Job, refusals=(NotFound,))}  # fmt: skip

    async def get(self, request_id: str) -> None:
        await self.answer("gateway.job_status", f"request:{request_id}",
                          lambda s, caller: job_view(self.own(s, caller, request_id)))  # fmt: skip


class JobLogHandler(RequestHandler):
    """The job's log as its tenant may see it: personal data masked."""

    api = {
        "get": Operation(
            "The job's log, personal data masked",
            Media(("text/plain",), "The log"),
            refusals=(NotFound, Conflict),
        )
    }

    async def get(self, request_id: str) -> None:
        def read(s, caller) -> str:
            request = self.own(s, caller, request_id)
            if request.kind != "job" or request.status not in ENDED:
                raise Conflict(Msg("作业尚未结束", "the job has not ended"), "job_not_done")
            log = restored(self.store, self.store / "jobs" / request_id / "released.log")
            return log.read_text() if log else ""

        text = await self.audited("gateway.job_log", f"request:{request_id}", read)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(text)


class JobExportHandler(RequestHandler):
    """A result table of a job leaves only as an export request, checked and reviewed."""

    api = {
        "post": Operation(
            "Request the export of one result table of the job",
            m.Request,
            status=201,
            query=m.JobExportQuery,
            refusals=(BadRequest, NotFound, Conflict),
            links=LINKS,
        )
    }

    async def post(self, request_id: str) -> None:
        output = self.get_query_argument("output", "")
        purpose = self.get_query_argument("purpose", "")
        name = self.get_query_argument("name", output or "export")

        def create(s, caller) -> dict:
            job = self.own(s, caller, request_id)
            if job.kind != "job" or job.status != lifecycle.SUCCEEDED:
                raise Conflict(Msg("作业尚未成功完成", "the job has not succeeded"), "job_not_done")
            real = outputs.resolve(job.meta.get("run"), output)
            content = outputs.read(publishing.job_output(self.store, job.id), real)
            readable(content)
            quote = checked(s, caller, job.scenario, "export", {}, self.settings["prices"])
            request = lifecycle.create(
                s, kind="export", requester=caller.username, tenant_id=caller.tenant_id,
                scenario_id=job.scenario_id, purpose=purpose, name=name,
                meta={"job": job.id, "output": output, "quote": quote}, policy=self.settings["rules"][0],
            )  # fmt: skip
            lifecycle.submit(s, request, content, self.store, caller.username)
            return request_view(request)

        view = await self.audited(
            "gateway.export", f"request:{request_id}", create, output=output[:200]
        )
        self.set_status(201)
        self.finish(view)
        self.run_checks(view["id"])


class ModelsHandler(RequestHandler):
    """POST {job, artifact, product, card, dataset}: publish a job's model as a product."""

    api = {
        "post": Operation(
            "Publish a succeeded job's model as a product",
            m.Request,
            status=201,
            query=m.ModelsQuery,
            body=m.PublishModel,
            refusals=(BadRequest, NotFound, Conflict),
            links=LINKS,
        )
    }

    async def post(self) -> None:
        body = self.request.body
        purpose = self.get_query_argument("purpose", "")

        def create(s, caller) -> dict:
            spec = json_object(body, Msg("发布说明", "the publishing request"))
            try:
                job_id = int(spec.get("job"))
            except (TypeError, ValueError):
                raise BadRequest(Msg("请指明作业编号", "name the job"), "job") from None
            product = str(spec.get("product", ""))
            card = spec.get("card")
            if not isinstance(card, dict):
                raise BadRequest(
                    Msg("模型卡须为 JSON 对象", "the model card must be a JSON object"), "card"
                )
            artifact = str(spec.get("artifact") or "model.onnx")
            found = s.get(Request, job_id)
            real = artifact  # another tenant's job is refused by publishing.artifact
            if found is not None and found.kind == "job" and found.tenant_id == caller.tenant_id:
                real = outputs.resolve(found.meta.get("run"), artifact)
            job, content = publishing.artifact(s, self.store, job_id, caller.tenant_id, real)
            products.check_name(s, product, caller.tenant_id, job.scenario_id)
            dataset = publishing.training_dataset(job, spec.get("dataset"))
            quote = checked(s, caller, job.scenario, "model", {}, self.settings["prices"])
            request = lifecycle.create(
                s, kind="model", requester=caller.username, tenant_id=caller.tenant_id,
                scenario_id=job.scenario_id, purpose=purpose, name=product,
                meta={"job": job.id, "artifact": artifact, "product": product, "card": card,
                      "dataset": dataset, "cell": spec.get("cell"), "quote": quote},
                policy=self.settings["rules"][0],
            )  # fmt: skip
            lifecycle.submit(s, request, content, self.store, caller.username, suffix=".onnx")
            return request_view(request)

        view = await self.audited("gateway.model", "models", create)
        self.set_status(201)
        self.finish(view)
        self.run_checks(view["id"])


class ImportsHandler(RequestHandler):
    """POST an external file (CSV or Parquet) to bring into the tenant's scenario."""

    api = {
        "post": Operation(
            "Bring an external CSV or Parquet file into a scenario",
            m.Request,
            status=201,
            query=m.ImportQuery,
            body=Media(("application/octet-stream",), "The file"),
            refusals=(BadRequest, NotFound, Conflict, TooLarge),
            links=LINKS,
        )
    }

    async def post(self) -> None:
        body = self.request.body
        purpose = self.get_query_argument("purpose", "")
        name = self.get_query_argument("name", "import")
        fmt = self.get_query_argument("format", "csv")
        scenario = self.get_query_argument("scenario", "").strip() or None
        rules = self.settings["production"]

        def create(s, caller) -> dict:
            if len(body) > rules.max_import_bytes:
                raise TooLarge(Msg(f"文件超过 {rules.max_import_bytes} 字节", f"the file is over {rules.max_import_bytes} bytes"), "size")  # fmt: skip
            imports.read(body, fmt)  # refuse what is not what it says at once
            found = callers.scenario(s, caller, scenario)
            request = lifecycle.create(
                s, kind="import", requester=caller.username, tenant_id=caller.tenant_id,
                scenario_id=found.id, purpose=purpose, name=name, meta={"format": fmt},
                policy=self.settings["rules"][0],
            )  # fmt: skip
            lifecycle.submit(s, request, body, self.store, caller.username, suffix=f".{fmt}")
            return request_view(request)

        view = await self.audited("gateway.import", name[:200], create)
        self.set_status(201)
        self.finish(view)
        self.run_checks(view["id"])


class LineageHandler(RequestHandler):
    api = {"get": Operation("Cell → job → outputs → decisions → released", m.Lineage, refusals=(NotFound,))}  # fmt: skip

    async def get(self, request_id: str) -> None:
        await self.answer("gateway.lineage", f"request:{request_id}",
                          lambda s, caller: lineage.trace(s, self.own(s, caller, request_id)))  # fmt: skip


def product_view(p: Product, keys: int) -> dict:
    return {"name": p.name, "scenario": p.scenario.name, "status": p.status, "model_request": p.request_id,
            "sha256": p.model_sha256, "created_at": p.created_at.isoformat(), "keys": keys}  # fmt: skip


class ProductsHandler(RequestHandler):
    api = {
        "get": Operation(
            "The caller's company's products", m.Products, links={"products/0/name": PRODUCT}
        )
    }

    async def get(self) -> None:
        def read(s, caller) -> dict:
            mine = s.scalars(
                select(Product).where(Product.tenant_id == caller.tenant_id).order_by(Product.id)
            )
            out = []
            for p in mine:
                keys = s.scalars(select(ProductKey.id).where(ProductKey.product_id == p.id, ProductKey.revoked_at.is_(None))).all()  # fmt: skip
                out.append(product_view(p, len(keys)))
            return {"products": out}

        await self.answer("gateway.products", "products", read)


class ProductKeysHandler(RequestHandler):
    api = {
        "get": Operation("The product's consumer keys (prefixes, never the keys)", m.KeyList,
                         refusals=(AccessDenied, NotFound)),
        "post": Operation(
            "Issue a consumer key (shown once), with its expiry and limits",
            m.IssuedKey,
            status=201,
            body=m.KeyRequest,
            refusals=(BadRequest, NotFound, Conflict),
        ),
    }  # fmt: skip

    async def get(self, name: str) -> None:
        def read(s, caller) -> dict:
            product = own_product(s, caller, name)
            found = s.scalars(select(ProductKey).where(ProductKey.product_id == product.id).order_by(ProductKey.id))  # fmt: skip
            return {"keys": [products.key_view(k) for k in found]}

        await self.answer("gateway.product_keys", f"product:{name}", read)

    async def post(self, name: str) -> None:
        spec = self.spec

        def issue(s, caller) -> dict:
            product = products.get(s, name)
            key = products.issue_key(s, product, caller.tenant_id, caller.username, spec.consumer,
                                     expires_at=spec.expires_at, calls_per_minute=spec.calls_per_minute,
                                     records_per_day=spec.records_per_day)  # fmt: skip
            return {
                "product": name,
                "key": key,
                "prefix": key[:12],
                "consumer": spec.consumer.strip(),
            }

        view = await self.audited("gateway.product_key", f"product:{name}", issue)
        self.set_status(201)
        self.finish(view)


def own_product(s, caller, name: str) -> Product:
    """The caller's company's product ``name`` (another company's is not found)."""
    product = products.get(s, name)
    if product.tenant_id != caller.tenant_id:
        raise NotFound(Msg(f"没有产品 {name}", f"no product {name}"))
    return product


KEY_PREFIX = Param(r"shuyu_pk_[A-Za-z0-9_-]{3}", {"type": "string", "pattern": r"^shuyu_pk_[A-Za-z0-9_-]{3}$"})  # fmt: skip


class KeyRotateHandler(RequestHandler):
    api = {
        "post": Operation(
            "Rotate a key: a new key for its consumer; the old one valid for the grace, audited",
            m.IssuedKey, status=201, body=m.KeyRotate, refusals=(BadRequest, AccessDenied, NotFound),
        )
    }  # fmt: skip

    async def post(self, name: str, prefix: str) -> None:
        grace = self.spec.grace_seconds

        def rotate(s, caller) -> dict:
            product = own_product(s, caller, name)
            key = products.rotate_key(s, product, caller.tenant_id, caller.username, prefix, grace)
            consumer = s.scalars(select(ProductKey.consumer).where(ProductKey.key_sha256 == hashlib.sha256(key.encode()).hexdigest())).one()  # fmt: skip
            return {"product": name, "key": key, "prefix": key[:12], "consumer": consumer}

        view = await self.audited("gateway.product_key_rotate", f"product:{name}", rotate)
        self.set_status(201)
        self.finish(view)


class KeyHandler(RequestHandler):
    api = {"delete": Operation("Revoke a key at once", m.KeyList, refusals=(AccessDenied, NotFound))}  # fmt: skip

    async def delete(self, name: str, prefix: str) -> None:
        def revoke(s, caller) -> dict:
            product = own_product(s, caller, name)
            products.revoke_key(s, product, caller.tenant_id, caller.username, prefix)
            found = s.scalars(select(ProductKey).where(ProductKey.product_id == product.id, ProductKey.prefix == prefix))  # fmt: skip
            return {"keys": [products.key_view(k) for k in found]}

        await self.answer("gateway.product_key_revoke", f"product:{name}", revoke)


class ConsumersHandler(RequestHandler):
    """The company's statement of its consumers: each consumer's calls of its products."""

    api = {
        "get": Operation(
            "Per-consumer usage and charges of the company's products in a month",
            m.ConsumerStatement, query=m.MonthQuery, refusals=(BadRequest,),
        )
    }  # fmt: skip

    async def get(self) -> None:
        month = self.args.month

        def read(s, caller) -> dict:
            tenant = s.get(Tenant, caller.tenant_id)
            return consumers.statement(s, tenant.id, tenant.name, month).view()

        await self.answer("gateway.consumers", "products", read, month=month)


class ProductQueryHandler(RequestHandler):
    """A consumer's query: answers only, metered and audited per call."""

    mode = "score"
    api = {
        "post": Operation(
            "Scores for records (features), with a product key (X-Shuyu-Product-Key)",
            m.Answers,
            query=m.ScenarioQuery,
            headers=m.ProductKeyHeader,
            body=m.ProductQuery,
            refusals=(BadRequest, AccessDenied, NotFound, Conflict, RateLimited),
        )
    }

    async def post(self, name: str) -> None:
        mode = self.mode
        key = self.request.headers.get("X-Shuyu-Product-Key", "")
        scenario = self.get_query_argument("scenario", "").strip() or None
        body = self.request.body
        rules = self.settings["production"]

        def query(s, caller) -> dict:
            product, found = products.admit_key(s, name, key, scenario)
            asked = json_object(body, Msg("查询", "the query"))
            items = asked.get("records") if asked.get("records") is not None else asked.get("keys")
            products.admit_call(s, found, len(items) if isinstance(items, list) else 0, rules)
            answer, absent = products.answer(s, product, mode, asked, self.store, rules.max_query_records)  # fmt: skip
            by_key = asked.get("records") is None
            products.record_call(s, product, found, caller, mode, len(answer["answers"]), absent,
                                 by_key, rules)  # fmt: skip
            return answer

        self.finish(
            await self.audited("gateway.product_query", f"product:{name}", query, mode=mode)
        )


class ProductVerifyHandler(ProductQueryHandler):
    """Yes/no answers (核验) instead of scores."""

    mode = "verify"
    api = {
        "post": replace(
            ProductQueryHandler.api["post"],
            summary="Yes/no answers (核验) for records or keys, with a product key",
        )
    }


def routes() -> list[Route]:
    v1 = "/api/v1"
    rid = {"request_id": REQUEST_ID}
    product = {"name": PRODUCT}
    keyed = {"name": PRODUCT, "prefix": KEY_PREFIX}
    return [
        Route(f"{v1}/jobs", JobsHandler),
        Route(f"{v1}/jobs/{{request_id}}", OneJobHandler, rid),
        Route(f"{v1}/jobs/{{request_id}}/log", JobLogHandler, rid),
        Route(f"{v1}/jobs/{{request_id}}/exports", JobExportHandler, rid),
        Route(f"{v1}/models", ModelsHandler),
        Route(f"{v1}/imports", ImportsHandler),
        Route(f"{v1}/requests/{{request_id}}/lineage", LineageHandler, rid),
        Route(f"{v1}/products", ProductsHandler),
        Route(f"{v1}/products/consumers", ConsumersHandler),
        Route(f"{v1}/products/{{name}}/keys", ProductKeysHandler, product),
        Route(f"{v1}/products/{{name}}/keys/{{prefix}}", KeyHandler, keyed),
        Route(f"{v1}/products/{{name}}/keys/{{prefix}}/rotate", KeyRotateHandler, keyed),
        Route(f"{v1}/products/{{name}}/score", ProductQueryHandler, product),
        Route(f"{v1}/products/{{name}}/verify", ProductVerifyHandler, product),
    ]
