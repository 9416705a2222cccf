"""Start and stop the real JupyterHub (with the real configurable-http-proxy) for end-to-end tests."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.ports import free_port

CHECKOUT = Path(__file__).resolve().parents[2]


class HubProcess:
    """``jupyterhub -f jupyterhub_config.py`` on loopback with its own home, DB and ports."""

    def __init__(self, home: Path, db_url: str):
        self.home = home
        self.db_url = db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "logs" / "hub.log"
        self.env = {
            **os.environ,
            "SHUYU_HOME": str(home),
            "SHUYU_DB_URL": db_url,
            "SHUYU_PORT": str(self.port),
            "SHUYU_HUB_PORT": str(free_port()),
            "SHUYU_PROXY_API_PORT": str(free_port()),
            "SHUYU_GATEWAY_PORT": str(free_port()),
            "SHUYU_REVIEW_PORT": str(free_port()),
            "SHUYU_ADMIN_PORT": str(free_port()),
            "SHUYU_CONSUMER_PORT": str(free_port()),
            "SHUYU_HOME_QUOTA_MB": "32",  # homes and shared folders: small images in tests
            "SHUYU_SHARED_QUOTA_MB": "32",
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> None:  # a loaded machine: services import for ~20 s
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        jupyterhub = str(Path(sys.executable).with_name("jupyterhub"))
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [jupyterhub, "-f", str(CHECKOUT / "jupyterhub_config.py")],
                cwd=self.home,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return
            # Not up yet, or slow to answer on a busy machine: keep waiting.
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"hub not up after {timeout}s:\n{self.tail()}")

    def stop(self) -> None:
        """Stop the hub and everything it started, also when it died on its own (a failed
        start leaves its proxy and services running without it)."""
        if self.proc is None:
            return
        started = []
        if self.proc.poll() is None:
            started = descendants(self.proc.pid)  # services run in sessions of their own
            self.proc.send_signal(signal.SIGTERM)  # the hub stops its servers, services, proxy
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything left in its process group
        for pid in [*started, *self._recorded_pids()]:  # and anything that outlived it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.env.get("SHUYU_SPAWNER", "tenant-sandbox") != "simple":
            from spawner.netns import remove_host_guard

            remove_host_guard()  # the hub's firewall table: tests leave no rule behind
            from spawner import volumes

            for point in volumes.mounted_under(self.home):  # nor a mount or loop device
                volumes.unmount(point)
        self.proc.wait(timeout=10)

    def _recorded_pids(self) -> list[int]:
        """The proxy's pid as the hub recorded it, if that process still runs the proxy."""
        try:
            pid = int((self.home / "proxy.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return []
        return [pid] if b"configurable-http-proxy" in cmdline else []

    def tail(self, n: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""


class Browser:
    """A cookie-keeping HTTP client that logs in through the real login form."""

    def __init__(self, hub_url: str):
        self.hub_url = hub_url
        self.s = requests.Session()

    def login(self, username: str, password: str, otp: str | None) -> requests.Response:
        page = self.s.get(f"{self.hub_url}/hub/login", timeout=10)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        form = {"_xsrf": xsrf.group(1) if xsrf else "", "username": username, "password": password}
        if otp is not None:
            form["otp"] = otp
        # No redirects: a successful login answers 302, a refused one 403 with the form and reason.
        return self.s.post(
            f"{self.hub_url}/hub/login", data=form, timeout=30, allow_redirects=False
        )

    def start_server(self, username: str, timeout: float = 90) -> requests.Response:
        """Ask for the default server, then wait until its API answers through the proxy."""
        page = self.s.get(f"{self.hub_url}/hub/spawn/{username}", timeout=30)
        if "/spawn-pending/" in page.url:
            self.follow_progress(username, timeout)
        deadline = time.monotonic() + timeout
        last = None
        delay = 0.1
        while time.monotonic() < deadline:
            last = self.s.get(f"{self.hub_url}/user/{username}/lab", timeout=10)
            if last.status_code == 200 and "jupyter-config-data" in last.text:
                # Cookie-authenticated API calls need the server's XSRF token, as a browser sends it.
                xsrf = self.s.cookies.get("_xsrf", path=f"/user/{username}/")
                return self.s.get(
                    f"{self.hub_url}/user/{username}/api/status",
                    headers={"X-XSRFToken": xsrf or ""},
                    timeout=10,
                )
            if last.status_code >= 500:  # the spawn failed: no use waiting
                raise RuntimeError(f"server of {username} failed: {page_text(last)[:300]}")
            time.sleep(delay)
            delay = min(1.0, delay * 1.5)  # as a browser's progress page would, not a busy loop
        raise TimeoutError(f"server of {username} not ready: {last.status_code if last else None}")

    def lab_headers(self, username: str) -> dict[str, str]:
        """Open JupyterLab as a browser tab does and return the headers its API calls carry.

        A restarted server has a new OAuth client, so the cookie of the old one no longer
        signs in: opening the lab goes through the hub's OAuth again, as a browser reloading
        the tab would, and sets the server's XSRF cookie."""
        opened = self.s.get(f"{self.hub_url}/user/{username}/lab", timeout=30)
        if opened.status_code != 200:
            raise RuntimeError(f"lab of {username}: {opened.status_code}")
        return {"X-XSRFToken": self.s.cookies.get("_xsrf", path=f"/user/{username}/") or ""}

    def server_status(self, username: str) -> int | None:
        """The status of ``username``'s server API through the proxy, as the lab tab sees it
        after a reload (through the hub's OAuth again if the server restarted); None when no
        answer came. A stopped server answers from the hub, never 200."""
        try:
            self.s.get(f"{self.hub_url}/user/{username}/lab", timeout=10)
            xsrf = self.s.cookies.get("_xsrf", path=f"/user/{username}/") or ""
            return self.s.get(f"{self.hub_url}/user/{username}/api/status", timeout=10,
                              headers={"X-XSRFToken": xsrf}, allow_redirects=False).status_code  # fmt: skip
        except requests.RequestException:
            return None

    def follow_progress(self, username: str, timeout: float) -> None:
        """Wait as the spawn-pending page does: on the hub's progress event stream, until the
        server is ready or failed (not by polling the hub)."""
        with (
            contextlib.suppress(requests.RequestException),
            self.s.get(
                f"{self.hub_url}/hub/api/users/{username}/server/progress",
                headers={"Accept": "text/event-stream"},
                stream=True,
                timeout=timeout,
            ) as events,
        ):
            for line in events.iter_lines():
                if line.startswith(b"data:"):
                    event = json.loads(line[5:])
                    if event.get("ready") or event.get("failed"):
                        return


def page_text(response: requests.Response) -> str:
    """The visible text of an HTML response, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode("utf-8", "replace")))


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, …), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def crash(proc: HubProcess) -> None:
    """kill -9 the hub and every process it started (proxy, services in their own sessions),
    as a power cut would; nothing gets to clean up."""
    for pid in [*descendants(proc.proc.pid), proc.proc.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.proc.wait(timeout=10)
