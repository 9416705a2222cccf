"""Warm kernels: every server forks its kernels from a kernel zygote of its own.

Once the server has taken its signing key out of its environment, it starts a *kernel zygote*
(:func:`spawn_zygote`, :mod:`kernels.kernel_zygote`): a fresh Python, inside the server's sandbox
or container, as its uid, under its filter, that pre-imports ipykernel, pandas and friends.
:class:`ForkedKernelProvisioner` asks that zygote for a fork that becomes the kernel, instead of
starting a fresh Python: a kernel is ready in a fraction of the time and shares the zygote's
memory until it writes to it. Everything the kernel can do it could do as a fresh process of the
same server (same user, sandbox, uid, filter). The zygote is a fresh process, never a fork of the
server: a fork would carry in its memory whatever the server held when it forked (its signing
key, its token), and every kernel could read it there; this one never held either.

A forked kernel gets its connection (channel addresses and the key that signs its messages) in
the fork request, in memory: no connection file is ever written for it. Kernel code runs as the
same uid as the server and every other kernel, so a file in the runtime folder would hand it the
keys of the user's other kernels, and with them a way to run code there that bypasses the
audited websocket (:mod:`kernels.exec_audit`). The request of a kernel is read only by that
kernel's own process, never by the zygote whose memory later kernels inherit. Kernels are not
dumpable (inherited from the zygote), so their memory is closed to each other too.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import traceback
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from kernels import fork_channel

NAME = "shuyu-forked"
# The command a forked kernel replaces: ``python -m ipykernel_launcher -f CONNECTION_FILE``.
LAUNCHER = "ipykernel_launcher"

# Variables a spawned kernel zygote does not get: secrets are the server's (and each kernel gets
# the user's token in its own request, from the server).
SECRET_ENV = re.compile(r"TOKEN|KEY|SECRET|PASSWORD", re.IGNORECASE)
FORK_TIMEOUT = 120.0  # a freshly spawned zygote may still be importing when the first kernel starts

_zygote: socket.socket | None = None
_zygote_lock = threading.Lock()
_process: subprocess.Popen | None = None


def spawn_zygote() -> None:
    """Start the kernel zygote of this server as a fresh Python (:mod:`kernels.kernel_zygote`)
    with this process's environment less its secrets. Call after the server took its signing
    key (:func:`kernels.exec_audit.take_key`), before any kernel starts."""
    global _zygote, _process
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    env = {k: v for k, v in os.environ.items() if not SECRET_ENV.search(k)}
    try:
        _process = subprocess.Popen(
            [sys.executable, "-m", "kernels.kernel_zygote", str(theirs.fileno())],
            env=env,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
    finally:
        theirs.close()
    _zygote = ours


def serve(conn: socket.socket) -> None:
    """The kernel zygote: fork a kernel for each request until the server goes away.

    Each request comes with a socket of its own, and the zygote forks before anything is read
    from it: the request (the kernel's connection key and the user's environment) is read by the
    kernel it is for, so no later fork of the zygote inherits it."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the kernel
    while True:
        msg, fds, _, _ = socket.recv_fds(conn, 16, 1)
        if not msg:
            return  # the server is gone
        if not fds:
            continue
        if os.fork() == 0:
            conn.close()
            run_then_exit(_kernel_from, socket.socket(fileno=fds[0]))
        os.close(fds[0])


def _kernel_from(channel: socket.socket) -> None:
    """In a kernel just forked: read its own request, answer with its pid, become the kernel."""
    request = fork_channel.receive(channel)
    channel.sendall(json.dumps({"pid": os.getpid()}).encode())
    channel.close()
    _become_kernel(request)


def _become_kernel(request: dict) -> None:
    """In the kernel process: its own session, environment and folder; then run ipykernel with
    the connection from the request, never reading or writing a connection file."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = [LAUNCHER, *_without_connection_file(request["cmd"][3:])]
    from ipykernel import kernelapp

    kernelapp.IPKernelApp.init_connection_file = lambda self: None
    kernelapp.IPKernelApp.write_connection_file = lambda self, **kwargs: None
    kernelapp.launch_new_instance(config=connection_config(request["connection"]))


def _without_connection_file(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-f", "--f"):
            skip = True
        elif not arg.startswith(("-f=", "--f=")):
            out.append(arg)
    return out


def connection_config(info: dict) -> Any:
    """The kernel's connection as traitlets configuration (what a connection file would say)."""
    from traitlets.config import Config

    config = Config()
    app = config.IPKernelApp
    app.transport, app.ip = info["transport"], info["ip"]
    for channel in ("shell", "iopub", "stdin", "hb", "control"):
        setattr(app, f"{channel}_port", int(info[f"{channel}_port"]))
    config.Session.key = info["key"].encode()
    config.Session.signature_scheme = info["signature_scheme"]
    return config


def run_then_exit(fn, *args) -> None:
    """Run the whole life of a forked process and end it, never returning into the code it was
    forked from: the exit code of ``sys.exit``, 0 on return, 1 (and the traceback) on an error."""
    code = 1
    try:
        fn(*args)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def available() -> bool:
    """Whether this server has a kernel zygote."""
    return _zygote is not None


def forkable(cmd: list[str]) -> bool:
    """Whether ``cmd`` is the standard kernel command a fork can stand in for."""
    return len(cmd) >= 3 and cmd[0] == sys.executable and cmd[1:3] == ["-m", LAUNCHER]


def fork_kernel(cmd: list[str], env: dict[str, str], cwd: str, connection: dict) -> int:
    """Ask the kernel zygote for a kernel with ``connection`` (its channels and key); its pid.
    The request travels on a socket of its own, straight to the new kernel."""
    assert _zygote is not None
    request = {"cmd": cmd, "env": env, "cwd": cwd, "connection": connection}
    try:
        reply = fork_channel.ask(lambda: _zygote, _zygote_lock, request, FORK_TIMEOUT)
    except (OSError, ValueError) as e:
        raise RuntimeError(f"the kernel zygote did not answer: {e}") from None
    if "pid" not in reply:
        raise RuntimeError("the kernel zygote did not answer")
    return int(reply["pid"])


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


class ForkedProcess:
    """The parts of ``subprocess.Popen`` that :class:`LocalProvisioner` uses, for a kernel that
    is not our child (the kernel zygote reaps it): alive while its pid has the same start time."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._started = _start_time(pid)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and (
            self._started is None or _start_time(self.pid) != self._started
        ):
            self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"kernel {self.pid} still running")
            time.sleep(0.05)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def _choose_ports(km: Any, **kwargs: Any) -> None:
    """Stands in for ``KernelManager.write_connection_file`` of a forked kernel: choose the
    channel ports it would choose (free socket paths for ipc, free ports for tcp), write nothing."""
    used = {getattr(km, name) for name in PORTS if getattr(km, name)}
    for name in PORTS:
        if getattr(km, name):
            continue
        if km.transport == "ipc":
            port = 1
            while port in used or os.path.exists(f"{km.ip}-{port}"):
                port += 1
        else:
            with socket.socket() as s:
                s.bind((km.ip, 0))
                port = s.getsockname()[1]
        used.add(port)
        setattr(km, name, port)


class ForkedKernelProvisioner(LocalProvisioner):
    """Start kernels by forking the server's kernel zygote when it has one; else as usual.
    Forked kernels have no connection file (see module docstring)."""

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if _zygote is None or km is None:
            return await super().pre_launch(**kwargs)
        # For this manager only: ports are chosen, no file is written (also when the manager
        # reconciles the connection after the launch, and at restarts).
        km.write_connection_file = lambda **kw: _choose_ports(km, **kw)
        kwargs = await super().pre_launch(**kwargs)
        if not forkable(kwargs.get("cmd") or []):
            del km.write_connection_file
            km.write_connection_file()  # a kernel started as usual reads its file
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if _zygote is None or not forkable(cmd):
            return await super().launch_kernel(cmd, **kwargs)
        env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        info = dict(self.connection_info)
        key = info.get("key", b"")
        connection = {
            **{k: v for k, v in info.items() if k.endswith("_port")},
            "transport": info["transport"],
            "ip": info["ip"],
            "signature_scheme": info["signature_scheme"],
            "key": key.decode() if isinstance(key, bytes) else str(key),
        }
        # In a thread: a freshly spawned zygote may still be importing.
        pid = await asyncio.to_thread(fork_kernel, cmd, env, cwd, connection)
        self.process = ForkedProcess(pid)
        self.pid = self.pgid = self.process.pid
        self.cwd = cwd
        return self.connection_info
