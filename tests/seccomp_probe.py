"""A probe run inside a real sandbox: each refused syscall tried as an attacker would, and an
ordinary data-science workload that must keep working.

``probe_code(numbers)`` is the probe's Python source (run with ``python -c``); ``numbers`` maps
syscall names to this architecture's numbers, resolved on the host (the sandbox has no
libseccomp). The probe prints one line, ``REPORT`` and a JSON object: for each attack the errno
it got (``"ok"`` when the call went through, ``"SIGSYS"`` when the filter killed the caller), and
for each workload step ``"ok"`` or its error.

Every attack is chosen so that *without* the filter the kernel would let an unprivileged process
do it, or answer with something other than EPERM (a bad descriptor, no such process): a refusal
with EPERM is the filter's.
"""

from __future__ import annotations

import errno
import json

# name → Python statement computing ``rc`` (the raw syscall's return value) with helpers below.
ATTACKS: dict[str, str] = {
    # the calls the review named
    "personality ADDR_NO_RANDOMIZE": "rc = sys_('personality', 0x0040000)",
    "personality READ_IMPLIES_EXEC": "rc = sys_('personality', 0x0400000)",
    "personality high bits": "rc = sys_('personality', (1 << 32) | 0x0040000)",
    "pidfd_getfd of oneself": "rc = sys_('pidfd_getfd', pidfd_self(), 1, 0)",
    "process_madvise of oneself": "rc = sys_('process_madvise', pidfd_self(), 0, 0, 20, 0)",
    "vmsplice into a pipe": "rc = vmsplice()",
    "socket AF_ALG": "rc = sys_('socket', 38, 5, 0)",
    "socket AF_ALG high bits": "rc = sys_('socket', (1 << 32) | 38, 5, 0)",
    "socket AF_VSOCK": "rc = sys_('socket', 40, 1, 0)",
    # the rest of their class
    "socket AF_PACKET": "rc = sys_('socket', 17, 3, 0)",
    "socket AF_KEY": "rc = sys_('socket', 15, 3, 2)",
    "socket AF_BLUETOOTH": "rc = sys_('socket', 31, 5, 0)",
    "socket AF_TIPC": "rc = sys_('socket', 30, 5, 0)",
    "socket AF_RDS": "rc = sys_('socket', 21, 5, 0)",
    "socket AF_CAN": "rc = sys_('socket', 29, 2, 1)",
    "socket AF_XDP": "rc = sys_('socket', 44, 3, 0)",
    "socket AF_QIPCRTR": "rc = sys_('socket', 42, 2, 0)",
    "socket netlink sock_diag": "rc = sys_('socket', 16, 3, 4)",
    "socket netlink uevent": "rc = sys_('socket', 16, 2, 15)",
    "socket netlink audit": "rc = sys_('socket', 16, 3, 9)",
    "socketpair AF_INET": "rc = sys_('socketpair', 2, 1, 0, pair())",
    "userfaultfd user mode": "rc = sys_('userfaultfd', 1)",
    "perf_event_open": "rc = sys_('perf_event_open', 0, 0, -1, -1, 0)",
    "keyctl session keyring": "rc = sys_('keyctl', 0, -3, 0)",
    "add_key": "rc = sys_('add_key', b'user', b'x', b'y', 1, -2)",
    "request_key": "rc = sys_('request_key', b'user', b'x', None, 0)",
    "io_uring_setup": "rc = sys_('io_uring_setup', 1, buf(120))",
    "io_uring_enter": "rc = sys_('io_uring_enter', -1, 0, 0, 0, None, 0)",
    "io_uring_register": "rc = sys_('io_uring_register', -1, 0, None, 0)",
    "bpf": "rc = sys_('bpf', 9999, None, 0)",
    "ptrace attach": "rc = sys_('ptrace', 16, 0x3FFFFFFF, 0, 0)",
    "process_vm_readv": "rc = sys_('process_vm_readv', 0x3FFFFFFF, None, 0, None, 0, 0)",
    "process_vm_writev": "rc = sys_('process_vm_writev', 0x3FFFFFFF, None, 0, None, 0, 0)",
    "kcmp of oneself": "rc = sys_('kcmp', os.getpid(), os.getpid(), 0, 0, 0)",
    "unshare nothing": "rc = sys_('unshare', 0)",
    "unshare a user namespace": "rc = sys_('unshare', 0x10000000)",
    "setns on a bad descriptor": "rc = sys_('setns', -1, 0)",
    "clone a user namespace": "rc = clone(0x10000000 | 17)",
    "clone a network namespace": "rc = clone(0x40000000 | 17)",
    "clone3": "rc = sys_('clone3', None, 0)",
    "open_tree": "rc = sys_('open_tree', -1, b'/', 0)",
    "fsopen": "rc = sys_('fsopen', b'tmpfs', 0)",
    "mount_setattr": "rc = sys_('mount_setattr', -1, b'', 0, None, 0)",
    "name_to_handle_at": "rc = sys_('name_to_handle_at', -100, b'/', buf(136), buf(4), 0)",
    "open_by_handle_at": "rc = sys_('open_by_handle_at', -1, buf(136), 0)",
    "memfd_secret": "rc = sys_('memfd_secret', 0)",
    "fanotify_init": "rc = sys_('fanotify_init', 0, 0)",
    "remap_file_pages": "rc = sys_('remap_file_pages', 0, 0, 0, 0, 0)",
    "lookup_dcookie": "rc = sys_('lookup_dcookie', 0, None, 0)",
    "quotactl_fd": "rc = sys_('quotactl_fd', -1, 0, 0, None)",
    "kexec_file_load": "rc = sys_('kexec_file_load', -1, -1, 0, None, 0)",
    "finit_module": "rc = sys_('finit_module', -1, b'', 0)",
    "delete_module": "rc = sys_('delete_module', b'shuyu_absent', 0)",
    "syslog read size": "rc = sys_('syslog', 10, None, 0)",
    "adjtimex read": "rc = sys_('adjtimex', buf(208))",
    "get_mempolicy": "rc = sys_('get_mempolicy', None, None, 0, None, 0)",
    "mbind": "rc = sys_('mbind', 0, 0, 0, None, 0, 0)",
    "move_pages of oneself": "rc = sys_('move_pages', 0, 0, None, None, None, 0)",
    "ustat": "rc = sys_('ustat', 0, buf(32))",
    "an x32 getpid": "rc = x32('getpid')",
    "an x32 unshare": "rc = x32('unshare')",
}
DENIED_ERRNOS = {"clone3": errno.ENOSYS}  # callers fall back to clone(); every other: EPERM

# name → statement that must run without an exception: what an ordinary kernel does.
WORKLOAD: dict[str, str] = {
    "pandas and parquet": (
        "import pandas as pd\n"
        "df = pd.DataFrame({'k': [i % 7 for i in range(100000)], 'v': range(100000)})\n"
        "df.to_parquet('/tmp/p.parquet'); back = pd.read_parquet('/tmp/p.parquet')\n"
        "assert back.groupby('k').v.sum().sum() == sum(range(100000))"
    ),
    "numpy on threads": (
        "import numpy as np\nfrom concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(4) as ex:\n"
        "    assert all(r.shape == (200, 200) for r in ex.map(lambda _: np.ones((200, 200)) @ np.ones((200, 200)), range(8)))"
    ),
    "multiprocessing fork and spawn": (
        "import multiprocessing as mp\n"
        "for method in ('fork', 'spawn', 'forkserver'):\n"
        "    with mp.get_context(method).Pool(2) as pool:\n"
        "        assert pool.map(abs, [-1, -2, -3]) == [1, 2, 3]"
    ),
    "subprocess": "import subprocess\nassert subprocess.run(['/usr/bin/true']).returncode == 0",
    "asyncio subprocess": (
        "import asyncio\nasync def main():\n"
        "    p = await asyncio.create_subprocess_exec('/usr/bin/true'); return await p.wait()\n"
        "assert asyncio.run(main()) == 0"
    ),
    "loopback and unix sockets": (
        "import socket\nsrv = socket.create_server(('127.0.0.1', 0)); c = socket.create_connection(srv.getsockname())\n"
        "a, _ = srv.accept(); c.sendall(b'x'); assert a.recv(1) == b'x'\n"
        "x, y = socket.socketpair(); x.sendall(b'y'); assert y.recv(1) == b'y'\n"
        "socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()\n"
        "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close()\n"
        "assert socket.getaddrinfo('127.0.0.1', 80, flags=socket.AI_ADDRCONFIG)"
    ),
    "zeromq over ipc and tcp": (
        "import zmq\nctx = zmq.Context()\n"
        "for addr in ('ipc:///tmp/z.sock', 'tcp://127.0.0.1:*'):\n"
        "    rep = ctx.socket(zmq.REP); rep.bind(addr); ep = rep.getsockopt(zmq.LAST_ENDPOINT).decode()\n"
        "    req = ctx.socket(zmq.REQ); req.connect(ep); req.send(b'ping')\n"
        "    assert rep.recv() == b'ping'; rep.send(b'pong'); assert req.recv() == b'pong'\n"
        "    req.close(); rep.close()\n"
        "ctx.term()"
    ),
    "personality query": "assert sys_('personality', 0xFFFFFFFF) >= 0",
    "the gateway": (
        "import socket, os\nif GATEWAY:\n"
        "    s = socket.create_connection(tuple(GATEWAY), timeout=5); s.sendall(b'ping'); assert s.recv(4) == b'pong'"
    ),
}

_HELPERS = r"""
import ctypes, errno, json, os, signal, sys, traceback
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = json.loads(NUMBERS)
GATEWAY = json.loads(GATEWAY_JSON)
X32 = 0x40000000

def arg(a):
    if isinstance(a, int):
        return ctypes.c_long(a) if a < (1 << 63) else ctypes.c_ulong(a)
    return a

def sys_(name, *args):
    return libc.syscall(ctypes.c_long(NR[name]), *map(arg, args))

def buf(n):
    return ctypes.create_string_buffer(n)

def pair():
    return (ctypes.c_int * 2)()

def pidfd_self():
    return os.pidfd_open(os.getpid())

def vmsplice():
    r, w = os.pipe()
    data = buf(16)
    iov = (ctypes.c_void_p * 2)(ctypes.cast(data, ctypes.c_void_p), 16)
    return sys_('vmsplice', w, iov, 1, 0)

def in_child(fn):
    # Run ``fn`` in a fork: a call that succeeds (a cloned child) or kills (SIGSYS) stays there.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        me = os.getpid()
        rc = fn()
        if os.getpid() != me:
            os._exit(0)  # a clone that went through: its child leaves at once
        os.write(w, json.dumps([rc, ctypes.get_errno()]).encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 100)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -1, "SIG" + signal.Signals(os.WTERMSIG(status)).name[3:]
    rc, err = json.loads(out)
    return rc, err

def clone(flags):
    return sys_('clone', flags, 0, None, None, 0)

def x32(name):
    return libc.syscall(ctypes.c_long(X32 | NR[name]), ctypes.c_long(0))

def attempt(code):
    def fn():
        ctypes.set_errno(0)
        env = dict(globals())
        exec(code, env)
        return env["rc"]
    rc, err = in_child(fn)
    if isinstance(err, str):
        return err
    return "ok" if rc >= 0 else errno.errorcode.get(err, str(err))

def main():
    report = {"attacks": {}, "workload": {}}
    for name, code in ATTACKS.items():
        report["attacks"][name] = attempt(code)
    for name, code in WORKLOAD.items():
        try:
            exec(code, dict(globals()))
            report["workload"][name] = "ok"
        except BaseException as e:
            where = traceback.extract_tb(e.__traceback__)[-1]
            report["workload"][name] = f"{type(e).__name__}: {e} ({where.filename}:{where.lineno})"
    print("REPORT", json.dumps(report), flush=True)

if __name__ == "__main__":  # not in the children multiprocessing spawns
    main()
"""


def syscall_names() -> set[str]:
    """Every syscall name the probe calls by number."""
    import re

    found = set(re.findall(r"sys_\('(\w+)'", "\n".join([*ATTACKS.values(), *WORKLOAD.values()])))
    found |= set(re.findall(r"x32\('(\w+)'\)", "\n".join(ATTACKS.values())))
    return found | {"clone", "vmsplice"}


def probe_code(numbers: dict[str, int], gateway: tuple[str, int] | None = None) -> str:
    """The probe's source, with this architecture's syscall ``numbers`` and the gateway to call."""
    return (
        f"NUMBERS = {json.dumps(json.dumps(numbers))}\n"
        f"GATEWAY_JSON = {json.dumps(json.dumps(list(gateway) if gateway else None))}\n"
        f"ATTACKS = {ATTACKS!r}\nWORKLOAD = {WORKLOAD!r}\n" + _HELPERS
    )


def host_numbers() -> dict[str, int]:
    """The probe's syscall numbers on this machine (libseccomp resolves names on the host)."""
    import pyseccomp as sc

    arch = sc.system_arch()
    return {name: sc.resolve_syscall(arch, name) for name in sorted(syscall_names())}


def parse(log: str) -> dict:
    """The probe's report from a sandbox's log."""
    lines = [line for line in log.splitlines() if line.startswith("REPORT ")]
    assert lines, log[-3000:]
    return json.loads(lines[-1][len("REPORT ") :])
