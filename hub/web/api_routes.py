"""The gateway's routes as declarations: what each operation takes, answers and refuses.

One table is the source of both the tornado routes and the OpenAPI document
(:mod:`hub.web.openapi`), so the description cannot drift from the code: building the app
refuses a route whose handler implements a method it does not declare, or whose path names a
parameter without its pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel
from tornado import web

from hub import refusals
from hub.refusals import MethodNotAllowed, Refusal

METHODS = ("get", "post", "put", "patch", "delete")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Param:
    """A path parameter: the pattern tornado matches and the schema the document shows."""

    pattern: str
    schema: Mapping[str, Any]

    def holds(self, value: str) -> bool:
        """Whether ``value`` (which matched the pattern) is within the schema's maximum."""
        maximum = self.schema.get("maximum")
        return maximum is None or int(value) <= maximum


@dataclass(frozen=True)
class Media:
    """A body that is not a JSON model: a file (Parquet, tar, CSV, …) or text."""

    types: tuple[str, ...]
    description: str
    headers: Mapping[str, str] = field(default_factory=dict)  # answer header -> JSON type
    models: Mapping[str, type[BaseModel]] = field(default_factory=dict)  # a type's JSON model


@dataclass(frozen=True)
class Operation:
    """One method of one route.

    Args:
        summary: What it does, for the document.
        answer: The model (JSON) or media of a successful answer.
        status: The status of a successful answer.
        query: The query parameters, as a model (validated before the handler runs).
        body: The request body: a model (JSON, validated) or a :class:`Media`.
        headers: Request headers, as a model whose fields' aliases are the header names.
        refusals: Why it may refuse, beyond what every call may (token, admission).
        public: Whether it answers without a token (it then names no data).
        links: Where in the answer (a JSON pointer: ``id``, ``requests/0/id``) a value is that
            other routes take as a path parameter (:class:`Param`), for clients and fuzzers.
    """

    summary: str
    answer: type[BaseModel] | Media
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | Media | None = None
    headers: type[BaseModel] | None = None
    refusals: tuple[type[Refusal], ...] = ()
    public: bool = False
    links: Mapping[str, Param] = field(default_factory=dict)


class UndeclaredRoute(Exception):
    """A route whose handler or path is not fully declared: the app is not built."""


@dataclass(frozen=True)
class Route:
    """A path (relative to the gateway's service prefix), its handler and its parameters."""

    path: str
    handler: type[web.RequestHandler]
    params: Mapping[str, Param] = field(default_factory=dict)

    def operations(self) -> dict[str, Operation]:
        """The declared operations, checked against the handler and the path."""
        declared: dict[str, Operation] = getattr(self.handler, "api", {})
        for method in METHODS:
            implemented = getattr(self.handler, method) is not getattr(web.RequestHandler, method)
            if implemented and method not in declared:
                raise UndeclaredRoute(
                    f"{self.handler.__name__} implements {method.upper()} {self.path} "
                    "without declaring it (api = {...: Operation(...)})"
                )
        if not declared:
            raise UndeclaredRoute(f"{self.path}: {self.handler.__name__} declares no operation")
        for name in PLACEHOLDER.findall(self.path):
            if name not in self.params:
                raise UndeclaredRoute(f"{self.path}: the parameter {name!r} has no pattern")
        return declared

    def pattern(self, prefix: str) -> str:
        """The tornado pattern under ``prefix``."""
        parts = PLACEHOLDER.split(self.path)  # literal, name, literal, name, …
        return prefix + "".join(
            f"(?P<{part}>{self.params[part].pattern})" if i % 2 else re.escape(part)
            for i, part in enumerate(parts)
        )


class Declared:
    """What every handler of a declared route (the gateway's, the consoles' JSON routes) does
    first: take its path parameters' patterns, refuse a method it does not declare (405) and a
    path parameter out of its range (404), before authentication or anything else."""

    api: ClassVar[dict[str, Operation]] = {}

    def initialize(self, params: Mapping[str, Param] | None = None) -> None:
        self.params = params or {}

    @property
    def operation(self) -> Operation | None:
        return self.api.get(self.request.method.lower())  # type: ignore[attr-defined]

    def declared(self) -> Operation:
        """The operation of this call, or the refusal that the path or method is not one."""
        operation = self.operation
        if operation is None:
            raise MethodNotAllowed(refusals.BY_STATUS[405][1])
        for name, value in self.path_kwargs.items():  # type: ignore[attr-defined]
            if not self.params[name].holds(value):
                raise refusals.for_status(404)
        return operation


def tornado_rules(prefix: str, routes: list[Route]) -> list[tuple[str, type]]:
    """The application's rules; :class:`UndeclaredRoute` if any route is not declared."""
    for route in routes:
        route.operations()
    return [(route.pattern(prefix), route.handler, {"params": route.params}) for route in routes]
