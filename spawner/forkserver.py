"""Hub side of the workspace fork server (:mod:`spawner.zygote`).

One zygote per hub process, started on first use (or ahead of time with :func:`prestart`) and
restarted if it dies. :func:`fork` asks it for a server inside an already started sandbox and
returns the server's host pid.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from kernels import fork_channel

CHECKOUT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120.0
FORK_TIMEOUT = 30.0

_lock = threading.Lock()
_zygote: tuple[subprocess.Popen, socket.socket] | None = None


class ForkError(RuntimeError):
    """The zygote could not start a server (the reason is for the hub's log)."""


def _start(env: dict[str, str]) -> tuple[subprocess.Popen, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen(
        [sys.executable, "-m", "spawner.zygote", str(theirs.fileno())],
        env=env,
        cwd=CHECKOUT,
        pass_fds=(theirs.fileno(),),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    theirs.close()
    ours.settimeout(START_TIMEOUT)
    try:
        ready = ours.recv(16)
    except TimeoutError:
        ready = b""
    if ready != b"ready":
        proc.kill()
        proc.wait()
        ours.close()
        raise ForkError(f"the workspace zygote did not start (exit {proc.poll()})")
    ours.settimeout(None)
    return proc, ours


def _control(env: dict[str, str]) -> socket.socket:
    global _zygote
    if _zygote is not None and _zygote[0].poll() is not None:
        _zygote[1].close()
        _zygote = None
    if _zygote is None:
        _zygote = _start(env)
    return _zygote[1]


def prestart(env: dict[str, str]) -> None:
    """Start the zygote now, so the first spawn does not wait for its imports. ``env`` is the
    zygote's own environment: only what decides which code the servers import."""
    with _lock:
        _control(env)


def fork(request: dict, env: dict[str, str]) -> int:
    """Start a server as described by ``request`` (see :mod:`spawner.zygote`); its host pid.
    ``env`` is the zygote's environment, used if it must be (re)started."""
    try:
        reply = fork_channel.ask(lambda: _control(env), _lock, request, FORK_TIMEOUT)
    except (OSError, ValueError) as e:
        raise ForkError(f"no answer from the workspace zygote: {e}") from None
    if "pid" not in reply:
        raise ForkError(reply.get("error", "the workspace zygote gave no pid"))
    return int(reply["pid"])


def stop() -> None:
    """Stop the zygote (servers it started keep running)."""
    global _zygote
    with _lock:
        if _zygote is not None:
            proc, control = _zygote
            control.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            _zygote = None


def wait_for_descendant(pid: int, exe_name: str, timeout: float = 10.0) -> int:
    """The first process below ``pid`` whose executable is ``exe_name`` (the sandbox's
    placeholder, once the sandbox is complete)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in _descendants(pid):
            try:
                if os.path.basename(os.readlink(f"/proc/{child}/exe")) == exe_name:
                    return child
            except OSError:
                continue
        time.sleep(0.005)
    raise ForkError(f"the sandbox of pid {pid} did not come up")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for c in map(int, children):
            found.append(c)
            todo.append(c)
    return found
