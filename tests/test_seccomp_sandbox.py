"""The seccomp allow-list, attacked from inside real sandboxes: a workspace forked from the zygote,
a workspace executed by bubblewrap, and a production job. Each refused syscall is one test per
sandbox; so is each step of an ordinary workload (pandas, threads, processes, sockets, ZeroMQ,
the gateway) that must keep working under the same filter."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub.production import sandbox as job_sandbox
from spawner import netns, seccomp, volumes
from spawner.policy import Endpoint, Limits, build_workspace
from spawner.sandbox import TenantSandboxSpawner
from tests import seccomp_probe as probe
from tests.test_production_sandbox import make_job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandboxes run as root")
TENANT = 9104  # far from any real tenant's id, and from the cycle tests' ones
RENDERINGS = ("workspace-forked", "workspace-executed", "job")


@pytest.fixture(scope="module")
def gateway():
    """A stand-in gateway on the host, reachable from the tenant's link: answers ping with pong."""
    server = socket.create_server(("0.0.0.0", 0))
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                with conn:
                    if conn.recv(4) == b"ping":
                        conn.sendall(b"pong")

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


def run_in_workspace(root: Path, use_zygote: bool, port: int) -> dict:
    link = netns.tenant_link(TENANT)
    spawner = TenantSandboxSpawner(
        user=SimpleNamespace(name="seccomp"),
        runtime_root=str(root / "run"),
        workspaces_root=str(root / "ws"),
        volumes_root=str(root / "volumes"),
        home_quota=64 << 20,
        shared_quota=volumes.MIN_BYTES,
        use_zygote=use_zygote,
    )
    ws = build_workspace(
        tenant=f"tenant-seccomp{TENANT}", tenant_id=TENANT, username="seccomp",
        workspaces_root=str(root / "ws"), system_paths=tuple(spawner.system_paths),
        hub_env={}, hub=Endpoint("hub", link.host_ip, 1), gateway=Endpoint("gateway", link.host_ip, port),
        limits=Limits(1024**3, 1.0, 128),
    )  # fmt: skip
    code = probe.probe_code(probe.host_numbers(), (link.host_ip, port))
    env = {"PATH": "/usr/bin:/bin", "HOME": "/home/workspace", "LANG": "C.UTF-8"}
    try:
        proc = spawner.launch(ws, [sys.executable, "-c", code], env)
        proc.wait(timeout=300)
    finally:
        spawner._stop(now=True)
        netns.remove(link)
    return probe.parse((root / "run" / "seccomp-default" / "server.log").read_text())


def run_in_job(root: Path) -> dict:
    job, folder = make_job(root, probe.probe_code(probe.host_numbers()), job_id=91_104)
    bpf = seccomp.write_filter(root / "job.bpf")
    result = job_sandbox.run(job, folder / "run", folder / "log.txt", bpf)
    log = (folder / "log.txt").read_text()
    assert result.exit_code == 0, log[-3000:]
    return probe.parse(log)


@pytest.fixture(scope="module", params=RENDERINGS)
def report(request, tmp_path_factory, gateway):
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "job":
        return request.param, run_in_job(root)
    return request.param, run_in_workspace(root, request.param == "workspace-forked", gateway)


@pytest.mark.parametrize("attack", list(probe.ATTACKS))
def test_when_a_sandbox_makes_a_refused_syscall_then_the_filter_refuses_it(report, attack):
    _, seen = report
    got = seen["attacks"][attack]
    if attack.startswith("an x32"):
        # Another ABI's numbers: the filter kills the caller (or the kernel has no x32 at all).
        assert got in ("SIGSYS", "ENOSYS"), got
    else:
        expected = errno.errorcode[probe.DENIED_ERRNOS.get(attack, errno.EPERM)]
        assert got == expected, got


@pytest.mark.parametrize("step", list(probe.WORKLOAD))
def test_when_a_sandbox_runs_an_ordinary_workload_then_every_step_works(report, step):
    rendering, seen = report
    if step == "the gateway" and rendering == "job":
        pytest.skip("a job has no network at all")
    assert seen["workload"][step] == "ok", json.dumps(seen["workload"], indent=1)
