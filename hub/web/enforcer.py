"""The enforcer: what admission refuses stops at once, not at the next login.

Started by JupyterHub as a managed service holding only the scopes to list users and stop their
servers. Every ``SHUYU_ENFORCE_SECONDS`` it reads from the platform DB who is not admitted today
(a suspended, revoked, terminated or expired tenant; a disabled staff member; lapsed training).
The DB read is the event source: the hub's REST API is called only when someone newly joins
that set (the admin action that suspends, a midnight expiry) and in a slow sweep every
``SHUYU_ENFORCE_SWEEP_SECONDS``, so the hub's log is not a stream of polls. Each stop is
audited as ``admission.enforced`` with the reason *before* the server is stopped, so the trail
holds the decision even when the stop is slow or the enforcer dies halfway. Logins, spawns and
gateway calls are already refused by admission; open requests are frozen and products paused by
the lifecycle.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import date
from urllib.parse import quote

import requests

from hub import audit, home
from hub.audit_anchor import Anchor
from hub.db.engine import Database
from hub.ops.enforcement import refused_staff

log = logging.getLogger("shuyu.enforcer")


class HubAPI:
    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.session.trust_env = False

    def active_servers(self) -> dict[str, list[str]]:
        """``{username: [server names]}`` of every user with a running or starting server."""
        r = self.session.get(f"{self.url}/users", params={"state": "active"}, timeout=10)
        r.raise_for_status()
        return {u["name"]: list(u.get("servers") or {}) for u in r.json()}

    def stop(self, username: str, server: str) -> None:
        path = (
            f"/users/{quote(username)}/servers/{quote(server)}"
            if server
            else f"/users/{quote(username)}/server"
        )
        r = self.session.delete(self.url + path, timeout=30)
        if r.status_code not in (202, 204, 404):
            r.raise_for_status()


def enforce(
    db: Database, hub: HubAPI, today: date | None = None, only: set[str] | None = None
) -> list[tuple[str, str, str]]:
    """Stop the servers of everyone not admitted (or of ``only`` those of them); return
    ``(user, server, reason code)`` of each stop."""
    with db.session() as s:
        refused = refused_staff(s, today or date.today())
    if only is not None:
        refused = {u: c for u, c in refused.items() if u in only}
    if not refused:
        return []
    stopped = []
    for username, servers in hub.active_servers().items():
        code = refused.get(username)
        for server in servers if code else ():
            with db.session() as s:  # the decision first, then the act
                audit.append(s, "admission.enforced", actor="platform", object=f"server:{username}/{server or 'default'}",
                             reason=code, details={"user": username, "server": server})  # fmt: skip
            hub.stop(username, server)
            stopped.append((username, server, code))
    return stopped


class Enforcer:
    """One round per tick: the DB says who is refused; the hub is asked only on news or sweep."""

    def __init__(self, db: Database, hub: HubAPI, sweep_seconds: float = 300.0):
        self.db = db
        self.hub = hub
        self.sweep_seconds = sweep_seconds
        self.handled: set[str] = set()  # refused users whose servers were stopped
        self.last_sweep = float("-inf")

    def tick(self, today: date | None = None) -> list[tuple[str, str, str]]:
        with self.db.session() as s:
            refused = set(refused_staff(s, today or date.today()))
        self.handled &= refused  # someone admitted again is news when refused again
        fresh = refused - self.handled
        sweep = time.monotonic() - self.last_sweep >= self.sweep_seconds
        if not fresh and not sweep:
            return []
        stopped = enforce(self.db, self.hub, today, None if sweep else fresh)
        self.handled |= refused if sweep else fresh  # only after every stop succeeded
        if sweep:
            self.last_sweep = time.monotonic()
        return stopped


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)s %(asctime)s enforcer] %(message)s"
    )
    db = Database(home.default_db_url(), anchor=Anchor.for_home(home.shuyu_home()))
    hub = HubAPI(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    every = float(os.environ.get("SHUYU_ENFORCE_SECONDS", "1"))
    enforcer = Enforcer(db, hub, float(os.environ.get("SHUYU_ENFORCE_SWEEP_SECONDS", "300")))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info(
        "stopping the servers of anyone not admitted: DB read every %s s, hub swept every %s s",
        every,
        enforcer.sweep_seconds,
    )
    while not stop.is_set():
        try:
            for username, server, code in enforcer.tick():
                log.info("stopped %s's server %r: %s", username, server, code)
        except Exception:  # noqa: BLE001 - the hub may be restarting: try again next round
            log.exception("enforcement round failed")
        stop.wait(every)


if __name__ == "__main__":
    main()
