"""A seccomp filter for workspaces: no namespaces, mounts, tracing or kernel-facing interfaces.

The sandbox already runs without capabilities and with no-new-privileges; the filter closes what
an unprivileged process can still do on a kernel that allows unprivileged user namespaces: create
namespaces (and gain capabilities inside them), trace other processes, load BPF, use io_uring.
Everything else is allowed, so Python, pandas and Jupyter run unchanged.
"""

from __future__ import annotations

import contextlib
import errno
from pathlib import Path

DENIED = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "name_to_handle_at",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "syslog",
    "lookup_dcookie",
)
# clone() flags that create namespaces.
NAMESPACE_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
)


def build_filter():
    """The workspace filter as a ``pyseccomp.SyscallFilter`` (``.load()`` applies it)."""
    import pyseccomp as sc

    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENIED:
        with contextlib.suppress(ValueError, RuntimeError, OSError):  # not on this architecture
            f.add_rule(sc.ERRNO(errno.EPERM), name)
    for flag in NAMESPACE_FLAGS:
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes flags in memory the filter cannot read: make callers fall back to clone().
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    return f


def write_filter(path: Path) -> Path:
    """Compile the filter to BPF at ``path`` (what ``bwrap --seccomp FD`` reads)."""
    f = build_filter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        f.export_bpf(out)
    tmp.replace(path)
    return path
