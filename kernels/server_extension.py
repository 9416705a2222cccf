"""jupyter-server extension of a Shuyu workspace: refuses nbconvert downloads and guards the
contents API (:mod:`kernels.downloads`) ahead of the defaults, and makes the server the only
process that can record executions and file saves (:mod:`kernels.exec_audit`)."""

from __future__ import annotations

from jupyter_server.base.handlers import path_regex
from tornado.web import url

from kernels import exec_audit, forked_kernels
from kernels.downloads import DownloadsDisabledHandler, GuardedContentsHandler


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "kernels.server_extension"}]


def _load_jupyter_server_extension(serverapp) -> None:
    exec_audit.take_key()  # before any kernel starts: kernels never see the key
    if not forked_kernels.available():  # not forked from the workspace zygote (Docker, Kubernetes)
        forked_kernels.spawn_zygote()  # after take_key: its kernels never held the key
    serverapp.contents_manager.register_pre_save_hook(exec_audit.record_save)
    web_app = serverapp.web_app
    base = web_app.settings["base_url"].rstrip("/")
    refused = [
        url(rf"{base}/nbconvert/.*", DownloadsDisabledHandler),
        url(rf"{base}/api/contents{path_regex}", GuardedContentsHandler),
    ]
    rules = web_app.default_router.rules
    before = list(rules)
    web_app.add_handlers(".*$", refused)
    # Host rules match in order and add_handlers puts new ones just before the catch-all; move
    # ours to the very front so the stock nbconvert and contents handlers are never reached.
    for rule in [r for r in rules if r not in before]:
        rules.remove(rule)
        rules.insert(0, rule)
    serverapp.log.info("Shuyu workspace: downloads, uploads and nbconvert exports are disabled")
