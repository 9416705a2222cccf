"""Record every notebook execution and file save in the hub's audit trail before it takes effect.

The kernel websocket connection is replaced by one that, for each ``execute_request``, posts the
cell to the data gateway (a hub-side service) and forwards the message to the kernel only once the
gateway has committed the record. Messages keep their order. If the record cannot be made, the
cell does not run. Files saved through the contents API (a script later run with
``exec(open(...).read())``) are recorded the same way before they are written, or not written.

Only this server process can make records: it signs each with its server's key
(``hub.execution_keys``), which it takes out of its environment before any kernel starts
(:func:`take_key`), and the server is not dumpable, so kernels of the same uid cannot read the key
from its memory. Kernel code cannot reach or change what was recorded: it lives in the domain.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request
from typing import Any

from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

V1 = "v1.kernel.websocket.jupyter.org"
KEY_ENV = "SHUYU_EXEC_KEY"  # hub.execution_keys.ENV (the hub's code is not in the workspace)
SIGNATURE_HEADER = "X-Shuyu-Exec-Signature"
PR_SET_DUMPABLE = 4
_key: bytes = b""


def take_key() -> None:
    """Move the server's key from the environment into this process's memory and make the
    process non-dumpable: kernels started later inherit neither, and cannot read it from
    ``/proc/<server>/environ`` or ``/proc/<server>/mem``. Call once, before any kernel starts."""
    global _key
    value = os.environ.pop(KEY_ENV, "")
    if value:
        _key = bytes.fromhex(value)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def signed_request(path: str, body: dict) -> tuple[str, bytes, dict[str, str]]:
    """URL, body and headers of a record posted to the gateway, signed with the server's key."""
    gateway = os.environ.get("SHUYU_GATEWAY_URL", "").rstrip("/")
    raw = json.dumps(body).encode()
    headers = {
        "Authorization": f"token {os.environ.get('JUPYTERHUB_API_TOKEN', '')}",
        "Content-Type": "application/json",
        SIGNATURE_HEADER: hmac.new(_key, raw, hashlib.sha256).hexdigest(),
    }
    return f"{gateway}/services/gateway/api/{path}", raw, headers


def execute_request(subprotocol: str | None, raw: Any) -> dict | None:
    """The header and content of an ``execute_request`` message, or ``None`` for anything else."""
    try:
        if subprotocol == V1:
            _channel, parts = deserialize_msg_from_ws_v1(raw)
            header, content = json.loads(parts[0]), json.loads(parts[3])
        else:
            msg = json.loads(raw) if isinstance(raw, str | bytes) else raw
            header, content = msg.get("header") or {}, msg.get("content") or {}
    except (ValueError, IndexError, TypeError, AttributeError):
        return None
    if header.get("msg_type") != "execute_request":
        return None
    return {"header": header, "content": content}


class AuditedWebsocketConnection(ZMQChannelsWebsocketConnection):
    """A kernel connection that audits each execution before the kernel sees it."""

    _tail: asyncio.Future | None = None

    def handle_incoming_message(self, incoming_msg: Any) -> None:
        request = execute_request(self.subprotocol, incoming_msg)
        if request is None and (self._tail is None or self._tail.done()):
            super().handle_incoming_message(incoming_msg)
            return
        self._tail = asyncio.ensure_future(self._forward_after(self._tail, incoming_msg, request))

    async def _forward_after(
        self, previous: asyncio.Future | None, message: Any, request: dict | None
    ) -> None:
        if previous is not None:
            await asyncio.shield(previous)
        if request is not None and not await self._record(request):
            self.log.error("Execution not recorded; the cell is refused")
            self.websocket_handler.close(1011, "execution audit unavailable / 执行审计不可用")
            return
        super().handle_incoming_message(message)

    async def _record(self, request: dict) -> bool:
        body = {
            "kind": "cell",
            "code": request["content"].get("code", ""),
            "msg_id": request["header"].get("msg_id", ""),
            "session": request["header"].get("session", ""),
            "kernel_id": self.kernel_id,
            "server": os.environ.get("JUPYTERHUB_SERVER_NAME", ""),
        }
        url, raw, headers = signed_request("executions", body)
        try:
            response = await AsyncHTTPClient().fetch(
                HTTPRequest(url, method="POST", body=raw, headers=headers, request_timeout=10),
                raise_error=False,
            )
        except Exception as e:  # the gateway is unreachable
            self.log.error("Execution audit failed: %s", e)
            return False
        return response.code == 201


def record_save(model: dict, path: str, contents_manager: Any = None, **kwargs: Any) -> None:
    """Pre-save hook: record the file's new content before it is written; refuse the save if the
    record cannot be made."""
    from tornado.web import HTTPError

    content = model.get("content")
    if content is None:  # a rename or a new folder: no content to record
        return
    body = {
        "kind": "file_save",
        "path": path,
        "type": model.get("type", ""),
        "format": model.get("format", ""),
        "content": content if isinstance(content, str) else json.dumps(content, sort_keys=True),
        "server": os.environ.get("JUPYTERHUB_SERVER_NAME", ""),
    }
    url, raw, headers = signed_request("executions", body)
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=raw, headers=headers, method="POST"), timeout=10
        ) as response:
            if response.status == 201:
                return
    except (OSError, urllib.error.URLError) as e:
        if contents_manager is not None:
            contents_manager.log.error("File save audit failed: %s", e)
    raise HTTPError(
        503, "保存未能记入审计，未保存 / the save could not be audited and was not made"
    )
