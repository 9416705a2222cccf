"""The seccomp filter as data: an allow-list that leaves out every named dangerous class, and
one decision rendered the same for bubblewrap and for Docker. (What the filter does to a real
process is tested from inside real sandboxes in ``test_seccomp_sandbox.py``.)"""

from __future__ import annotations

import errno

import pytest

from spawner import seccomp

CLASSES = [
    ("namespaces", {"unshare", "setns", "clone3"}),
    ("mounts", {"mount", "umount2", "pivot_root", "fsopen", "open_tree", "mount_setattr"}),
    ("other processes", {"ptrace", "process_vm_readv", "pidfd_getfd", "process_madvise", "kcmp"}),
    (
        "kernel attack surface",
        {"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "vmsplice"},
    ),
    ("keyrings", {"keyctl", "add_key", "request_key"}),
    ("file handles", {"open_by_handle_at", "name_to_handle_at"}),
    ("the machine", {"kexec_load", "init_module", "reboot", "swapon", "syslog", "settimeofday"}),
]


@pytest.mark.parametrize("label, names", CLASSES, ids=[c[0] for c in CLASSES])
def test_when_a_dangerous_class_is_asked_for_then_no_rule_allows_it(label, names):
    allowed = {r.name for r in seccomp.rules() if r.errno is None}
    assert not names & allowed, label


def test_when_the_allow_list_is_read_then_it_and_the_denied_list_are_disjoint():
    assert not set(seccomp.ALLOWED) & set(seccomp.DENIED)
    assert len(set(seccomp.ALLOWED)) == len(seccomp.ALLOWED)


def test_when_sockets_are_allowed_then_only_unix_inet_and_routing_netlink_are():
    sockets = [r.args for r in seccomp.rules() if r.name == "socket"]
    families = {args[0].value for args in sockets}
    assert families == {seccomp.AF_UNIX, seccomp.AF_INET, seccomp.AF_INET6, seccomp.AF_NETLINK}
    (netlink,) = [args for args in sockets if args[0].value == seccomp.AF_NETLINK]
    assert netlink[1] == seccomp.Arg(2, seccomp.NETLINK_ROUTE)
    pairs = [r.args for r in seccomp.rules() if r.name == "socketpair"]
    assert pairs == [(seccomp.Arg(0, seccomp.AF_UNIX),)]


def test_when_personality_is_allowed_then_only_the_query_and_the_default_are():
    values = {r.args[0].value for r in seccomp.rules() if r.name == "personality"}
    assert values == {0, 0xFFFFFFFF}


def test_when_clone_is_allowed_then_no_namespace_flag_may_be_set():
    (clone,) = [r for r in seccomp.rules() if r.name == "clone"]
    assert clone.args == (seccomp.Arg(0, 0, seccomp.NAMESPACE_MASK),)
    assert all(flag & seccomp.NAMESPACE_MASK for flag in seccomp.NAMESPACE_FLAGS)


def test_when_rendered_for_docker_then_the_profile_holds_the_same_rules():
    profile = seccomp.docker_profile()
    assert (profile["defaultAction"], profile["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", errno.EPERM)
    rendered = set()
    for entry in profile["syscalls"]:
        args = tuple(
            (a["index"], a.get("valueTwo", a["value"]), a["value"] if "valueTwo" in a else None)
            for a in entry.get("args", ())
        )
        for name in entry["names"]:
            rendered.add((name, args, entry.get("errnoRet")))
    expected = {
        (r.name, tuple((a.index, a.value, a.mask) for a in r.args), r.errno)
        for r in seccomp.rules()
    }
    assert rendered == expected


def test_when_compiled_then_libseccomp_accepts_every_rule(tmp_path):
    path = seccomp.write_filter(tmp_path / "f.bpf")
    assert path.stat().st_size > 0 and path.stat().st_size % 8 == 0
