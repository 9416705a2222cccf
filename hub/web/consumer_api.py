"""The consumer API: a product's answers for outside consumers, on the public port.

A JupyterHub service with a URL and no OAuth (the proxy routes ``/services/products/`` to it),
running in its own process on loopback. A consumer (a bank's risk system) holds a product key and
nothing else: no hub account, no workspace. ``Authorization: Bearer <key>`` or
``X-Product-Key: <key>`` opens one product:

- ``POST api/v1/{product}/score``: scores for records the consumer sends (its features). Scoring
  by key is not offered here: a score for an identifier the domain does not hold would either
  differ from a present one's (a membership oracle) or be made up; a consumer scores its own
  customers' features instead.
- ``POST api/v1/{product}/verify``: yes/no (核验) for records or identifiers; an absent identifier
  is a plain "no", as a present one that does not verify. A key that looks up many identifiers in
  a day, or many absent ones, raises a ``product.sweep`` alert and is stopped.
- ``GET api/v1/{product}/statement?month=YYYY-MM``: the consumer's own statement.
- ``GET api/v1/openapi.json``: this description.

Each key has its own limits (calls a minute, records a day); every call is metered to the key at
the product's registered price (:mod:`hub.production.consumers`) and audited in the same
transaction; refusals are audited too. A suspended company, a revoked scenario or an unregistered
product is refused at the next call. Bodies over ``consumer_max_body_bytes`` are a 413.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tornado import httpserver, web

from hub import audit, home, refusals, settings
from hub.audit_anchor import Anchor
from hub.db.engine import Database
from hub.db.models import Product, ProductKey
from hub.i18n import Msg
from hub.production import consumers, products
from hub.refusals import AccessDenied, BadRequest, Conflict, NotFound, RateLimited, TooLarge
from hub.web import api_models as m
from hub.web import openapi, serve
from hub.web.api_routes import Operation, Param, Route, tornado_rules
from hub.web.base import GatewayHandler, invalid

log = logging.getLogger("shuyu.consumer")
PRODUCT = Param(m.PRODUCT_NAME.strip("^$"), {"type": "string", "pattern": m.PRODUCT_NAME})
HARD_BODY = 64 << 20  # beyond this the connection is closed unread
ABOUT = (
    "Shuyu data products / 数域数据产品",
    "Answers of published data products for outside consumers, with a product key issued by "
    "the product's company. Raw data never leaves the domain: only scores and yes/no answers. "
    "Every call is metered to the key at the product's registered price and audited.",
)


class ConsumerQuery(BaseModel):
    """Records (the model's features) or identifiers (verification only)."""

    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Any]] | None = None
    keys: list[Annotated[str, Field(max_length=128)]] | None = None


class ConsumerHandler(GatewayHandler):
    """A call with a product key: the key is read, never a hub token; the body is read in
    chunks and refused (413) past the limit."""

    key: str = ""
    _chunks: list[bytes]
    _size = 0

    async def prepare(self) -> None:
        operation = self.declared()
        self._chunks, self._size = [], 0
        limit = self.settings["max_body"]
        declared = self.request.headers.get("Content-Length", "0")
        if not declared.isdigit() or int(declared) > HARD_BODY:
            raise TooLarge(self.too_large(limit))
        self.request.connection.set_max_body_size(HARD_BODY)
        self.args = self._validated(operation.query, self._query(), Msg("查询参数", "parameters"))

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= self.settings["max_body"]:
            self._chunks.append(chunk)

    @staticmethod
    def too_large(limit: int) -> Msg:
        return Msg(f"请求体超过 {limit} 字节", f"the body is over {limit} bytes")

    def _key(self) -> str:
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else ""
        key = key or self.request.headers.get("X-Product-Key", "").strip()
        if not key:
            raise refusals.Unauthorized(Msg(
                "需要产品密钥（Authorization: Bearer <密钥> 或 X-Product-Key）",
                "a product key is required (Authorization: Bearer <key> or X-Product-Key)",
            ))  # fmt: skip
        return key[:200]

    def body(self) -> ConsumerQuery:
        if self._size > self.settings["max_body"]:
            raise TooLarge(self.too_large(self.settings["max_body"]))
        try:
            data = json.loads(b"".join(self._chunks) or b"{}")
        except ValueError:
            raise BadRequest(Msg("请求体不是 JSON", "the body is not JSON")) from None
        if not isinstance(data, dict):
            raise BadRequest(Msg("请求体须为 JSON 对象", "the body must be an object"))
        try:
            return ConsumerQuery.model_validate(data)
        except ValidationError as e:
            raise invalid(Msg("请求体", "body"), e) from None

    async def keyed(self, action: str, name: str, work, details: dict[str, Any]) -> Any:
        """``work(session)`` → (answer, product, key) in one transaction with its audit event;
        a refusal (no key, the body, the key, the product, a limit) audited on its own, with the
        key's prefix only when the key is one."""
        db: Database = self.settings["db"]

        def run() -> Any:
            self.key = self._key()
            with db.session() as s:
                answer, product, key = work(s)
                audit.append(s, action, actor=f"consumer:{key.prefix}", tenant=product.tenant.group,
                             object=f"product:{name}",
                             details={**details, "consumer": key.consumer,
                                      "ip": self.request.remote_ip})  # fmt: skip
                return answer

        try:
            return await asyncio.to_thread(run)
        except refusals.Refusal as refusal:
            prefix = (
                self.key[:12] if refusal.code not in ("bad_product_key", "unauthorized") else "?"
            )
            await asyncio.to_thread(
                self.settings["writer"].write, action, actor=f"consumer:{prefix}",
                object=f"product:{name}"[:200], outcome="denied", reason=refusal.code,
                details={**details, "message": str(refusal.msg), "ip": self.request.remote_ip},
            )  # fmt: skip
            raise


@web.stream_request_body
class ScoreHandler(ConsumerHandler):
    mode = "score"
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Scores for records (the model's features), one per record",
            m.Answers,
            body=ConsumerQuery,
            refusals=(BadRequest, AccessDenied, NotFound, Conflict, RateLimited, TooLarge),
        )
    }

    async def post(self, name: str) -> None:
        mode, rules, store = self.mode, self.settings["production"], self.settings["store"]
        details: dict[str, Any] = {"mode": mode}

        def work(s) -> tuple[dict, Product, ProductKey]:
            asked = self.body()
            items = asked.records if asked.records is not None else asked.keys
            count = details["records"] = len(items) if isinstance(items, list) else 0
            product, key = products.admit_key(s, name, self.key, None)
            price = consumers.price_of(s, product)
            products.admit_call(s, key, count, rules)
            query = asked.model_dump(exclude_none=True)
            answer, absent = products.answer(s, product, mode, query, store, rules.max_query_records)  # fmt: skip
            charge = consumers.charge(s, product, key.consumer, price, len(answer["answers"]))
            caller = _Meter(product.tenant_id, f"consumer:{key.prefix}")
            products.record_call(s, product, key, caller, mode, len(answer["answers"]), absent,
                                 asked.records is None, rules, charge=charge, stop=True)  # fmt: skip
            return answer, product, key

        self.finish(await self.keyed("consumer.query", name, work, details))


@web.stream_request_body
class VerifyHandler(ScoreHandler):
    mode = "verify"
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Yes/no answers (核验) for records or identifiers; an absent identifier is a no",
            m.Answers,
            body=ConsumerQuery,
            refusals=(BadRequest, AccessDenied, NotFound, Conflict, RateLimited, TooLarge),
        )
    }


class StatementHandler(ConsumerHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "The consumer's own statement of a month: its calls of this product, priced",
            m.ConsumerStatement,
            query=m.MonthQuery,
            refusals=(AccessDenied, NotFound),
        )
    }

    async def get(self, name: str) -> None:
        month = self.args.month

        def work(s) -> tuple[dict, Product, ProductKey]:
            product, key = products.find_key(s, name, self.key)
            st = consumers.statement(s, product.tenant_id, product.tenant.name, month,
                                     product=product.name, consumer=key.consumer)  # fmt: skip
            return st.view(), product, key

        self.finish(await self.keyed("consumer.statement", name, work, {"month": month}))


class OpenApiHandler(ConsumerHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("This description (OpenAPI 3.1)", m.Answer, public=True)
    }

    def get(self) -> None:
        self.finish(document(self.settings["prefix"]))


class _Meter:
    """Who a consumer's call is metered to: the product's company, as the key."""

    def __init__(self, tenant_id: int, username: str) -> None:
        self.tenant_id, self.username = tenant_id, username


def routes() -> list[Route]:
    v1, product = "/api/v1", {"name": PRODUCT}
    return [
        Route(f"{v1}/openapi.json", OpenApiHandler),
        Route(f"{v1}/{{name}}/score", ScoreHandler, product),
        Route(f"{v1}/{{name}}/verify", VerifyHandler, product),
        Route(f"{v1}/{{name}}/statement", StatementHandler, product),
    ]


def document(prefix: str) -> dict:
    """The consumers' OpenAPI document: the gateway's machinery, the product key as security."""
    doc = openapi.document(prefix.rstrip("/"), routes(), ABOUT)
    doc["components"]["securitySchemes"] = {
        "productKey": {"type": "http", "scheme": "bearer",
                       "description": "The product key issued to the consumer (shuyu_pk_…)"},
        "productKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Product-Key"},
    }  # fmt: skip
    for path in doc["paths"].values():
        for op in path.values():
            if op["security"]:
                op["security"] = [{"productKey": []}, {"productKeyHeader": []}]
            for answer in op["responses"].values():
                answer["description"] = answer["description"].replace(
                    "No API token", "No product key"
                )
    return doc


class NoRoute(ConsumerHandler):
    async def prepare(self) -> None:
        raise refusals.for_status(404)


def make_app(
    db: Database, store, prefix: str, config: settings.Settings | None = None
) -> web.Application:
    """The consumer API under ``prefix`` (the service's, e.g. ``/services/products/``)."""
    config = config or settings.load()
    prefix = prefix.rstrip("/")
    table = routes()
    return web.Application(
        tornado_rules(prefix, table),
        default_handler_class=NoRoute,
        api_routes=table,
        db=db,
        writer=audit.AuditWriter(db),
        store=store,
        prefix=prefix + "/",
        production=config.production_rules,
        max_body=config.production_rules.consumer_max_body_bytes,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s products] %(message)s")  # fmt: skip
    config = settings.load()
    db = Database(home.default_db_url(), anchor=Anchor.for_home(home.shuyu_home()))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/products/")
    app = make_app(db, home.domain_store(), prefix, config)
    # Behind the public proxy only: it appends the client's address to X-Forwarded-For, whose
    # last entry tornado takes (xheaders); loopback, so nothing else reaches the port.
    server = httpserver.HTTPServer(app, xheaders=True, max_body_size=HARD_BODY)
    port = int(os.environ.get("SHUYU_CONSUMER_PORT", "8093"))
    server.listen(port, "127.0.0.1")
    log.info("consumer API listening on 127.0.0.1:%s under %s (%s)", port, prefix,
             datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    serve.until_stopped()


if __name__ == "__main__":
    main()
