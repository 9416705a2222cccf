"""The OpenAPI description of the gateway, generated from its route table
(:mod:`hub.web.api_routes`) and served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub import refusals
from hub.web.api_models import RefusalBody
from hub.web.api_routes import Media, Operation, Route

REF = "#/components/schemas/{model}"
ALWAYS = {
    401: "No API token",
    403: "Refused: invalid token, admission (suspended company, expired training, …), "
    "another tenant's network",
}
WHEN_INPUTS = {400: "The parameters, headers or body do not fit this description"}
WHEN_PATH = {404: "Nothing at this path (no such id or name, or it does not fit the pattern)"}


class Schemas:
    """The document's ``components.schemas``, filled as models are referenced."""

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict:
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        self.found.update(schema.pop("$defs", {}))
        name = schema.get("title", model.__name__)
        self.found[name] = schema
        return {"$ref": REF.format(model=name)}

    def properties(self, model: type[BaseModel]) -> list[tuple[str, dict, bool, str]]:
        """(name, schema, required, description) of each field, as parameters see them."""
        schema = model.model_json_schema(ref_template=REF, mode="validation")
        required = set(schema.get("required", []))
        out = []
        for name, prop in schema.get("properties", {}).items():
            description = prop.pop("description", "")
            prop.pop("title", None)
            out.append((name, _not_null(prop), name in required, description))
        return out


def _not_null(prop: dict) -> dict:
    """A parameter's schema without ``null``: an absent parameter is the default."""
    options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        prop.update(options[0])
    elif options:
        prop["anyOf"] = options
    if prop.get("default", 0) is None:
        del prop["default"]
    return prop


def _content(what: type[BaseModel] | Media, schemas: Schemas, mode: str) -> dict:
    if isinstance(what, Media):
        binary = {"type": "string", "format": "binary"}
        return {
            t: {"schema": schemas.ref(what.models[t], mode) if t in what.models else binary}
            for t in what.types
        }
    return {"application/json": {"schema": schemas.ref(what, mode)}}


def _refusals(route: Route, op: Operation, schemas: Schemas) -> dict:
    why: dict[int, list[str]] = {}
    if not op.public:
        for status, text in ALWAYS.items():
            why.setdefault(status, []).append(text)
    if op.query or op.headers or op.body:
        why.setdefault(400, []).append(WHEN_INPUTS[400])
    if route.params:
        why.setdefault(404, []).append(WHEN_PATH[404])
    for cls in op.refusals:
        text = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else cls.code
        why.setdefault(cls.status, []).append(text)
    body = {"application/json": {"schema": schemas.ref(RefusalBody)}}
    return {
        str(status): {"description": "; ".join(dict.fromkeys(texts)), "content": body}
        for status, texts in sorted(why.items())
    }


def operation_id(route: Route, method: str) -> str:
    return f"{method}_{route.handler.__name__.removesuffix('Handler')}"


def _links(op: Operation, routes: list[Route]) -> dict:
    """Where an answer's values lead: each operation of a route taking them as a parameter."""
    links = {}
    for pointer, param in op.links.items():
        for route in routes:
            for name in (n for n, p in route.params.items() if p == param):
                for method in route.operations():
                    target = operation_id(route, method)
                    links[target] = {
                        "operationId": target,
                        "parameters": {name: f"$response.body#/{pointer}"},
                    }
    return links


def _operation(route: Route, method: str, op: Operation, routes: list[Route], schemas: Schemas):
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": dict(param.schema)}
        for name, param in route.params.items()
    ]
    for where, model in (("query", op.query), ("header", op.headers)):
        if model is not None:
            for name, schema, required, description in schemas.properties(model):
                parameters.append({"name": name, "in": where, "required": required,
                                   "description": description, "schema": schema})  # fmt: skip
    ok: dict[str, Any] = {"description": op.summary, "content": _content(op.answer, schemas, "serialization")}  # fmt: skip
    if isinstance(op.answer, Media) and op.answer.headers:
        ok["headers"] = {h: {"schema": {"type": t}} for h, t in op.answer.headers.items()}
    links = _links(op, routes)
    if links:
        ok["links"] = links
    out: dict[str, Any] = {
        "operationId": operation_id(route, method),
        "summary": op.summary,
        "security": [] if op.public else [{"token": []}],
        "parameters": parameters,
        "responses": {str(op.status): ok, **_refusals(route, op, schemas)},
    }
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": _content(op.body, schemas, "validation")}
    return out


GATEWAY = (
    "Shuyu data gateway / 数域数据网关",
    "Desensitized, sampled data for the scenarios a tenant was approved for. Raw data never "
    "leaves the domain. Every call is audited.",
)


def document(base: str, routes: list[Route], about: tuple[str, str] = GATEWAY) -> dict:
    """The OpenAPI 3.1 document of ``routes``, served under ``base`` (the service prefix);
    ``about`` is its title and description (the gateway's unless a console's)."""
    schemas = Schemas()
    paths: dict[str, dict] = {}
    for route in routes:
        for method, op in route.operations().items():
            paths.setdefault(route.path, {})[method] = _operation(
                route, method, op, routes, schemas
            )
    schemas.ref(RefusalBody)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": about[0],
            "version": "1",
            "description": f"{about[1]} Every answer that is not a success is a Refusal "
            f"({', '.join(map(str, sorted(refusals.BY_STATUS)))}).",
        },
        "servers": [{"url": base}],
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The caller's JupyterHub API token ($JUPYTERHUB_API_TOKEN)",
                }
            },
            "schemas": dict(sorted(schemas.found.items())),
        },
        "paths": paths,
    }
