"""How a zygote is asked for a fork, shared by the workspace zygote (:mod:`spawner.zygote`) and
the kernel zygote (:mod:`kernels.forked_kernels`).

Each request travels on a socket pair of its own: one end goes to the zygote over its control
socket (``SCM_RIGHTS``), the zygote forks before reading anything from it, and the child reads the
request (secrets included) and answers with its pid. No later fork of the zygote inherits a
request it was not for.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable


def ask(control: Callable[[], socket.socket], lock: threading.Lock, request: dict, timeout: float) -> dict:  # fmt: skip
    """Send ``request`` to the zygote behind ``control()`` (called under ``lock``, which guards
    the control socket) and return its JSON answer (``{}`` when it closed without one).

    Raises:
        OSError: the zygote could not be reached or did not answer within ``timeout`` seconds.
        ValueError: the answer is not JSON.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with lock:
            socket.send_fds(control(), [b"fork"], [theirs.fileno()])
        theirs.close()
        ours.sendall(json.dumps(request).encode())
        ours.shutdown(socket.SHUT_WR)
        ours.settimeout(timeout)
        return json.loads(ours.recv(65536) or b"{}")
    finally:
        theirs.close()
        ours.close()


def receive(conn: socket.socket) -> dict:
    """In the forked child: the whole request sent on ``conn`` (up to the sender's shutdown)."""
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return json.loads(b"".join(chunks))
