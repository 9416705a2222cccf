"""Pid 1 of a Docker workspace: starts the server, forwards signals to it, reaps orphans.

Docker's own init (``init: True``) is started with the container's environment — the server's
signing key among it (:mod:`kernels.exec_audit`) — and stays dumpable, so kernel code of the same
uid could read ``/proc/1/environ``. This init makes itself non-dumpable before anything else
runs: no process without ``CAP_SYS_PTRACE`` can read its environment or memory. Otherwise it does
what an init in a container must: pass ``SIGTERM`` and the like on to the server, reap every
orphan so zombies do not hold the pids limit, and exit with the server's status.

Only the standard library, run as ``python -I -S reaper.py SERVER ARGS…``: it imports nothing of
the workspace's site packages.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36  # orphans come here even where this is not pid 1
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
             signal.SIGUSR1, signal.SIGUSR2)  # fmt: skip


def prctl(option: int, value: int) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value})")


def exit_status(status: int) -> int:
    """A shell's exit code for a ``waitpid`` status: the code, or 128 + the killing signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def run(argv: list[str]) -> int:
    """Start ``argv`` and reap until it exits; its exit status."""
    prctl(PR_SET_DUMPABLE, 0)  # /proc/self/environ and mem closed to processes of its uid
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    child = os.posix_spawnp(argv[0], argv, os.environ)

    def forward(signum: int, _frame) -> None:
        with contextlib.suppress(ProcessLookupError):  # gone: its status is on its way
            os.kill(child, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:  # nothing left: the server went before a status was seen
            return 1
        except InterruptedError:
            continue
        if pid == child:
            return exit_status(status)


def main() -> None:
    if len(sys.argv) < 2:
        print("usage: reaper.py COMMAND [ARG...]", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
