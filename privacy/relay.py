"""A node's one public port: mutual TLS, a checked peer identity, then a control or link channel.

Every connection between two nodes goes through a :class:`Relay`. The listener does the TLS
handshake itself (so a refused certificate is logged with the peer's address, not dropped
silently by asyncio), then requires the peer's ``shuyu:`` identity to be exactly the one
expected — a certificate of the same authority issued to another party is refused — and reads a
one-line JSON header:

- ``{"channel": "control"}``: handed to the node's control handler (JSON requests);
- ``{"channel": "link", "link_id": ...}``: piped to the loopback brpc port of the running
  computation registered under that id (brpc never listens beyond 127.0.0.1).

Outgoing brpc connections go the other way through a *forwarder*: a loopback listener whose
every connection is tunnelled to the peer's public port over mutual TLS with a link header.
Anything else — a wrong certificate, a wrong identity, a link for no running computation, a
header that is not one of the two — is closed and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from privacy.pki import Credentials, identity_of

log = logging.getLogger("shuyu.privacy.relay")

HANDSHAKE_SECONDS = 10.0
CHUNK = 64 * 1024
LOCAL_WAIT_SECONDS = 30.0  # how long a link may wait for its worker's brpc server to listen
LINK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

ControlHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, str], Awaitable[None]]


class RelayError(Exception):
    """The peer could not be reached or did not prove the expected identity (bilingual)."""


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → ``(host, port)``; ValueError when malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"地址须为 HOST:PORT / address must be HOST:PORT: {address!r}")
    return host.strip("[]"), int(port)


def peer_identity(writer: asyncio.StreamWriter) -> str:
    """The ``shuyu:`` identity in the certificate the TLS peer presented, or ``""``."""
    sslobj = writer.get_extra_info("ssl_object")
    der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
    return identity_of(der) if der else ""


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
        await writer.wait_closed()


class Tap:
    """Writes the plaintext of tunnelled link streams to files (a diagnostic, off by default).

    Tests scan these files for raw values; the node reads ``SHUYU_PRIVACY_TAP`` once at start
    and passes the folder here.
    """

    def __init__(self, folder: Path | None, node: str) -> None:
        self.folder = folder
        self.node = re.sub(r"[^A-Za-z0-9_-]", "_", node)
        self._count = itertools.count(1)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def open(self, link_id: str, direction: str):
        if self.folder is None:
            return None
        name = f"{self.node}-{link_id.replace(':', '_')}-{next(self._count)}-{direction}.bin"
        return open(self.folder / name, "ab")  # noqa: SIM115 - closed by the pipe


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tap_file=None) -> int:
    """Copy one direction until EOF; half-close the other side; return the bytes copied."""
    total = 0
    try:
        while data := await reader.read(CHUNK):
            if tap_file is not None:
                tap_file.write(data)
                tap_file.flush()
            writer.write(data)
            await writer.drain()
            total += len(data)
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        if tap_file is not None:
            tap_file.close()
    return total


async def splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    tap: Tap,
    link_id: str,
) -> None:
    """Pipe two streams both ways; when either direction ends, close both.

    TLS streams cannot be half-closed, and brpc never half-closes a connection, so the end of
    one direction is the end of the connection; waiting for the other would leave it open.
    """
    pipes = [
        asyncio.create_task(pipe(a[0], b[1], tap.open(link_id, "in"))),
        asyncio.create_task(pipe(b[0], a[1], tap.open(link_id, "out"))),
    ]
    try:
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await asyncio.gather(_close(a[1]), _close(b[1]))


@dataclass
class Relay:
    """One node's listener and forwarders, for one expected peer identity.

    Args:
        creds: this node's certificate, key and the authority.
        peer: the only identity accepted on the other end (``shuyu:platform`` on a party node,
            ``shuyu:party:<id>`` on the platform node), both on incoming and outgoing connections.
        peer_address: the peer's public ``HOST:PORT``, where forwarders and control calls go.
        control: the handler for control channels; ``None`` refuses them (the platform node).
        tap: where link plaintext is copied for diagnosis (``Tap(None, …)`` for none).
    """

    creds: Credentials
    peer: str
    peer_address: str
    control: ControlHandler | None = None
    tap: Tap = field(default_factory=lambda: Tap(None, "node"))
    links: dict[str, int] = field(default_factory=dict)  # link id → loopback brpc port
    peer_certificate: str = ""  # PEM of the peer's certificate at the last outgoing handshake
    _server: asyncio.AbstractServer | None = None
    _forwarders: dict[str, asyncio.AbstractServer] = field(default_factory=dict)
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _carrying: dict[str, set[asyncio.StreamWriter]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._server_ctx = self.creds.context(server=True)
        self._client_ctx = self.creds.context(server=False)

    # -- the public listener -------------------------------------------------------------------

    async def listen(self, address: str) -> tuple[str, int]:
        host, port = split_address(address)
        self._server = await asyncio.start_server(
            self._guarded(self._accept), host, port, limit=1 << 20
        )
        return self._server.sockets[0].getsockname()[:2]

    def _guarded(self, handler):
        """A connection callback that is tracked (so :meth:`close` ends it) and ends quietly.

        asyncio (3.11) logs a cancelled connection callback as an error; a node shutting down
        cancels them all, so a cancellation here just drops the connection.
        """

        async def callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._open.add(writer)
            try:
                await handler(reader, writer)
            except asyncio.CancelledError:
                writer.transport.abort()
            except Exception:
                log.exception("connection handler failed")
                writer.transport.abort()
            finally:
                self._open.discard(writer)

        return callback

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        where = writer.get_extra_info("peername")
        try:
            await writer.start_tls(self._server_ctx, ssl_handshake_timeout=HANDSHAKE_SECONDS)
        except (TimeoutError, ssl.SSLError, OSError, ConnectionError) as e:
            log.warning("refused %s: TLS handshake failed (%s) / 拒绝：证书握手失败", where, e)
            writer.transport.abort()
            return
        who = peer_identity(writer)
        if who != self.peer:
            log.warning(
                "refused %s: identity %r is not %r / 拒绝：证书身份不符", where, who, self.peer
            )
            await _close(writer)
            return
        try:
            line = await asyncio.wait_for(reader.readline(), HANDSHAKE_SECONDS)
            header = json.loads(line)
            if not isinstance(header, dict):
                raise ValueError("header")
        except (TimeoutError, ValueError, OSError, ssl.SSLError, asyncio.LimitOverrunError):
            log.warning("refused %s (%s): no channel header / 拒绝：缺少通道头", where, who)
            await _close(writer)
            return
        channel = header.get("channel")
        if channel == "control" and self.control is not None:
            try:
                await self.control(reader, writer, who)
            finally:
                await _close(writer)
        elif channel == "link":
            await self._link_in(reader, writer, str(header.get("link_id", "")), where)
        else:
            log.warning("refused %s (%s): channel %r / 拒绝：不接受的通道", where, who, channel)
            await _close(writer)

    async def _link_in(self, reader, writer, link_id: str, where) -> None:
        port = self.links.get(link_id) if LINK_ID.match(link_id) else None
        if port is None:
            log.warning(
                "refused %s: link %r is no running computation / 拒绝：无此运行中的计算",
                where,
                link_id[:130],
            )
            await _close(writer)
            return
        local = await self._local(link_id, port)
        if local is None:
            log.warning("link %s: local brpc port %d not reachable", link_id, port)
            await _close(writer)
            return
        await self._carry(link_id, (reader, writer), local)

    async def _local(self, link_id: str, port: int):
        """Connect to the computation's brpc server, waiting while its worker starts up."""
        deadline = asyncio.get_running_loop().time() + LOCAL_WAIT_SECONDS
        while self.links.get(link_id) == port:
            try:
                return await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    return None
                await asyncio.sleep(0.1)
        return None

    async def _carry(self, link_id: str, remote, local) -> None:
        """Splice one link connection, remembered so :meth:`release` can end it."""
        ends = self._carrying.setdefault(link_id, set())
        ends.update((remote[1], local[1]))
        try:
            await splice(remote, local, self.tap, link_id)
        finally:
            ends.difference_update((remote[1], local[1]))

    # -- outgoing: control calls and forwarders ------------------------------------------------

    async def connect(self, header: dict) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TLS connection to the peer's public port, its identity checked, the header sent.

        Raises:
            RelayError: unreachable, handshake refused, or the peer is not :attr:`peer`.
        """
        host, port = split_address(self.peer_address)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    host, port, ssl=self._client_ctx, server_hostname=host, limit=1 << 24
                ),
                HANDSHAKE_SECONDS,
            )
        except ssl.SSLError as e:
            raise RelayError(
                f"对端证书验证失败 / the peer's certificate was refused: {e.reason or e}"
            ) from e
        except (TimeoutError, OSError) as e:
            raise RelayError(
                f"无法连接对端节点 / cannot reach the peer node at {self.peer_address}"
            ) from e
        who = peer_identity(writer)
        if who != self.peer:
            await _close(writer)
            raise RelayError(
                f"对端身份不符 / the peer is {who or 'unnamed'!r}, expected {self.peer!r}"
            )
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        self.peer_certificate = ssl.DER_cert_to_PEM_cert(der)
        writer.write(json.dumps(header).encode() + b"\n")
        return reader, writer

    async def forward(self, link_id: str) -> int:
        """A loopback port whose connections are tunnelled to the peer as link ``link_id``."""

        async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                remote = await self.connect({"channel": "link", "link_id": link_id})
            except RelayError as e:
                log.warning("link %s: %s", link_id, e)
                await _close(writer)
                return
            await self._carry(link_id, remote, (reader, writer))

        server = await asyncio.start_server(self._guarded(tunnel), "127.0.0.1", 0)
        self._forwarders[link_id] = server
        return server.sockets[0].getsockname()[1]

    def register(self, link_id: str, brpc_port: int) -> None:
        if not LINK_ID.match(link_id) or link_id in self.links:
            raise ValueError(f"link id 不合法或已在使用 / bad or busy link id: {link_id!r}")
        self.links[link_id] = brpc_port

    async def release(self, link_id: str) -> None:
        """End a computation's link: its forwarder and every connection it still carries."""
        self.links.pop(link_id, None)
        server = self._forwarders.pop(link_id, None)
        if server is not None:
            server.close()
        for writer in self._carrying.pop(link_id, set()):
            writer.transport.abort()

    async def close(self) -> None:
        """Stop listening and end every connection this relay still holds."""
        for link_id in list(self._forwarders):
            await self.release(link_id)
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
