"""The one base of both consoles' handlers (administration, review): hub OAuth with the
console's scopes, the platform database, pages rendered from the shared templates in the
reader's language, and one bilingual error page for every status that is not a success.

A refusal of the platform (:mod:`hub.refusals`) or a :class:`~hub.i18n.UserError`
raised by a handler becomes its status and its message; anything else is a 500 whose details
stay in the log, never on the page.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyterhub.services.auth import HubOAuth, HubOAuthenticated
from tornado import web

from hub import refusals
from hub.db.engine import Database
from hub.i18n import Msg, UserError
from hub.refusals import Refusal
from hub.web.console_text import language, words
from hub.web.headers import NoFramingMixin

log = logging.getLogger("shuyu.console")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ERROR_TEMPLATE = "console_error.html"
INTERNAL = Msg("服务内部错误，详情已记入日志", "internal error; the details are in the log")
ON_PAGE = {401: Msg("请先登录", "please sign in"), 404: Msg("没有这个页面", "no such page")}
T = TypeVar("T")


def refusal_of(status_code: int, exc: BaseException | None) -> Refusal:
    """The refusal an error stands for: the platform's own, a user error (400), tornado's
    HTTPError by its status, anything else a server error (whose message names nothing)."""
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, UserError):
        return refusals.BadRequest(exc.msg)
    if isinstance(exc, web.HTTPError) or exc is None:
        if status_code in refusals.BY_STATUS:
            return refusals.for_status(status_code, ON_PAGE.get(status_code))
        if status_code < 500:  # a status the platform names no refusal for (e.g. 411)
            refusal = refusals.BadRequest(Msg("请求无法完成", "the request cannot be completed"))
            refusal.status = status_code
            return refusal
    return refusals.ServerError(INTERNAL)


class ConsoleHandler(NoFramingMixin, HubOAuthenticated, web.RequestHandler):
    """Base handler of a console. Each console's base sets ``hub_scopes`` (who may open it at
    all; left unset, the hub's default: access to the service); :meth:`require` checks a scope
    for one action; :meth:`page_values` go to every page of the console."""

    @property
    def db(self) -> Database:
        return self.settings["db"]

    @property
    def lang(self) -> str:
        return language(self)

    @property
    def text(self) -> dict[str, str]:
        return words(self.lang)

    @property
    def username(self) -> str:
        return self.current_user["name"]

    def has_scope(self, scope: str) -> bool:
        return scope in (self.current_user or {}).get("scopes", [])

    def require(self, scope: str) -> None:
        """Refuse (403) a signed-in user without ``scope``."""
        if not self.has_scope(scope):
            raise refusals.AccessDenied(Msg("无权执行此操作", "you may not do this"))

    def said(self, msg: Msg | str) -> str:
        """A bilingual message in the reader's language."""
        if not isinstance(msg, Msg):
            return str(msg)
        return msg.zh if self.lang == "zh" else msg.en

    def page_values(self) -> dict[str, Any]:
        """Values every page of this console gets (hook)."""
        return {}

    def render_page(self, template: str, http_status: int = 200, **values: Any) -> None:
        self.set_status(http_status)
        values.setdefault("error", "")
        values.setdefault("notice", "")
        self.render(template, t=self.text, lang=self.lang, reviewer=self.username,
                    prefix=self.settings["prefix"], **self.page_values(), **values)  # fmt: skip

    async def in_session(self, work: Callable[[Any], T]) -> T:
        """``work(session)`` in one transaction, off the event loop."""

        def run() -> T:
            with self.db.session() as s:
                return work(s)

        return await asyncio.to_thread(run)

    # ---- answers that are not a success -------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        refusal = refusal_of(status_code, exc)
        self.clear_header("Content-Disposition")
        self.set_status(refusal.status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        lang = self.lang
        self.render(ERROR_TEMPLATE, t=words(lang), lang=lang, status=refusal.status,
                    code=refusal.code, msg=refusal.msg, prefix=self.settings.get("prefix", ""))  # fmt: skip

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (Refusal, UserError)) and getattr(value, "status", 400) < 500:
            log.info("refused %s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


def console_settings(db: Database, hub_auth: HubOAuth, prefix: str, **extra: Any) -> dict:
    """The tornado settings every console shares: its templates, XSRF, the hub's login."""
    return dict(
        hub_auth=hub_auth, db=db, prefix=prefix, cookie_secret=os.urandom(32), xsrf_cookies=True,
        template_path=str(TEMPLATES), login_url=hub_auth.login_url, **extra,
    )  # fmt: skip
