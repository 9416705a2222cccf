"""A console app served in-process for unit tests. Only the hub's OAuth (the boundary) is faked:
tests set ``ConsoleHandler.get_current_user`` with ``monkeypatch`` to name the signed-in user."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from types import SimpleNamespace
from urllib.parse import urlencode

from tornado import httpclient, web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

FAKE_HUB = SimpleNamespace(login_url="/hub/login")


class Client:
    def __init__(self, base: str):
        self.base = base
        self.http = httpclient.AsyncHTTPClient()
        self.xsrf = ""

    async def get(self, path: str) -> httpclient.HTTPResponse:
        answer = await self.http.fetch(self.base + path, raise_error=False)
        for cookie in answer.headers.get_list("Set-Cookie"):
            if m := re.match(r"_xsrf=([^;]+)", cookie):
                self.xsrf = m.group(1)
        return answer

    async def post(self, path: str, form: dict[str, str]) -> httpclient.HTTPResponse:
        if not self.xsrf:
            await self.get(path)
        return await self.http.fetch(
            self.base + path, method="POST", body=urlencode({"_xsrf": self.xsrf, **form}),
            headers={"Cookie": f"_xsrf={self.xsrf}"}, raise_error=False,
        )  # fmt: skip


@asynccontextmanager
async def serving(app: web.Application):
    sock, port = bind_unused_port()
    server = HTTPServer(app)
    server.add_sockets([sock])
    try:
        yield Client(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
