"""Configuration and hooks shared by Shuyu's JupyterHub authenticators."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from tornado import web
from traitlets import Integer, Unicode, default
from traitlets.config import Configurable

from hub import home
from hub.audit_anchor import Anchor
from hub.auth.gate import Denied, Gate
from hub.db.engine import Database


def http_error(denied: Denied) -> web.HTTPError:
    """A 403 whose message (shown on the login form or spawn page) is the bilingual reason."""
    err = web.HTTPError(403, "%s", str(denied.msg))
    err.jupyterhub_message = str(denied.msg)
    return err


class PlatformLogin(Configurable):
    """Mixin for authenticators backed by the platform DB: admission at login, refresh and spawn."""

    db_url = Unicode(
        config=True,
        help="SQLAlchemy URL of the platform DB. Default: $SHUYU_DB_URL, else SQLite under $SHUYU_HOME.",
    )

    @default("db_url")
    def _default_db_url(self) -> str:
        return home.default_db_url()

    state_dir = Unicode(
        config=True,
        help="The platform's state folder ($SHUYU_HOME), where the audit chain's head is signed.",
    )

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return str(home.shuyu_home())

    @default("allow_all")
    def _default_allow_all(self):
        # Admission decides who gets in; there is no separate allow list.
        return True

    @default("manage_groups")
    def _default_manage_groups(self):
        # Groups (per role, per tenant) come from the platform DB at every login and refresh.
        return True

    lockout_failures = Integer(
        5, config=True, help="Failed logins within the window that lock an account."
    )
    lockout_minutes = Integer(15, config=True, help="Length of the lockout window, in minutes.")

    @cached_property
    def gate(self) -> Gate:
        return Gate(
            Database(self.db_url, anchor=Anchor.for_home(Path(self.state_dir))),
            max_failures=self.lockout_failures,
            window=timedelta(minutes=self.lockout_minutes),
        )

    async def refresh_user(self, user, handler=None):
        """Re-run admission: a suspended tenant or expired training ends the session."""
        model = await asyncio.to_thread(self.gate.refresh, user.name)
        return model if model is not None else False

    async def pre_spawn_start(self, user, spawner):
        """Admission again before every spawn; the refusal's reason is shown on the spawn page."""
        try:
            await asyncio.to_thread(self.gate.spawn, user.name, spawner.name or "default")
        except Denied as e:
            raise http_error(e) from None

    async def post_spawn_stop(self, user, spawner):
        await asyncio.to_thread(
            self.gate.stopped, user.name, spawner.name or "default",
            float(spawner.cpu_limit or 0), int(spawner.mem_limit or 0),
        )  # fmt: skip
