"""jupyter-server extension of a Shuyu workspace: refuses nbconvert downloads ahead of the defaults."""

from __future__ import annotations

from tornado.routing import HostMatches, Rule, RuleRouter
from tornado.web import url

from kernels.downloads import DownloadsDisabledHandler


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "kernels.server_extension"}]


def _load_jupyter_server_extension(serverapp) -> None:
    web_app = serverapp.web_app
    base = web_app.settings["base_url"].rstrip("/")
    refused = [url(rf"{base}/nbconvert/.*", DownloadsDisabledHandler)]
    # Rules match in order; put ours first so the stock nbconvert handler is never reached.
    web_app.default_router.rules.insert(0, Rule(HostMatches(".*$"), RuleRouter(refused)))
    serverapp.log.info("Shuyu workspace: downloads, uploads and nbconvert exports are disabled")
