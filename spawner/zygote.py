"""The workspace fork server: start a tenant's server by forking a pre-imported Python.

Importing jupyter-server and JupyterLab costs every server more than a second of CPU. The hub
starts this process once (``python -m spawner.zygote CONTROL_FD``, as root, with a clean
environment): it imports the server's code and then waits. For each server, the hub first starts
the sandbox exactly as before (bubblewrap in the tenant's network namespace, with only a waiting
placeholder inside) and then asks the zygote for a fork that *enters* that sandbox:

- the zygote receives a fresh socket for the request and forks at once, so the request (which
  holds the user's token) is only ever read in the child, never in the zygote whose memory every
  later server inherits;
- the child opens the sandbox's namespaces and the server's cgroups, joins the pid namespace and
  forks the server, which joins the cgroups and the network, IPC, UTS, cgroup and mount
  namespaces, drops to the tenant's uid with no capabilities, no supplementary groups and no new
  privileges, loads the workspace seccomp filter and only then runs the single-user server with
  the user's own environment;
- the child waits for the server and, when it ends, ends the sandbox, so the hub sees the server
  stop as it did before.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import signal
import socket
import sys

from kernels import fork_channel, forked_kernels
from spawner import seccomp

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAP_LAST = 63
LINUX_CAPABILITY_VERSION_3 = 0x20080522
# The namespaces a server shares with its sandbox; mnt is joined last (it changes the root) and
# pid applies to the children of the joining process.
NAMESPACES = ("net", "ipc", "uts", "cgroup", "pid", "mnt")
# The program the zygote runs warm, in-process; any other is executed as usual.
SERVER = "jupyterhub-singleuser"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option: int, arg: int = 0, arg3: int = 0) -> int:
    return _libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg3), 0, 0)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_privileges(uid: int) -> None:
    """Become ``uid``/``uid`` with no groups, no capabilities in any set, and no new privileges."""
    for cap in range(CAP_LAST + 1):
        if _prctl(PR_CAPBSET_DROP, cap) != 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            _check(-1, f"drop capability {cap}")
    _check(_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL), "clear ambient capabilities")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "clear capabilities")
    _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "set no_new_privs")


def _setns(fd: int, what: str) -> None:
    try:
        _check(_libc.setns(fd, 0), f"join {what} namespace")
    finally:
        os.close(fd)


class Entry:
    """Handles on a sandbox, opened by the request's child while the host is still in view.

    The child itself joins only the sandbox's pid namespace (which only its next fork enters);
    the server joins the rest and the server's cgroups on its own, so that the child, which must
    outlive the server to reap it, is never counted in the tenant's namespace or killed with the
    server's group."""

    def __init__(self, request: dict) -> None:
        target = request["target"]
        self.groups = [
            os.open(os.path.join(g, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
            for g in request["cgroups"]
        ]
        self.namespaces = {
            kind: os.open(f"/proc/{target}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            for kind in NAMESPACES
        }

    def enter_pid_namespace(self) -> None:
        """In the child, before it forks the server."""
        _setns(self.namespaces.pop("pid"), "pid")

    def enter_the_rest(self) -> None:
        """In the server: its cgroups, then every other namespace (mnt last: it moves the root)."""
        for fd in self.groups:
            os.write(fd, b"0")  # "0": the writing process
            os.close(fd)
        for kind in NAMESPACES:
            if kind in self.namespaces:
                _setns(self.namespaces.pop(kind), kind)

    def close(self) -> None:
        for fd in (*self.groups, *self.namespaces.values()):
            os.close(fd)


def become_server(request: dict, log_fd: int, syscall_filter) -> None:
    """In the server process: identity, filter, environment; then run the single-user server."""
    import jupyterhub.singleuser

    os.setsid()
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.closerange(3, 2**31 - 1)  # close_range(2): every inherited descriptor, at once
    os.umask(0o022)
    os.chdir(request["cwd"])
    drop_privileges(request["uid"])
    syscall_filter.load()
    os.environ.clear()
    os.environ.update(request["env"])
    argv = list(request["argv"])
    if os.path.basename(argv[0]) != SERVER:
        os.execvp(argv[0], argv)  # another program: no warm start, same sandbox and identity
    sys.argv = argv
    # No kernel zygote is forked here: this process holds the server's signing key and token, and
    # a fork would hand both to every kernel; the server starts a fresh one (kernels.forked_kernels).
    jupyterhub.singleuser.main()


def _run_server(
    conn: socket.socket, request: dict, log_fd: int, syscall_filter, entry: Entry
) -> None:
    """The server process's whole life."""
    conn.close()
    entry.enter_the_rest()
    become_server(request, log_fd, syscall_filter)


def serve_request(conn: socket.socket) -> None:
    """Body of the zygote's child for one request on ``conn``; never returns."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 1
    try:
        request = fork_channel.receive(conn)
        log_fd = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        syscall_filter = seccomp.build_filter()  # on the host: libseccomp is found here
        entry = Entry(request)
        entry.enter_pid_namespace()
        pid = os.fork()
        if pid == 0:
            forked_kernels.run_then_exit(_run_server, conn, request, log_fd, syscall_filter, entry)
        entry.close()
        os.close(log_fd)
        conn.sendall(json.dumps({"pid": pid}).encode())
        conn.close()
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        # The server ended on its own: end its sandbox, so the hub sees it stop.
        with contextlib.suppress(ProcessLookupError):
            os.kill(request["sandbox"], signal.SIGKILL)
    except Exception as e:  # reported to the hub, which logs it and fails the spawn
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
    finally:
        os._exit(max(code, 0))


# Imported by a starting server or kernel after the fork (found by comparing ``sys.modules``).
LATE_IMPORTS = (
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.logger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "faulthandler",
    "jinja2.ext",
    "jupyter_core.migrate",
    "jupyter_server.kernelspecs.handlers",
    "jupyter_server.nbconvert.handlers",
    "jupyter_server.services.api.handlers",
    "jupyter_server.services.config.handlers",
    "jupyter_server.services.contents.handlers",
    "jupyter_server.services.events.handlers",
    "jupyter_server.services.kernels.handlers",
    "jupyter_server.services.kernelspecs.handlers",
    "jupyter_server.services.nbconvert.handlers",
    "jupyter_server.services.security.handlers",
    "jupyter_server.services.sessions.handlers",
    "jupyter_server.services.shutdown",
    "jupyter_server.view.handlers",
    "notebook_shim.nbserver",
    "pdb",
    "psutil",
    "tornado.platform.asyncio",
)

# Of the science set (pyproject's ``science`` extra; numpy, pandas and pyarrow are in preload()):
# what is light and starts no thread. DuckDB (70 ms, no thread until a query) is the workspace's
# SQL engine. Not polars (its import starts native threads, which a fork does not copy), nor
# scikit-learn, statsmodels, LightGBM, XGBoost, matplotlib, ONNX or onnxruntime (0.5-1.6 s each,
# imported by the few cells that use them).
SCIENCE_PRELOAD = ("duckdb",)


def preload() -> None:
    """Import what every server imports, so that forks start warm."""
    # What kernels import (they are forked from the server's kernel zygote).
    import ipykernel.debugger  # noqa: F401 - debugpy: half of a cold kernel's start
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import jupyter_server.serverapp  # noqa: F401
    import jupyterhub.singleuser  # noqa: F401
    import jupyterhub.singleuser.extension  # noqa: F401
    import jupyterlab.labapp  # noqa: F401
    import jupyterlab_server  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    for name in (*SCIENCE_PRELOAD, *LATE_IMPORTS):
        importlib.import_module(name)
    # Kernel provisioners are found by scanning every installed package's entry points.
    from jupyter_client.provisioning import KernelProvisionerFactory

    KernelProvisionerFactory.instance()

    import kernels.downloads  # noqa: F401
    import kernels.exec_audit  # noqa: F401
    import kernels.kernelspec  # noqa: F401
    import kernels.server_extension  # noqa: F401


def main(control_fd: int) -> None:
    _prctl(PR_SET_DUMPABLE, 0)
    control = socket.socket(fileno=control_fd)
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # request children are reaped by the kernel
    control.sendall(b"ready")
    while True:
        msg, fds, _, _ = socket.recv_fds(control, 16, 1)
        if not msg:
            return  # the hub is gone (a parent-death signal would fire with the hub's thread)
        if not fds:
            continue
        if os.fork() == 0:
            control.close()
            serve_request(socket.socket(fileno=fds[0]))
        os.close(fds[0])


if __name__ == "__main__":
    main(int(sys.argv[1]))
