"""Homes, shared folders and job outputs on quota-bounded file systems of their own, attacked from
inside real sandboxes: filling them ends in ENOSPC, never on the platform's disk; a job's writes
do not move a home's free-block count; homes persist across restarts; nothing stays mounted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub.production import sandbox as job_sandbox
from spawner import netns, seccomp, volumes
from spawner.job_policy import JobLimits
from spawner.policy import SANDBOX_HOME, SANDBOX_SHARED, Endpoint, Limits, build_workspace
from spawner.sandbox import TenantSandboxSpawner
from tests.test_production_sandbox import make_job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
TENANT = 9105  # far from any real tenant's id, and from the other sandbox tests' ones
QUOTA = 16 << 20

FILL = """
import errno, json, os, sys
def fill(folder):
    written = 0
    try:
        for i in range(100000):
            with open(f"{folder}/fill{i}.bin", "wb") as f:
                f.write(b"x" * (1 << 20))  # 1 MiB each: no single file is large
            written += 1 << 20
    except OSError as e:
        return errno.errorcode[e.errno], written
    return "ok", written
"""


def loops_under(root: Path) -> list[str]:
    listing = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if str(root) in line]


def nothing_left(root: Path) -> None:
    assert volumes.mounted_under(root) == []
    assert loops_under(root) == []


def test_when_a_volume_fills_then_the_host_file_holding_it_does_not_grow(tmp_path):
    volume = volumes.Volume(tmp_path / "v.img", tmp_path / "v", QUOTA, 0, 0)
    volumes.mount(volume)
    try:
        allocated = os.stat(volume.image).st_blocks
        assert allocated * 512 >= QUOTA  # allocated in full when made
        with pytest.raises(OSError) as raised, open(volume.mountpoint / "big", "wb") as f:
            for _ in range(2 * QUOTA >> 20):
                f.write(b"x" * (1 << 20))
                f.flush()
                os.fsync(f.fileno())
        assert raised.value.errno == 28  # ENOSPC
        os.sync()
        assert os.stat(volume.image).st_blocks == allocated
        assert os.stat(volume.mountpoint).st_dev != os.stat(tmp_path).st_dev
    finally:
        volumes.remove(volume)
    assert not volume.image.exists()
    nothing_left(tmp_path)


def run_workspace(root: Path, code: str) -> str:
    """Run ``code`` as the server of a real workspace (forked from the zygote); its log."""
    link = netns.tenant_link(TENANT)
    spawner = TenantSandboxSpawner(
        user=SimpleNamespace(name="filler"),
        runtime_root=str(root / "run"),
        workspaces_root=str(root / "ws"),
        volumes_root=str(root / "volumes"),
        home_quota=QUOTA,
        shared_quota=QUOTA,
    )
    ws = build_workspace(
        tenant=f"tenant-quota{TENANT}", tenant_id=TENANT, username="filler",
        workspaces_root=str(root / "ws"), system_paths=tuple(spawner.system_paths), hub_env={},
        hub=Endpoint("hub", link.host_ip, 1), gateway=Endpoint("gateway", link.host_ip, 2),
        limits=Limits(512 * 1024**2, 1.0, 64),
    )  # fmt: skip
    log = root / "run" / "filler-default" / "server.log"
    log.unlink(missing_ok=True)
    try:
        proc = spawner.launch(ws, [sys.executable, "-c", code], {"PATH": "/usr/bin"})
        proc.wait(timeout=120)
    finally:
        spawner._stop(now=True)
        netns.remove(link)
    return log.read_text()


def report_of(log: str) -> dict:
    lines = [line for line in log.splitlines() if line.startswith("REPORT ")]
    assert lines, log[-2000:]
    return json.loads(lines[-1][len("REPORT ") :])


def test_when_a_workspace_fills_its_home_and_shared_folder_then_both_end_in_enospc(tmp_path):
    code = FILL + textwrap.dedent(f"""
        home, shared = {SANDBOX_HOME!r}, {SANDBOX_SHARED!r}
        open(home + "/keep.txt", "w").write("still here")
        report = {{"home": fill(home), "shared": fill(shared)}}
        st = os.statvfs(home)
        report["home_bytes"] = st.f_blocks * st.f_frsize
        report["own_fs"] = os.stat(home).st_dev != os.stat("/usr").st_dev
        report["shared_fs"] = os.stat(shared).st_dev not in (os.stat(home).st_dev, os.stat("/usr").st_dev)
        print("REPORT", json.dumps(report), flush=True)
    """)  # fmt: skip
    report = report_of(run_workspace(tmp_path, code))
    for folder in ("home", "shared"):
        outcome, written = report[folder]
        assert outcome == "ENOSPC" and written <= QUOTA, report
    assert report["home_bytes"] <= QUOTA and report["own_fs"] and report["shared_fs"]
    nothing_left(tmp_path)


def test_when_the_workspace_restarts_then_its_home_is_kept_on_its_volume(tmp_path):
    write = f"open({SANDBOX_HOME!r} + '/keep.txt', 'w').write('still here'); print('REPORT {{}}')"
    report_of(run_workspace(tmp_path, write))
    nothing_left(tmp_path)  # stopped: unmounted, and the loop device freed
    read = f"import json; print('REPORT', json.dumps(open({SANDBOX_HOME!r} + '/keep.txt').read()))"
    assert report_of(run_workspace(tmp_path, read)) == "still here"
    nothing_left(tmp_path)


def test_when_a_job_writes_past_its_output_quota_then_it_gets_enospc_and_a_home_sees_nothing(
    tmp_path,
):
    home = volumes.Volume(tmp_path / "home.img", tmp_path / "home", QUOTA, 0, 0)
    volumes.mount(home)
    try:
        before = os.statvfs(home.mountpoint)
        code = FILL + textwrap.dedent("""
            outcome = fill("/job/output")
            st = os.statvfs("/job/output")
            print("REPORT", json.dumps({"fill": outcome, "bytes": st.f_blocks * st.f_frsize,
                  "own_fs": os.stat("/job/output").st_dev != os.stat("/usr").st_dev}), flush=True)
        """)  # fmt: skip
        limits = JobLimits(seconds=60, output_bytes=QUOTA)
        job, folder = make_job(tmp_path, code, job_id=91_105, limits=limits)
        bpf = seccomp.write_filter(tmp_path / "job.bpf")
        result = job_sandbox.run(job, folder / "run", folder / "log.txt", bpf)
        after = os.statvfs(home.mountpoint)
    finally:
        volumes.remove(home)
    assert result.exit_code == 0
    report = report_of((folder / "log.txt").read_text())
    outcome, written = report["fill"]
    assert outcome == "ENOSPC" and written <= QUOTA, report
    assert report["bytes"] <= QUOTA and report["own_fs"]
    # The home's free-block count did not move while the job filled its own file system.
    assert (after.f_bfree, after.f_ffree) == (before.f_bfree, before.f_ffree)
    # What the job wrote was copied out, within its quota, and its image is gone.
    kept = sum(p.stat().st_size for p in (folder / "output").iterdir())
    assert 0 < kept <= QUOTA
    assert not (folder / "run" / "output.img").exists()
    nothing_left(tmp_path)


def test_when_a_home_from_before_quotas_gets_its_volume_then_its_files_move_in(tmp_path):
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "notes" / "a.txt").write_text("kept")
    os.symlink("notes/a.txt", home / "link")
    volume = volumes.Volume(tmp_path / "home.img", home, QUOTA, 4242, 4242)
    volumes.mount(volume)
    try:
        assert os.stat(home).st_dev != os.stat(tmp_path).st_dev  # the volume, not the folder
        assert (home / "notes" / "a.txt").read_text() == "kept"
        assert os.readlink(home / "link") == "notes/a.txt"
        assert os.stat(home).st_uid == 4242
        assert not (tmp_path / "home.pre-quota").exists()
    finally:
        volumes.unmount(home)
    assert list(home.iterdir()) == []  # unmounted: the plain folder is empty, nothing left twice
    nothing_left(tmp_path)
