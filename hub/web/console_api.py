"""The consoles' JSON answers as declared routes, in the gateway's idiom
(:mod:`hub.web.api_routes`): each declares its inputs, answer and refusals, its inputs are
validated before it runs, every answer that is not a success is the JSON refusal shape, and each
console serves the OpenAPI document generated from its table at ``<prefix>/openapi.json``.

The consoles' pages stay HTML (their errors the bilingual error page); only these routes speak
JSON. A browser that opens one without a session (it asks for a page, or holds the hub's
cookies) is sent through the hub's login as before; any other client without a token is
answered 401.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from hub import refusals
from hub.i18n import Msg
from hub.refusals import BadRequest, MethodNotAllowed
from hub.web import openapi
from hub.web.api_models import Answer
from hub.web.api_routes import Declared, Operation
from hub.web.base import invalid
from hub.web.console_base import ConsoleHandler, refusal_of


class JsonRoute(Declared, ConsoleHandler):
    """Base of a console's declared JSON routes. ``prepare`` refuses an undeclared method or
    an out-of-range path parameter, asks for a token, and validates the query (``self.args``)."""

    args: Any = None

    def check_xsrf_cookie(self) -> None:
        if self.operation is None:  # before the XSRF check: a method it does not take is 405
            raise MethodNotAllowed(refusals.BY_STATUS[405][1])
        super().check_xsrf_cookie()

    async def prepare(self) -> None:
        operation = self.declared()
        if not operation.public and self.current_user is None:
            if "redirect" in self.__dict__:  # the hub knows the user, who lacks the scope
                raise refusals.AccessDenied(refusals.BY_STATUS[403][1])
            # A browser (it asks for a page, or holds the hub's cookies) signs in through the
            # hub; a client of the API (a token, or nothing) is told it needs one.
            headers = self.request.headers
            browser = "text/html" in headers.get("Accept", "") or bool(self.request.cookies)
            if not browser or "Authorization" in headers:
                raise refusals.Unauthorized(refusals.BY_STATUS[401][1])
        if operation.query is not None:
            try:
                query = {k: v[-1].decode() for k, v in self.request.query_arguments.items()}
            except UnicodeDecodeError:
                raise BadRequest(
                    Msg("查询参数不是 UTF-8", "the parameters are not UTF-8")
                ) from None
            try:
                self.args = operation.query.model_validate(query)
            except ValidationError as e:
                raise invalid(Msg("查询参数", "parameters"), e) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        refusal = refusal_of(status_code, kwargs.get("exc_info", (None, None))[1])
        if refusal.status == 405:
            self.set_header("Allow", ", ".join(m.upper() for m in self.api))
        self.clear_header("Content-Disposition")
        self.clear_header("X-Shuyu-Audit-Checkpoint")
        self.set_header("Content-Type", "application/json")
        self.set_status(refusal.status)
        self.finish(json.dumps(refusal.body(), ensure_ascii=False))


class Document(Answer):
    """This document."""


class OpenAPIHandler(JsonRoute):
    """The console's JSON routes described, generated from its route table; it names no data,
    so it needs no sign-in."""

    api = {"get": Operation("This description (OpenAPI 3.1)", Document, public=True)}

    def get(self) -> None:
        prefix = self.settings["prefix"]
        about = self.settings["api_about"]
        self.finish(openapi.document(prefix, self.settings["api_routes"], about))


class NoRouteHandler(JsonRoute):
    """A path the console does not serve (or whose parameters do not match): a JSON 404 where
    a JSON route was meant (``….json``), the bilingual error page elsewhere."""

    def check_xsrf_cookie(self) -> None:
        raise refusals.for_status(404)

    async def prepare(self) -> None:
        raise refusals.for_status(404)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.request.path.endswith(".json"):
            super().write_error(status_code, **kwargs)
        else:
            ConsoleHandler.write_error(self, 404)  # in the pages' own words
