"""Run code in a real kernel of a real workspace, through the proxy, as a notebook in the browser
would."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


@dataclass
class Result:
    status: str = ""
    stdout: str = ""
    stderr: str = ""
    ename: str = ""
    evalue: str = ""
    data: list[str] = field(default_factory=list)
    # Each execute_result / display_data bundle whole: mime type → content (e.g. image/png).
    bundles: list[dict] = field(default_factory=list)

    @property
    def out(self) -> str:
        return self.stdout + "".join(self.data)


def user_token(browser, hub_url: str, username: str) -> str:
    """A fresh API token of the logged-in user, as JupyterHub's token page makes one (for the
    hub API and the gateway on loopback; the workspace server refuses every token)."""
    xsrf = browser.s.cookies.get("_xsrf", path="/hub/")
    r = browser.s.post(
        f"{hub_url}/hub/api/users/{username}/tokens",
        json={"note": "attack suite", "expires_in": 3600},
        headers={"X-XSRFToken": xsrf or ""},
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["token"]


class Kernel:
    """One kernel of ``username``'s server, driven through the proxy as a JupyterLab tab drives
    it: the browser's session cookie, the server's XSRF token on API calls, and the page's origin
    on the websocket. (The workspace refuses API tokens: :mod:`kernels.cookie_session`.)"""

    def __init__(self, browser, username: str):
        self.browser = browser
        self.base = f"{browser.hub_url}/user/{username}/"
        self.headers = browser.lab_headers(username)  # opens the lab, through OAuth if needed
        # No kernel name: the server starts its default (in a Shuyu workspace, the only one).
        r = self.api("POST", "api/kernels", json={}, timeout=60)
        r.raise_for_status()
        self.kernel_id = r.json()["id"]
        self.spec = r.json()["name"]

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A call to the server's API (``path`` below the server's base), as the tab makes it."""
        kwargs.setdefault("timeout", 30)
        return self.browser.s.request(method, self.base + path, headers=self.headers, **kwargs)

    def ws_headers(self) -> dict[str, str]:
        """What a browser sends when the tab opens the kernel's websocket: the cookies of the
        server's path, the page's origin and the fetch mode."""
        prepared = self.browser.s.prepare_request(requests.Request("GET", self.base + "api/"))
        return {
            "Cookie": prepared.headers.get("Cookie", ""),
            "Origin": self.browser.hub_url,
            "Sec-Fetch-Mode": "websocket",
        }

    def execute(self, code: str, timeout: float = 60) -> Result:
        return asyncio.run(self._execute(code, timeout))

    async def _execute(self, code: str, timeout: float) -> Result:
        ws_url = self.base.replace("http://", "ws://") + f"api/kernels/{self.kernel_id}/channels"
        conn = await websocket_connect(HTTPRequest(ws_url, headers=self.ws_headers()))
        msg_id = uuid.uuid4().hex
        conn.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": uuid.uuid4().hex,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        result = Result()
        idle = replied = False
        try:
            while not (idle and replied):
                raw = await asyncio.wait_for(conn.read_message(), timeout)
                if raw is None:
                    result.status = "closed"
                    break
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["header"]["msg_type"], msg["content"]
                if kind == "stream":
                    if content["name"] == "stdout":
                        result.stdout += content["text"]
                    else:
                        result.stderr += content["text"]
                elif kind in ("execute_result", "display_data"):
                    result.data.append(content["data"].get("text/plain", ""))
                    result.bundles.append(content["data"])
                elif kind == "error":
                    result.ename, result.evalue = content["ename"], content["evalue"]
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_reply":
                    replied, result.status = True, content["status"]
        finally:
            conn.close()
        return result

    def shutdown(self) -> None:
        self.api("DELETE", f"api/kernels/{self.kernel_id}")
