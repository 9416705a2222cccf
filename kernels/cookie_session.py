"""A workspace is driven only by the browser session the hub's OAuth gave it, never by a token.

Any JupyterHub API token — made on the hub's token page, the kernel's own
``$JUPYTERHUB_API_TOKEN``, an admin's, another tenant's — would otherwise drive the staff member's
kernels and files through the public proxy (``Authorization: token …`` or ``?token=``), from any
laptop: a scripted download of the samples around the workspace's no-download rule. So the
single-user server accepts only its ``jupyterhub-user-<name>`` cookie (set after the hub's OAuth,
which only a sign-in with password and one-time code starts), with the XSRF check on changes and
the same-origin check on websockets that jupyter-server applies to cookie sessions. A request that
carries a token in its ``Authorization`` header or its URL (query or form) is refused with a JSON
403, before the token is looked at.

The hooks are JupyterHub's own: :class:`CookieSessionIdentityProvider` replaces the singleuser
extension's identity provider (see :func:`kernels.server_extension._link_jupyter_server_extension`)
and authenticates with :class:`CookieSessionHubOAuth`, whose ``get_token`` reads the cookie only.
JupyterLab's page gets no token either (``PageConfig.token`` is empty), so it calls the API as a
browser tab with cookies and the XSRF header, and opens websockets with cookies and its origin.
"""

from __future__ import annotations

import json

from jupyterhub.services.auth import HubOAuth
from jupyterhub.singleuser.extension import JupyterHubIdentityProvider
from tornado import web
from tornado.httputil import HTTPServerRequest
from traitlets import default

MESSAGE_ZH = "工作空间只接受经平台登录的浏览器会话，不接受 API 令牌"
MESSAGE_EN = "the workspace accepts only the browser session signed in through the platform, not API tokens"  # fmt: skip
CODE = "token_refused"


def presented_token(request: HTTPServerRequest) -> bool:
    """Whether a request carries a credential other than the session cookie: any
    ``Authorization`` header, or a ``token`` argument in its query or form body (JupyterHub reads
    tokens from all three)."""
    if request.headers.get("Authorization", "").strip():
        return True
    return "token" in request.query_arguments or "token" in request.body_arguments


def refusal() -> dict:
    """The JSON body of the refusal, shaped as the platform's other refusals (and with
    jupyter-server's ``message``, which JupyterLab shows)."""
    both = f"{MESSAGE_ZH} / {MESSAGE_EN}"
    return {
        "message": both,
        "error": both,
        "code": CODE,
        "status": 403,
        "message_zh": MESSAGE_ZH,
        "message_en": MESSAGE_EN,
    }


def refuse(handler: web.RequestHandler) -> None:
    """Answer 403 with :func:`refusal` and end the request (also before a websocket upgrade)."""
    handler.clear()
    handler.set_status(403)
    handler.set_header("Content-Type", "application/json; charset=UTF-8")
    handler.finish(json.dumps(refusal(), ensure_ascii=False))
    raise web.Finish()


class CookieSessionHubOAuth(HubOAuth):
    """HubOAuth that knows one credential: the token its OAuth callback stored in the cookie."""

    def get_token(self, handler: web.RequestHandler, in_cookie: bool = True) -> str | None:
        return self._get_token_cookie(handler) if in_cookie else None


class CookieSessionIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's identity provider for the single-user server, cookie session only."""

    @default("hub_auth")
    def _default_hub_auth(self) -> HubOAuth:
        return CookieSessionHubOAuth(parent=self)

    async def get_user(self, handler: web.RequestHandler):
        if presented_token(handler.request):
            self.log.warning(
                "Refused a token on %s %s from %s",
                handler.request.method,
                handler.request.path,
                handler.request.remote_ip,
            )
            refuse(handler)
        return await super().get_user(handler)

    def page_config_hook(self, handler: web.RequestHandler, page_config: dict) -> dict:
        page_config = super().page_config_hook(handler, page_config)
        page_config["token"] = ""  # JupyterLab then uses the cookie and the XSRF header
        return page_config
