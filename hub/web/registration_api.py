"""The gateway's product registration routes: a company registers its product (each change a
new version, checked and reviewed as a ``registration`` request, :mod:`hub.kinds.registration`)
and reads the registrations issued. Only the product's own company sees or registers it."""

from __future__ import annotations

import json

from hub.i18n import Msg
from hub.production import products, registry
from hub.refusals import BadRequest, Conflict, NotFound
from hub.review import lifecycle
from hub.web import api_models as m
from hub.web.api_routes import Operation, Route
from hub.web.production_api import PRODUCT
from hub.web.requests_api import LINKS, RequestHandler, json_object, request_view


def _own(s, caller, name: str):
    """The caller's company's product ``name``; another company's is as absent as none."""
    product = products.get(s, name)
    if product.tenant_id != caller.tenant_id:
        raise NotFound(Msg(f"没有产品 {name}", f"no product {name}"))
    return product


class RegistrationsHandler(RequestHandler):
    api = {
        "post": Operation(
            "Register the product (a new version): the record is checked, then reviewed",
            m.Request,
            status=201,
            query=m.ModelsQuery,
            body=m.RegisterProduct,
            refusals=(BadRequest, NotFound, Conflict),
            links=LINKS,
        ),
        "get": Operation(
            "The product's issued registrations and the one in force",
            m.Registrations,
            refusals=(NotFound,),
        ),
    }

    async def post(self, name: str) -> None:
        purpose = self.get_query_argument("purpose", "")
        body = self.request.body

        def create(s, caller) -> dict:
            record = json_object(body, Msg("登记信息", "the registration record"))
            product = _own(s, caller, name)
            content = json.dumps({**record, "product": name}, ensure_ascii=False).encode()
            request = lifecycle.create(
                s, kind="registration", requester=caller.username, tenant_id=caller.tenant_id,
                scenario_id=product.scenario_id, purpose=purpose, name=name,
                policy=self.settings["rules"][0],
            )  # fmt: skip
            lifecycle.submit(s, request, content, self.store, caller.username, suffix=".json")
            return request_view(request)

        view = await self.audited("gateway.registration", f"product:{name}", create)
        self.set_status(201)
        self.finish(view)
        self.run_checks(view["id"])

    async def get(self, name: str) -> None:
        def read(s, caller) -> dict:
            product = _own(s, caller, name)
            return {
                "product": name,
                "in_force": registry.in_force(s, product),
                "registrations": registry.registrations(s, name),
            }

        await self.answer("gateway.registrations", f"product:{name}", read)


def routes() -> list[Route]:
    return [Route("/api/v1/products/{name}/registrations", RegistrationsHandler, {"name": PRODUCT})]
