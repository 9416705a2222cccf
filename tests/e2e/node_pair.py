"""Two machines on one host: the domain's namespace and a party's, joined by one veth pair.

Each namespace has only loopback and its end of the pair, and an nftables table that lets through
exactly the two nodes' ports: the party may reach the platform node's port, the platform node the
party's, and nothing else crosses (not even ping). Deleting a namespace takes its link and its
table with it, so :meth:`NodePair.down` leaves nothing behind.

:class:`Capture` records every frame on the party's end of the link (an ``AF_PACKET`` socket in
the party's namespace) so a test can read what actually crossed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PLATFORM_PORT = 17443
PARTY_PORT = 17444


def _run(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


def _table(own_port: int, peer_ip: str, peer_port: int) -> str:
    return f"""table inet shuyu_nodes {{
  chain input {{
    type filter hook input priority 0; policy drop;
    iif lo accept
    ct state established,related accept
    ip saddr {peer_ip} tcp dport {own_port} ct state new accept
  }}
  chain output {{
    type filter hook output priority 0; policy drop;
    oif lo accept
    ct state established,related accept
    ip daddr {peer_ip} tcp dport {peer_port} ct state new accept
  }}
}}
"""


@dataclass
class NodePair:
    """Namespaces ``<tag>-dom`` (platform node) and ``<tag>-party`` and their link."""

    tag: str = f"shuyu-pc{os.getpid() % 100000}"
    platform_ip: str = "10.251.7.1"
    party_ip: str = "10.251.7.2"

    @property
    def dom(self) -> str:
        return f"{self.tag}-dom"

    @property
    def party(self) -> str:
        return f"{self.tag}-party"

    @property
    def party_if(self) -> str:
        return f"pcp{os.getpid() % 100000}"

    @property
    def platform_address(self) -> str:
        return f"{self.platform_ip}:{PLATFORM_PORT}"

    @property
    def party_address(self) -> str:
        return f"{self.party_ip}:{PARTY_PORT}"

    def up(self) -> NodePair:
        dom_if = f"pcd{os.getpid() % 100000}"
        for ns in (self.dom, self.party):
            _run("ip", "netns", "add", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "link", "add", dom_if, "netns", self.dom, "type", "veth",
             "peer", "name", self.party_if, "netns", self.party)  # fmt: skip
        for ns, iface, ip in ((self.dom, dom_if, self.platform_ip),
                              (self.party, self.party_if, self.party_ip)):  # fmt: skip
            _run("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", iface)
            _run("ip", "-n", ns, "link", "set", iface, "up")
        rules = {
            self.dom: _table(PLATFORM_PORT, self.party_ip, PARTY_PORT),
            self.party: _table(PARTY_PORT, self.platform_ip, PLATFORM_PORT),
        }
        for ns, text in rules.items():
            proc = subprocess.run(
                ["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text, capture_output=True,
                text=True,
            )  # fmt: skip
            if proc.returncode != 0:
                raise RuntimeError(f"nft in {ns} failed: {proc.stderr.strip()}")
        return self

    def down(self) -> None:
        for ns in (self.dom, self.party):
            for pid in self.pids(ns):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)

    @staticmethod
    def pids(ns: str) -> list[int]:
        proc = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
        return [int(p) for p in proc.stdout.split()]

    def exists(self) -> bool:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return any(
            line.split()[0] in (self.dom, self.party) for line in listed.splitlines() if line
        )

    def popen(self, ns: str, argv: list[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kwargs)

    def run(self, ns: str, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], **kwargs)


CAPTURE = r"""
import signal, socket, struct, sys
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sock.bind((sys.argv[1], 0))
out = open(sys.argv[2], "wb", buffering=0)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("ready", flush=True)
while True:
    frame = sock.recv(65535)
    out.write(struct.pack("!I", len(frame)) + frame)
"""


class Capture:
    """Every frame on the party's end of the link while it runs (``with Capture(pair, path):``)."""

    def __init__(self, pair: NodePair, path: Path):
        self.pair, self.path = pair, path
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Capture:
        self.proc = self.pair.popen(
            self.pair.party, [sys.executable, "-c", CAPTURE, self.pair.party_if, str(self.path)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("packet capture did not start")
        return self

    def __exit__(self, *exc) -> None:
        assert self.proc is not None
        time.sleep(0.3)  # frames in flight when the computation returned
        self.proc.terminate()
        self.proc.wait(10)

    def frames(self) -> list[bytes]:
        data, found, at = self.path.read_bytes(), [], 0
        while at + 4 <= len(data):
            (size,) = struct.unpack("!I", data[at : at + 4])
            found.append(data[at + 4 : at + 4 + size])
            at += 4 + size
        return found

    def streams(self) -> dict[tuple[str, int, str, int], bytes]:
        """TCP payload per direction, in sequence order (retransmissions counted once)."""
        segments: dict[tuple, dict[int, bytes]] = defaultdict(dict)
        for frame in self.frames():
            if len(frame) < 34 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 6:
                continue
            total = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:total]
            src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
            sport, dport, seq = struct.unpack("!HHI", tcp[:8])
            payload = tcp[(tcp[12] >> 4) * 4 :]
            if payload:
                segments[(src, sport, dst, dport)].setdefault(seq, payload)
        return {flow: b"".join(p for _, p in sorted(s.items())) for flow, s in segments.items()}

    def total_bytes(self) -> int:
        return sum(len(s) for s in self.streams().values())
