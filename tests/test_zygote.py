"""The warm zygote's parts that need no hub: privilege drop, forked-kernel bookkeeping, restart."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kernels import forked_kernels
from spawner import forkserver, sandbox, zygote

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def child_status(fn) -> dict[str, str]:
    """Run ``fn`` in a forked child; the child's /proc status afterwards."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            fn()
            os.write(w, Path("/proc/self/status").read_bytes())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        text = f.read().decode()
    os.waitpid(pid, 0)
    return dict(line.split(":", 1) for line in text.splitlines())


@root_only
def test_when_privileges_are_dropped_then_no_capability_group_or_new_privilege_is_left():
    status = child_status(lambda: zygote.drop_privileges(200_123))
    assert status["Uid"].split() == ["200123"] * 4
    assert status["Gid"].split() == ["200123"] * 4
    assert status["Groups"].strip() == ""
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, cap
    assert status["NoNewPrivs"].strip() == "1"


@root_only
def test_when_privileges_are_dropped_then_they_cannot_be_taken_back():
    def attempt():
        zygote.drop_privileges(200_123)
        try:
            os.setuid(0)
        except PermissionError:
            return
        os._exit(3)  # regained root: the status below is never written

    assert child_status(attempt)["Uid"].split() == ["200123"] * 4


def test_when_the_kernel_command_is_standard_then_a_fork_can_stand_in():
    assert forked_kernels.forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"])
    assert not forked_kernels.forkable(["/usr/bin/python3", "-m", "ipykernel_launcher"])
    assert not forked_kernels.forkable([sys.executable, "-m", "other_kernel", "-f", "c.json"])
    assert not forked_kernels.available()  # no kernel zygote in the test process


def test_when_a_forked_kernel_ends_then_its_process_handle_says_so():
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    proc = forked_kernels.ForkedProcess(pid)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    os.waitpid(pid, 0)  # here we are the parent; in a server the kernel zygote reaps
    assert proc.wait(timeout=5) == 0
    proc.kill()  # a no-op once it has ended, not an error


@root_only
def test_when_the_zygote_dies_then_the_next_use_starts_a_new_one():
    forkserver.prestart(sandbox.zygote_env())
    try:
        first = forkserver._zygote[0]
        first.kill()
        first.wait()
        forkserver.prestart(sandbox.zygote_env())
        second = forkserver._zygote[0]
        assert second.pid != first.pid and second.poll() is None
    finally:
        forkserver.stop()
    assert forkserver._zygote is None


@root_only
def test_when_the_zygote_is_asked_to_enter_a_missing_sandbox_then_the_reason_comes_back():
    request = {
        "target": 2**22 + 7,  # no such process
        "sandbox": 2**22 + 8,
        "uid": 200_123,
        "cgroups": [],
        "cwd": "/",
        "env": {},
        "argv": ["jupyterhub-singleuser"],
        "log": os.devnull,
    }
    try:
        with pytest.raises(forkserver.ForkError, match="ns/net"):
            forkserver.fork(request, sandbox.zygote_env())
    finally:
        forkserver.stop()
