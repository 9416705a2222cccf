"""The control channel: one JSON object per line between the platform node and a party node.

The platform asks, the party answers:

- ``{"op": "hello"}`` → ``{"ok": true, "party": id, "tables": {name: {"columns": {col: dtype}}}}``
  (schema only, never a value);
- ``{"op": "propose", "spec": …}`` → ``{"ok": true, "status": "pending"|"approved"|"rejected",
  "signature": str|null}`` (the spec is stored for the party's operator);
- ``{"op": "run", "spec": …, "link_id": …}`` → ``{"ok": true, "status": "started"}`` once the
  party has checked the spec's digest against its approvals and its table and columns, then
  ``{"event": "done", "ok": bool, "error": …}`` when its side ends. The party's own result (the
  intersecting ids for ``ids-to-party``) stays on the party's machine.

A refusal is ``{"ok": false, "code": n, "error": "中文 / English"}`` with the exit code of the
command line (2 bad input, 3 not approved, 4 rejected, 1 other).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from privacy.approvals import Approvals, Status
from privacy.relay import LINK_ID, Relay, RelayError
from privacy.spec import Computation, SpecError
from privacy.tables import TableError, check, schema, tables

log = logging.getLogger("shuyu.privacy.control")

REQUEST_SECONDS = 30.0

# (spec, table path, link id, cancelled) → the party side's own result
Starter = Callable[[Computation, Path, str, asyncio.Event], Awaitable[dict]]


class Refused(Exception):
    """A request the party node refused, with the command line's exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


async def send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
    await writer.drain()


async def receive(reader: asyncio.StreamReader, timeout: float | None) -> dict[str, Any]:
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (OSError, ValueError) as e:  # ssl.SSLError is an OSError: a TLS alert from the peer
        raise RelayError(
            f"对端节点中断了连接 / the peer node broke the connection: {type(e).__name__}"
        ) from e
    if not line:
        raise RelayError(
            "对端节点关闭了连接（可能不接受本节点的证书）/ the peer node closed the connection "
            "(it may not accept this node's certificate)"
        )
    try:
        message = json.loads(line)
    except ValueError as e:
        raise RelayError("对端的回复不是 JSON / the peer's answer is not JSON") from e
    if not isinstance(message, dict):
        raise RelayError("对端的回复格式不符 / the peer's answer is malformed")
    return message


def _answer(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("ok") is False:
        raise Refused(int(message.get("code", 1)), str(message.get("error", "")))
    return message


async def call(relay: Relay, message: dict[str, Any]) -> dict[str, Any]:
    """One request on a fresh control channel; Refused if the party said no."""
    reader, writer = await relay.connect({"channel": "control"})
    try:
        await send(writer, message)
        return _answer(await receive(reader, REQUEST_SECONDS))
    finally:
        writer.close()


class PartyControl:
    """The party node's side of the control channel."""

    def __init__(self, party_id: str, data: Path, approvals: Approvals, start: Starter) -> None:
        self.party_id = party_id
        self.data = Path(data)
        self.approvals = approvals
        self.start = start

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, who: str
    ) -> None:
        try:
            request = await receive(reader, REQUEST_SECONDS)
        except (TimeoutError, RelayError, ValueError, OSError):
            return
        op = request.get("op")
        log.info("control %s from %s", op, who)
        try:
            if op == "hello":
                await send(writer, {"ok": True, **self.hello()})
            elif op == "propose":
                decided = self.approvals.propose(self._spec(request))
                await send(
                    writer,
                    {"ok": True, "status": decided.status.value, "signature": decided.signature},
                )
            elif op == "run":
                await self._run(request, reader, writer)
            else:
                raise Refused(2, f"未知的请求 / unknown request: {op!r}")
        except Refused as e:
            log.warning("refused %s from %s: %s", op, who, e)
            await send(writer, {"ok": False, "code": e.code, "error": str(e)})

    def hello(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, path in tables(self.data).items():
            try:
                out[name] = {"columns": schema(path)}
            except TableError as e:
                log.warning("table %s unreadable: %s", name, e)
        return {"party": self.party_id, "tables": out}

    def _spec(self, request: dict[str, Any]) -> Computation:
        try:
            spec = Computation.from_dict(request.get("spec"))
        except SpecError as e:
            raise Refused(2, str(e)) from e
        if spec.party != self.party_id:
            raise Refused(
                2, f"计算不属于本参与方 / the computation is for party {spec.party!r}, not this one"
            )
        return spec

    async def _run(self, request, reader, writer) -> None:
        spec = self._spec(request)
        link_id = str(request.get("link_id", ""))
        if not LINK_ID.match(link_id):
            raise Refused(2, "link id 不合法 / bad link id")
        decided = self.approvals.propose(spec)
        if decided.status is Status.REJECTED:
            raise Refused(4, f"参与方已拒绝请求 {spec.request_id} / the party rejected it")
        if decided.status is not Status.APPROVED:
            raise Refused(
                3, f"参与方尚未批准请求 {spec.request_id} / the party has not approved it"
            )
        path = tables(self.data).get(spec.party_table)
        if path is None:
            raise Refused(2, f"参与方没有数据表 / the party has no table {spec.party_table!r}")
        try:
            check(path, spec.party_key, spec.party_columns)
        except TableError as e:
            raise Refused(2, str(e)) from e
        await send(writer, {"ok": True, "status": "started"})
        cancelled = asyncio.Event()

        async def watch() -> None:  # the platform hung up: stop our side
            await reader.read()
            cancelled.set()

        watcher = asyncio.create_task(watch())
        try:
            await self.start(spec, path, link_id, cancelled)
            end = {"event": "done", "ok": True}
        except Refused as e:
            log.warning("run %s failed: %s", spec.request_id, e)
            end = {"event": "done", "ok": False, "code": e.code, "error": str(e)}
        except Exception:
            log.exception("run %s failed", spec.request_id)
            end = {
                "event": "done",
                "ok": False,
                "code": 1,
                "error": "参与方节点内部错误 / internal error on the party node",
            }
        finally:
            watcher.cancel()
        with contextlib.suppress(OSError):  # the platform may be gone already
            await send(writer, end)
