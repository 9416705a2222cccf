"""The consoles' one base: every error is the bilingual error page, never a traceback, and the
platform's refusals keep their status and message."""

from __future__ import annotations

import pytest
from tornado import web

from hub.i18n import Msg, UserError
from hub.refusals import Conflict, NotFound, ServerError
from hub.web.console_base import ConsoleHandler, console_settings, refusal_of
from tests.console_app import FAKE_HUB, serving

SECRET = "/srv/shuyu/domain/raw/secret.parquet"


class Refusing(ConsoleHandler):
    hub_scopes = {"custom:shuyu:test"}

    @web.authenticated
    async def get(self, what: str) -> None:
        if what == "refusal":
            raise NotFound(Msg("没有申请 #9", "no request #9"))
        if what == "user":
            raise UserError(Msg("金额无效", "not an amount"))
        if what == "crash":
            raise RuntimeError(f"cannot open {SECRET}")
        if what == "scope":
            self.require("custom:shuyu:admin")
        if what.isdigit():
            raise web.HTTPError(int(what), f"internal detail {SECRET}")
        self.finish("ok")


@pytest.fixture
async def console(monkeypatch):
    user = {"name": "adam", "scopes": ["custom:shuyu:test"]}
    monkeypatch.setattr(ConsoleHandler, "get_current_user", lambda self: user)
    app = web.Application(
        [(r"/c/(?P<what>[a-z0-9]+)", Refusing)], **console_settings(None, FAKE_HUB, "/c")
    )
    async with serving(app) as client:
        yield client


@pytest.mark.parametrize(
    "path, status, zh, en",
    [
        ("/c/refusal", 404, "没有申请 #9", "no request #9"),
        ("/c/user", 400, "金额无效", "not an amount"),
        ("/c/scope", 403, "无权执行此操作", "you may not do this"),
        ("/c/404", 404, "没有这个页面", "no such page"),
        ("/c/409", 409, "状态冲突", "conflict"),
        ("/c/crash", 500, "服务内部错误", "internal error"),
        ("/c/502", 500, "服务内部错误", "internal error"),
    ],
    ids=["refusal", "user-error", "missing-scope", "http-404", "http-409", "crash", "http-502"],
)
async def test_when_a_handler_fails_then_the_error_page_says_why_in_both_languages(
    console, path, status, zh, en
):
    answer = await console.get(path)
    page = answer.body.decode()
    assert answer.code == status
    assert answer.headers["Content-Type"].startswith("text/html")
    assert zh in page and en in page and f">{status}<" in page
    assert answer.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/c/crash", "/c/500", "/c/403"])
async def test_when_a_handler_crashes_then_no_traceback_or_internal_detail_is_shown(console, path):
    page = (await console.get(path)).body.decode()
    assert "Traceback" not in page and SECRET not in page and "RuntimeError" not in page


def test_when_the_platform_refuses_then_the_refusal_is_the_page_s_status_and_message():
    refusal = Conflict(Msg("已撤回", "withdrawn"))
    assert refusal_of(500, refusal) is refusal
    assert refusal_of(400, UserError(Msg("甲", "a"))).status == 400
    assert refusal_of(403, web.HTTPError(403)).status == 403
    assert refusal_of(411, web.HTTPError(411)).status == 411
    assert isinstance(refusal_of(500, KeyError("x")), ServerError)
