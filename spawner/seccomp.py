"""The seccomp filter of workspaces and production jobs: an allow-list, everything else EPERM.

The sandbox already runs without capabilities and with no-new-privileges; the filter decides what
an unprivileged process may still ask of the kernel. It lists what Python, pandas, pyarrow,
ZeroMQ and Jupyter use (the common ground of container runtimes' default profiles) and refuses
the rest with EPERM, so a syscall nobody thought of (or one a newer kernel adds) is refused
rather than allowed. Some allowed calls are bounded by their arguments:

- ``clone`` without namespace flags; ``clone3`` (whose flags sit in memory a filter cannot
  read) reports ENOSYS, so callers fall back to ``clone``;
- ``socket`` for Unix, IPv4 and IPv6 sockets and routing netlink (``getaddrinfo`` asks it for the
  local addresses); ``socketpair`` for Unix sockets only. No ``AF_ALG`` (kernel crypto),
  ``AF_VSOCK`` (the hypervisor), ``AF_PACKET``, Bluetooth, ``AF_KEY`` or other families;
- ``personality`` may only read the persona or set the default one (no ``ADDR_NO_RANDOMIZE``,
  ``READ_IMPLIES_EXEC`` or other weakening).

``DENIED`` names the dangerous classes the allow-list leaves out on purpose (namespaces, mounts,
tracing and cross-process memory or descriptors, BPF, perf, io_uring, keyrings, userfaultfd,
modules, kexec, file handles, ``vmsplice``, …); tests probe each from inside a real sandbox.
The filter is one piece of plain data rendered twice: to BPF for bubblewrap and the zygote
(:func:`build_filter`) and to a Docker profile (:func:`docker_profile`).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALLOWED = (
    # files and descriptors
    "access", "chdir", "chmod", "chown", "close", "close_range", "copy_file_range", "creat",
    "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir",
    "fchmod", "fchmodat", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr",
    "flock", "fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "getcwd",
    "getdents", "getdents64", "getxattr", "lchown", "lgetxattr", "link", "linkat", "listxattr",
    "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "mkdir", "mkdirat", "mknod",
    "mknodat", "newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2",
    "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
    "removexattr", "rename", "renameat", "renameat2", "rmdir", "sendfile", "setxattr", "splice",
    "stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
    "tee", "truncate", "umask", "unlink", "unlinkat", "utime", "utimensat", "utimes", "write",
    "writev", "futimesat",
    # memory
    "brk", "madvise", "membarrier", "memfd_create", "mincore", "mlock", "mlock2", "mlockall",
    "mmap", "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap", "pkey_alloc",
    "pkey_free", "pkey_mprotect",
    # processes, threads, signals
    "arch_prctl", "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork",
    "get_robust_list", "get_thread_area", "getcpu", "getegid", "geteuid", "getgid", "getgroups",
    "getitimer", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getresgid",
    "getresuid", "getrlimit", "getrusage", "getsid", "gettid", "getuid", "ioprio_get",
    "ioprio_set", "kill", "modify_ldt", "pidfd_open", "pidfd_send_signal", "prctl",
    "prlimit64", "restart_syscall", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "set_robust_list", "set_thread_area", "set_tid_address", "setfsgid", "setfsuid", "setgid",
    "setgroups", "setitimer", "setpgid", "setpriority", "setregid", "setresgid", "setresuid",
    "setreuid", "setrlimit", "setsid", "setuid", "sigaltstack", "tgkill", "tkill", "vfork",
    "wait4", "waitid",
    # time
    "alarm", "clock_getres", "clock_gettime", "clock_nanosleep", "gettimeofday", "nanosleep",
    "pause", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime", "times",
    # waiting and events
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "eventfd", "eventfd2", "futex", "futex_waitv", "inotify_add_watch", "inotify_init",
    "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents",
    "io_pgetevents", "io_setup", "io_submit", "pipe", "pipe2", "poll", "ppoll", "pselect6",
    "select", "signalfd", "signalfd4",
    # System V and POSIX IPC (private to the sandbox's IPC namespace)
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
    "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop", "shmat",
    "shmctl", "shmdt", "shmget",
    # sockets (``socket`` and ``socketpair`` are bounded below)
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen",
    "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown",
    # the system, read-only; self-sandboxing
    "getrandom", "ioctl", "sysinfo", "uname", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self",
)  # fmt: skip

# What the allow-list leaves out on purpose; each is probed from inside a sandbox by the tests.
DENIED = (
    # namespaces, mounts, the root
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "sethostname", "setdomainname",
    # other processes: tracing, their memory, their descriptors
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "process_mrelease",
    "pidfd_getfd", "kcmp",
    # kernel-facing interfaces with a record of privilege escalations
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "vmsplice", "memfd_secret",
    "fanotify_init", "fanotify_mark", "remap_file_pages", "name_to_handle_at",
    "open_by_handle_at", "lookup_dcookie", "quotactl", "quotactl_fd",
    # the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "swapon",
    "swapoff", "reboot", "acct", "syslog", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "iopl", "ioperm", "vhangup", "nfsservctl", "uselib", "ustat", "sysfs",
    "_sysctl", "get_mempolicy", "set_mempolicy", "mbind", "migrate_pages", "move_pages",
)  # fmt: skip

# clone() flags that create namespaces (CLONE_NEWNS … CLONE_NEWNET).
NAMESPACE_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
)
NAMESPACE_MASK = sum(NAMESPACE_FLAGS)

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
NETLINK_ROUTE = 0
SOCKET_FAMILIES = (AF_UNIX, AF_INET, AF_INET6)
PERSONA_QUERY, PER_LINUX = 0xFFFFFFFF, 0


@dataclass(frozen=True)
class Arg:
    """A condition on one argument: ``(arg & mask) == value``, or ``arg == value`` unmasked."""

    index: int
    value: int
    mask: int | None = None


@dataclass(frozen=True)
class Rule:
    """Allow ``name`` when every condition holds (or refuse it with ``errno``)."""

    name: str
    args: tuple[Arg, ...] = ()
    errno: int | None = None


def rules() -> tuple[Rule, ...]:
    """The whole filter as data: what is allowed, and on which arguments."""
    found = [Rule(name) for name in ALLOWED]
    found.append(Rule("clone", (Arg(0, 0, NAMESPACE_MASK),)))
    found.append(Rule("clone3", errno=errno.ENOSYS))
    found += [Rule("socket", (Arg(0, family),)) for family in SOCKET_FAMILIES]
    found.append(Rule("socket", (Arg(0, AF_NETLINK), Arg(2, NETLINK_ROUTE))))
    found.append(Rule("socketpair", (Arg(0, AF_UNIX),)))
    found += [Rule("personality", (Arg(0, p),)) for p in (PER_LINUX, PERSONA_QUERY)]
    return tuple(found)


def build_filter():
    """The filter as a ``pyseccomp.SyscallFilter`` (``.load()`` applies it).

    Names this architecture does not have are skipped (they stay refused). Calls from another
    ABI (32-bit or x32 on x86-64) never match an allowed rule: libseccomp kills the caller.
    """
    import pyseccomp as sc

    f = sc.SyscallFilter(defaction=sc.ERRNO(errno.EPERM))
    for rule in rules():
        action = sc.ALLOW if rule.errno is None else sc.ERRNO(rule.errno)
        args = [
            sc.Arg(a.index, sc.EQ, a.value)
            if a.mask is None
            else sc.Arg(a.index, sc.MASKED_EQ, a.mask, a.value)
            for a in rule.args
        ]
        try:
            f.add_rule(action, rule.name, *args)
        except (ValueError, RuntimeError, OSError):  # not on this architecture
            continue
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


def docker_profile() -> dict[str, Any]:
    """The same filter in Docker's seccomp profile format (``security_opt=["seccomp=…"]``)."""
    entries: list[dict[str, Any]] = [{"names": list(ALLOWED), "action": "SCMP_ACT_ALLOW"}]
    for rule in rules():
        if not rule.args and rule.errno is None:
            continue
        entry: dict[str, Any] = {"names": [rule.name], "action": "SCMP_ACT_ALLOW"}
        if rule.errno is not None:
            entry.update(action="SCMP_ACT_ERRNO", errnoRet=rule.errno)
        if rule.args:
            entry["args"] = [
                {"index": a.index, "value": a.value, "op": "SCMP_CMP_EQ"}
                if a.mask is None
                else {
                    "index": a.index,
                    "value": a.mask,
                    "valueTwo": a.value,
                    "op": "SCMP_CMP_MASKED_EQ",
                }
                for a in rule.args
            ]
        entries.append(entry)
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "syscalls": entries,
    }
