"""The production zone's sandbox, attacked from inside a real job: it reads its raw inputs and
nothing else, writes only its output folder, reaches no network, holds no privilege, and is
stopped at its wall-time limit with nothing left behind."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest

from hub.production import disclosure, outputs, sandbox
from hub.production.executor import system_paths
from hub.production.gate import Gate
from hub.review.checks import Context
from spawner import cgroups, seccomp
from spawner.job_policy import JobLimits, build_job, job_uid

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the production sandbox runs as root")

PROBE = """
import json, os, socket, sys
from pathlib import Path
from sdk import job

report = {}
frame = job.dataset("people").df()
report["rows"] = len(frame)
report["uid"], report["gid"] = os.getuid(), os.getgid()
status = Path("/proc/self/status").read_text()
report["caps"] = [l.split()[1] for l in status.splitlines() if l.startswith(("CapEff", "CapPrm", "CapBnd"))]
report["no_new_privs"] = [l.split()[1] for l in status.splitlines() if l.startswith("NoNewPrivs")][0]
report["seccomp"] = [l.split()[1] for l in status.splitlines() if l.startswith("Seccomp:")][0]
report["interfaces"] = sorted(os.listdir("/sys/class/net")) if os.path.exists("/sys/class/net") else []
writes = {}
for target in ["/data/people.parquet", "/data/new.txt", "/job/code/x.py", "/usr/x", "/etc/x", "/x", "/job/params.json"]:
    try:
        with open(target, "a") as f:
            f.write("x")
        writes[target] = "written"
    except OSError as e:
        writes[target] = type(e).__name__
report["writes"] = writes
try:
    s = socket.create_connection(("127.0.0.1", int(job.params()["port"])), timeout=2)
    report["loopback"] = "connected"
except OSError as e:
    report["loopback"] = type(e).__name__
try:
    import hub  # noqa: F401
    report["hub"] = "imported"
except ImportError:
    report["hub"] = "absent"
report["env"] = sorted(os.environ)
report["visible"] = sorted(os.listdir("/"))
report["checkout"] = sorted(os.listdir(job.params()["checkout"]))
print("report ready for 110101199003071233 phone 13800138000")
job.save_metrics(rows=len(frame), small=3, auc=0.71)
json.dump(report, open(job.output("report.json"), "w"))
"""


def make_job(tmp_path: Path, code: str, *, job_id: int = 91_001, params: dict | None = None,
             limits: JobLimits | None = None):  # fmt: skip
    store = tmp_path / "domain"
    (store / "raw").mkdir(parents=True)
    raw = store / "raw" / "people.parquet"
    pd.DataFrame({"id": [f"p{i}" for i in range(1234)], "age": range(1234)}).to_parquet(raw)
    os.chmod(raw, 0o600)
    folder = store / "jobs" / str(job_id)
    (folder / "code").mkdir(parents=True)
    (folder / "output").mkdir()
    (folder / "code" / "main.py").write_text(textwrap.dedent(code))
    (folder / "params.json").write_text(json.dumps(params or {}))
    job = build_job(
        job_id=job_id, tenant="tenant-test", entrypoint="main.py", code_dir=str(folder / "code"),
        output_dir=str(folder / "output"), params_file=str(folder / "params.json"),
        inputs={"people": str(raw)}, limits=limits or JobLimits(seconds=60), system_paths=system_paths(), python=sys.executable,
    )  # fmt: skip
    return job, folder


@pytest.fixture
def bpf(tmp_path: Path) -> Path:
    return seccomp.write_filter(tmp_path / "job.bpf")


@pytest.fixture
def listener():
    """A server on the host's loopback the job must not reach."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept():
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


@pytest.fixture
def probed(tmp_path: Path, bpf: Path, listener):
    port, accepted = listener
    checkout = str(Path(__file__).resolve().parent.parent)
    job, folder = make_job(tmp_path, PROBE, params={"port": port, "checkout": checkout})
    result = sandbox.run(job, folder / "run", folder / "log.txt", bpf)
    report = json.loads((folder / "output" / "report.json").read_text())
    return job, folder, result, report, accepted


def test_when_a_job_runs_then_it_reads_every_raw_row_that_its_owner_could_not(probed):
    job, folder, result, report, _ = probed
    assert result.exit_code == 0 and not result.timed_out
    assert report["rows"] == 1234
    assert os.stat(job.inputs[0].source).st_mode & 0o007 == 0  # no other uid may read the raw file


def test_when_a_job_runs_then_it_is_its_own_unprivileged_uid_under_seccomp(probed):
    job, _, _, report, _ = probed
    assert report["uid"] == job_uid(91_001) and report["gid"] == job.gid
    assert report["caps"] == ["0000000000000000"] * 3
    assert report["no_new_privs"] == "1" and report["seccomp"] == "2"


def test_when_a_job_writes_outside_its_output_folder_then_every_write_fails(probed):
    _, folder, _, report, _ = probed
    assert set(report["writes"].values()) <= {"OSError", "PermissionError", "FileNotFoundError"}, (
        report["writes"]
    )
    assert pd.read_parquet(folder.parent.parent / "raw" / "people.parquet").shape == (1234, 2)
    assert not (folder / "code" / "x.py").exists()


def test_when_a_job_tries_the_network_then_nothing_is_reachable(probed):
    _, _, _, report, accepted = probed
    assert report["loopback"] in {"ConnectionRefusedError", "OSError", "TimeoutError"}
    assert accepted == []
    assert report["interfaces"] in ([], ["lo"])


def test_when_a_job_runs_then_it_sees_no_platform_code_secret_or_host_folder(probed):
    _, _, _, report, _ = probed
    assert report["hub"] == "absent"
    assert not [k for k in report["env"] if k.startswith(("JUPYTERHUB", "SHUYU_DB", "SHUYU_HOME"))]
    assert "home" not in report["visible"] and "srv" not in report["visible"]
    assert report["checkout"] == [
        ".venv",
        "sdk",
    ]  # the platform's code and domain store are not there


def test_when_a_job_prints_raw_ids_then_the_released_log_masks_them(probed):
    _, folder, _, _, _ = probed
    raw = (folder / "log.txt").read_bytes()
    assert b"110101199003071233" in raw  # the raw log keeps them, in the domain
    release = disclosure.release_log(raw, Gate(Context()))
    released, masked = release.shown, release.extra["masked"]
    assert "110101199003071233" not in released and "13800138000" not in released
    assert masked.get("resident_id", 0) >= 1 and masked.get("mobile", 0) >= 1
    assert "report ready for" in released and release.held == []  # masked in place, not held


def test_when_metrics_hold_small_counts_then_they_are_suppressed(probed):
    _, folder, _, _, _ = probed
    release = disclosure.release_metrics(
        (folder / "output" / "metrics.json").read_bytes(), 10, Gate(Context())
    )
    assert release.shown == {"rows": 1234, "small": None, "auc": 0.71}
    assert release.extra["suppressed"] == ["$.small"] and release.held == []


def test_when_a_job_runs_over_its_time_then_it_is_stopped_and_nothing_is_left(tmp_path, bpf):
    job, folder = make_job(
        tmp_path, "import os, time\nos.fork()\ntime.sleep(120)\n", job_id=91_002,
        limits=JobLimits(seconds=2),
    )  # fmt: skip
    result = sandbox.run(job, folder / "run", folder / "log.txt", bpf)
    assert result.timed_out and result.exit_code is None and result.seconds < 20
    assert sandbox.group_name(job) not in cgroups.stale_groups()
    assert cgroups.procs(sandbox.group_name(job)) == []
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _uid(p) == job.uid]
    assert left == []


def test_when_a_job_leaves_a_link_to_a_host_file_then_root_never_follows_it(tmp_path, bpf):
    code = "import os\nos.symlink('/etc/shadow', '/job/output/metrics.json')\nos.mkfifo('/job/output/fifo')\n"
    job, folder = make_job(tmp_path, code, job_id=91_003)
    assert sandbox.run(job, folder / "run", folder / "log.txt", bpf).exit_code == 0
    found, skipped = outputs.listing(folder / "output")
    assert found == [] and sorted(skipped) == ["fifo", "metrics.json"]
    from hub.refusals import NotFound

    with pytest.raises(NotFound):
        outputs.read(folder / "output", "metrics.json")
    with pytest.raises(NotFound):
        outputs.read(folder / "output", "fifo")


def _uid(p: Path) -> int | None:
    try:
        return p.stat().st_uid
    except FileNotFoundError:
        return None


def test_when_a_job_writes_a_file_over_its_output_limit_then_the_write_fails(tmp_path, bpf):
    code = (
        "import errno\n"
        "try:\n"
        "    open('/job/output/big.bin', 'wb').write(b'x' * (3 << 20))\n"
        "except OSError as e:\n"
        "    print('refused', errno.errorcode[e.errno])\n"
    )
    job, folder = make_job(
        tmp_path, code, job_id=91_004, limits=JobLimits(seconds=60, output_bytes=1 << 20)
    )
    assert sandbox.run(job, folder / "run", folder / "log.txt", bpf).exit_code == 0
    assert "refused EFBIG" in (folder / "log.txt").read_text()
    assert (folder / "output" / "big.bin").stat().st_size <= 1 << 20


SPILL = """
import json, os, threading, time
from sdk import job

peak = [0]
def watch():  # how much of the scratch file system is used while the query runs
    while True:
        fs = os.statvfs("/job/scratch")
        peak[0] = max(peak[0], (fs.f_blocks - fs.f_bfree) * fs.f_frsize)
        time.sleep(0.02)

threading.Thread(target=watch, daemon=True).start()
con = job.connection()
n = con.sql("SELECT count(*), sum(rn) FROM (SELECT row_number() OVER (ORDER BY hash(i)) AS rn "
            "FROM range(20000000) t(i))").fetchall()[0][0]  # a sort of 20M rows: over 300 MiB
limit = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
tmp = sorted(os.listdir("/tmp"))
json.dump({"n": n, "peak": peak[0], "limit": limit, "tmp": tmp}, open(job.output("spill.json"), "w"))
"""


def test_when_a_query_outgrows_the_jobs_memory_then_duckdb_spills_to_its_scratch_disk(
    tmp_path, bpf
):
    limits = JobLimits(seconds=300, memory_bytes=512 << 20, scratch_bytes=2 << 30)
    job, folder = make_job(tmp_path, SPILL, job_id=91_005, limits=limits)
    result = sandbox.run(job, folder / "run", folder / "log.txt", bpf)
    assert result.exit_code == 0, (folder / "log.txt").read_text()[-2000:]
    seen = json.loads((folder / "output" / "spill.json").read_text())
    assert seen["n"] == 20_000_000 and seen["limit"].startswith("307")  # 60 % of 512 MiB
    assert seen["peak"] > 64 << 20 and seen["tmp"] == []  # on the scratch disk, not the RAM /tmp
    assert (
        not (folder / "run" / "scratch").exists() and not (folder / "run" / "scratch.img").exists()
    )


def test_when_a_job_has_scratch_space_but_no_file_system_for_it_then_bwrap_is_not_started(
    tmp_path,
):
    job, _ = make_job(tmp_path, "pass", limits=JobLimits(seconds=60, scratch_bytes=1 << 30))
    with pytest.raises(ValueError, match="scratch"):
        sandbox.bwrap_options(job, {}, "/srv/out")
    options = sandbox.bwrap_options(job, {}, "/srv/out", "/srv/scratch")
    at = options.index("/job/scratch")
    assert options[at - 2 : at] == ["--bind", "/srv/scratch"]
