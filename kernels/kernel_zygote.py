"""The kernel zygote of a server that has none by inheritance (Docker, Kubernetes): a fresh Python.

A server forked from the workspace zygote (the sandbox spawner) forks its kernel zygote from
itself. Any other server starts this one (:func:`kernels.forked_kernels.spawn_zygote`) with its
environment less its secrets, after it took its signing key: being a fresh process, the zygote
never held the key, the server's token or another kernel's connection, so no kernel forked from it
can find them in its own memory. It imports what kernels need, makes itself non-dumpable (its
kernels inherit that: their memory and ``/proc/<pid>/environ`` are closed to each other), then
forks a kernel per request (:func:`kernels.forked_kernels.serve`) until the server goes away.

Run as ``python -m kernels.kernel_zygote FD`` (``FD``: its end of the server's socket pair).
"""

from __future__ import annotations

import ctypes
import importlib
import socket
import sys

PR_SET_DUMPABLE = 4
# What every kernel imports (``kernels.kernelspec`` loads the SDK's magics into each).
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "sdk.magics")


def main(fd: int) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0)")
    from kernels import forked_kernels

    for name in PRELOAD:
        importlib.import_module(name)
    forked_kernels.serve(socket.socket(fileno=fd))


if __name__ == "__main__":
    main(int(sys.argv[1]))
