"""jupyter-server extension of a Shuyu workspace: accepts only the browser's session cookie, no
API token (:mod:`kernels.cookie_session`), refuses nbconvert downloads and guards the contents API
(:mod:`kernels.downloads`) ahead of the defaults, and makes the server the only process that can
record executions and file saves (:mod:`kernels.exec_audit`)."""

from __future__ import annotations

from jupyter_server.base.handlers import path_regex
from tornado.web import url
from traitlets.config import Config

from kernels import exec_audit, forked_kernels
from kernels.cookie_session import CookieSessionIdentityProvider
from kernels.downloads import DownloadsDisabledHandler, GuardedContentsHandler


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "kernels.server_extension"}]


def _link_jupyter_server_extension(serverapp) -> None:
    """Put the cookie-session identity provider in place of JupyterHub's.

    The singleuser extension sets ``ServerApp.identity_provider_class`` when it links (over any
    config file); extensions link in sorted order, so ``jupyterhub`` is linked before ``kernels``
    and this choice is the last one, made before the server creates its identity provider. It
    goes into the config (not only the trait): later config updates reload every trait from it."""
    serverapp.update_config(
        Config({"ServerApp": {"identity_provider_class": CookieSessionIdentityProvider}})
    )


def _load_jupyter_server_extension(serverapp) -> None:
    if not isinstance(serverapp.identity_provider, CookieSessionIdentityProvider):
        # Never serve a workspace that a token could drive (the config makes this fatal).
        raise RuntimeError(f"identity provider is {type(serverapp.identity_provider).__name__}")
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
    serverapp.log.info(
        "Shuyu workspace: browser session only (no API tokens); downloads, uploads and nbconvert"
        " exports are disabled"
    )
