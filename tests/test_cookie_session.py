"""The workspace server's credential rule, on a real tornado server: a request carrying a token
(header, URL or form) is refused with the bilingual JSON 403 before any token is looked at; the
session cookie is the only credential the server's HubOAuth reads."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from kernels.cookie_session import (
    CODE,
    CookieSessionHubOAuth,
    CookieSessionIdentityProvider,
    presented_token,
)

HUB = {
    "api_token": "server-token",
    "oauth_client_id": "jupyterhub-user-alice",
    "base_url": "/user/alice/",
    "access_scopes": {"access:servers!server=alice/"},
}
ALICE = {"kind": "user", "name": "alice", "scopes": ["access:servers!server=alice/"], "groups": []}


class FakeHub(web.RequestHandler):
    """The hub API's ``/user`` at the network boundary: who a token belongs to. It knows one
    token, the session's; the calls it receives are recorded."""

    def initialize(self, seen: list) -> None:
        self.seen = seen

    def get(self) -> None:
        token = self.request.headers.get("Authorization", "").split(" ")[-1]
        self.seen.append(token)
        if token != "session-token":
            raise web.HTTPError(403)
        self.finish(ALICE)


class Probe(web.RequestHandler):
    """Authenticates as a workspace handler does (the identity provider in ``prepare``) and
    reports what it found, and which token the server's HubOAuth would use."""

    def initialize(self, provider: CookieSessionIdentityProvider) -> None:
        self.provider = provider

    async def prepare(self) -> None:
        self.found = await self.provider.get_user(self)

    def _report(self) -> None:
        token = self.provider.hub_auth.get_token(self)
        self.finish({"user": self.found and self.found.username, "token": token})

    get = post = _report

    def check_xsrf_cookie(self) -> None:
        pass


SEEN: list[str] = []


async def call(method: str, path: str, headers: dict, body: str | None = None, cookie: str = ""):
    sock, port = bind_unused_port()
    api_url = f"http://127.0.0.1:{port}/hub/api/"
    provider = CookieSessionIdentityProvider(hub_auth=CookieSessionHubOAuth(api_url=api_url, **HUB))
    app = web.Application(
        [(r"/hub/api/user", FakeHub, {"seen": SEEN}), (r"/.*", Probe, {"provider": provider})],
        cookie_secret="s" * 32,
    )
    server = HTTPServer(app)
    server.add_sockets([sock])
    if cookie:  # the cookie the OAuth callback sets: the hub's token, signed with the secret
        signed = web.create_signed_value(app.settings["cookie_secret"], HUB["oauth_client_id"], cookie)  # fmt: skip
        headers = {**headers, "Cookie": f"{HUB['oauth_client_id']}={signed.decode()}"}
    try:
        return await AsyncHTTPClient().fetch(
            HTTPRequest(f"http://127.0.0.1:{port}{path}", method, headers, body),
            raise_error=False,
        )
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("case", "method", "path", "headers", "body"),
    [
        ("token header", "GET", "/api/kernels", {"Authorization": "token abc"}, None),
        ("bearer header", "GET", "/api/kernels", {"Authorization": "Bearer abc"}, None),
        ("any other authorization", "GET", "/api/kernels", {"Authorization": "Basic YTpi"}, None),
        ("token in the URL", "GET", "/api/kernels?token=abc", {}, None),
        ("empty token in the URL", "GET", "/lab?token=", {}, None),
        ("token in a websocket URL", "GET", "/api/kernels/k/channels?token=abc",
         {"Sec-Fetch-Mode": "websocket"}, None),
        ("token in a form", "POST", "/api/kernels",
         {"Content-Type": "application/x-www-form-urlencoded"}, "token=abc"),
    ],
)  # fmt: skip
def test_when_a_request_carries_a_token_then_the_server_refuses_it_in_json(
    case, method, path, headers, body
):
    SEEN.clear()
    r = asyncio.run(call(method, path, headers, body, cookie="session-token"))
    assert r.code == 403, case
    assert SEEN == []  # refused before any token, the cookie's included, was looked up
    answer = json.loads(r.body)
    assert answer["code"] == CODE and answer["status"] == 403
    assert "令牌" in answer["message_zh"] and "tokens" in answer["message_en"]
    assert answer["message"] == f"{answer['message_zh']} / {answer['message_en']}"
    assert "session-token" not in r.body.decode() and "abc" not in r.body.decode()


def test_when_a_request_carries_only_the_session_cookie_then_that_cookie_is_the_credential():
    SEEN.clear()
    r = asyncio.run(call("GET", "/api/kernels?tokens=x", {}, cookie="session-token"))
    assert r.code == 200
    assert json.loads(r.body)["user"] == "alice"
    assert json.loads(r.body)["token"] == "session-token"
    assert SEEN == ["session-token"]


def test_when_nothing_is_presented_then_no_user_and_no_token():
    r = asyncio.run(call("GET", "/api/kernels", {}))
    assert r.code == 200
    assert json.loads(r.body) == {"user": None, "token": None}


@pytest.mark.parametrize(
    ("headers", "uri", "expected"),
    [
        ({}, "/x", False),
        ({"Authorization": ""}, "/x", False),
        ({"Authorization": "  "}, "/x", False),
        ({"Authorization": "token a"}, "/x", True),
        ({}, "/x?token=a", True),
        ({}, "/x?Token=a", False),  # JupyterHub reads only "token"
        ({}, "/x?notoken=a", False),
    ],
)
def test_presented_token_table(headers, uri, expected):
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    line = RequestStartLine("GET", uri, "HTTP/1.1")
    request = HTTPServerRequest(
        start_line=line, headers=HTTPHeaders({"Host": "127.0.0.1", **headers})
    )
    assert presented_token(request) is expected
