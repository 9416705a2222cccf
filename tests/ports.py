"""Ports for the servers a test starts: below the kernel's ephemeral range.

Asking the kernel for a free port (bind to 0, close) hands out a port of the ephemeral range, and
the server that is meant to listen there binds it only later — seconds later for a hub service
importing its modules on a busy machine. Meanwhile every outgoing connection (a test polling the
hub, the hub talking to its proxy) takes a port of that same range, and one of them can take that
very port: the service then dies with ``Address already in use``. A port below the range is never
given to an outgoing connection, so it stays free until its server binds it.
"""

from __future__ import annotations

import os
import random
import socket
import threading

_FALLBACK_RANGE = (32768, 60999)  # Linux's default ip_local_port_range
_LOWEST = 10_000
_given: set[int] = set()
_lock = threading.Lock()


def _ephemeral() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return _FALLBACK_RANGE


def _range() -> range:
    """Ports below the ephemeral range (or above it, where it starts too low)."""
    low, high = _ephemeral()
    return range(_LOWEST, low) if low - _LOWEST >= 1000 else range(high + 1, 65536)


def free_port(host: str = "127.0.0.1") -> int:
    """A port no server of this machine listens on, outside the ephemeral range and not handed
    out before by this process (several servers of one test get different ports)."""
    candidates = list(_range())
    random.Random(os.getpid() ^ random.getrandbits(32)).shuffle(candidates)
    with _lock:
        for port in candidates:
            if port in _given:
                continue
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            _given.add(port)
            return port
    raise RuntimeError("no free port outside the ephemeral range")
