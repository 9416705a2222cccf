"""Record every notebook execution in the hub's audit trail before the kernel runs it.

The kernel websocket connection is replaced by one that, for each ``execute_request``, posts the
cell to the data gateway (a hub-side service) and forwards the message to the kernel only once the
gateway has committed the record. Messages keep their order. If the record cannot be made, the
cell does not run. Kernel code cannot reach or change what was recorded: it lives in the domain.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

V1 = "v1.kernel.websocket.jupyter.org"


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
        gateway = os.environ.get("SHUYU_GATEWAY_URL", "").rstrip("/")
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        body = {
            "code": request["content"].get("code", ""),
            "msg_id": request["header"].get("msg_id", ""),
            "session": request["header"].get("session", ""),
            "kernel_id": self.kernel_id,
            "server": os.environ.get("JUPYTERHUB_SERVER_NAME", ""),
        }
        try:
            response = await AsyncHTTPClient().fetch(
                HTTPRequest(
                    f"{gateway}/services/gateway/api/executions",
                    method="POST",
                    body=json.dumps(body),
                    headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
                    request_timeout=10,
                ),
                raise_error=False,
            )
        except Exception as e:  # the gateway is unreachable
            self.log.error("Execution audit failed: %s", e)
            return False
        return response.code == 201
