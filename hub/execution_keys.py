"""Per-server keys that prove an execution record came from a workspace's server process.

The gateway records a cell (or a file save) only when the request is signed with the key of the
server it names. The key is derived from a platform secret and handed to the server alone (in its
environment, which the server empties before any kernel starts; the server is not dumpable, so
kernels of the same uid cannot read its memory or ``/proc/<pid>/environ``). Kernel code holds the
user's API token but not the key, so it cannot add, forge or replay-edit records.
"""

from __future__ import annotations

import hashlib
import hmac

ENV = "SHUYU_EXEC_KEY"  # the server's key, hex; removed from the environment at server start
HEADER = "X-Shuyu-Exec-Signature"  # hex HMAC-SHA256 of the request body under the server's key
MASTER = "execution_audit"  # name of the platform secret the keys are derived from


def server_key(master: bytes, user: str, server: str) -> str:
    """The key of ``user``'s server named ``server`` ("" for the default server), hex."""
    return hmac.new(master, f"{user}\0{server}".encode(), hashlib.sha256).hexdigest()


def sign(key_hex: str, body: bytes) -> str:
    """The signature a server sends with ``body``."""
    return hmac.new(bytes.fromhex(key_hex), body, hashlib.sha256).hexdigest()


def verify(master: bytes, user: str, server: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is ``body`` signed by the key of ``user``'s ``server``."""
    expected = sign(server_key(master, user, server), body)
    return hmac.compare_digest(expected, signature or "")
