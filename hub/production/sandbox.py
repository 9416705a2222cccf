"""Run one approved job in its production sandbox with bubblewrap (see :mod:`spawner.job_policy`).

``launch → bwrap → setpriv → python entrypoint``: the launcher joins the job's cgroups (memory, CPU,
process count), bubblewrap gives it private network (only its own loopback: nothing else is
reachable), pid, ipc and uts namespaces and a read-only view of the system with its raw inputs and
code read-only and its output folder writable; setpriv drops it to the job's own uid with no
capability and no new privileges; the workspace seccomp filter applies. Wall time is enforced here.

The output folder the job writes is a file system of its own (:mod:`spawner.volumes`): an image
of ``output_bytes``, allocated in full before the job starts, so the job can neither fill the
platform's disk nor signal through its free-block count; its contents are copied out (links never
followed) and the image removed when the job ends. Its scratch folder (``/job/scratch``, where
DuckDB spills what does not fit its memory) is another such image of ``scratch_bytes``, on disk
rather than in the RAM /tmp that counts against the job's memory, seen by that job alone and
removed, unread, when it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from hub.production import spark
from spawner import cgroups, volumes
from spawner.job_policy import JOB_CODE, Job
from spawner.policy import Limits
from spawner.sandbox import LAUNCHER, PRIVATE, SETPRIV_DROP, mount_args

NAMESPACES = ("--unshare-net", *PRIVATE)  # a network namespace of its own: only its loopback


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    timed_out: bool
    seconds: float


def group_name(job: Job) -> str:
    return f"job-{job.job_id}"


def bwrap_options(
    job: Job, files: dict[str, str], output: str | None = None, scratch: str | None = None
) -> list[str]:
    """bubblewrap's options for ``job`` (pure): no network, its mounts, read-only elsewhere;
    ``output`` replaces the host folder mounted as the job's output folder, ``scratch`` is the
    host folder of its scratch space (a job with a scratch mount and no ``scratch`` is refused)."""
    sources = {"output": output, "scratch": scratch}
    mounts = tuple(
        replace(m, source=sources[m.kind]) if sources.get(m.kind) else m for m in job.mounts
    )
    if any(m.kind == "scratch" and not scratch for m in mounts):
        raise ValueError("the job's scratch folder needs a file system of its own")
    return [
        *NAMESPACES, "--hostname", "job", *mount_args(mounts, files),
        "--chdir", JOB_CODE, "--remount-ro", "/",
    ]  # fmt: skip


def output_volume(job: Job, run_dir: Path) -> volumes.Volume:
    """The job's output file system: ``output_bytes`` (at least the smallest volume)."""
    return _volume(job, run_dir, "output", job.limits.output_bytes)


def scratch_volume(job: Job, run_dir: Path) -> volumes.Volume | None:
    """The job's scratch file system (``scratch_bytes``), or None when it has none."""
    return (
        _volume(job, run_dir, "scratch", job.limits.scratch_bytes)
        if job.limits.scratch_bytes
        else None
    )


def _volume(job: Job, run_dir: Path, name: str, size: int) -> volumes.Volume:
    """A file system of the job's own under ``run_dir``, owned by its uid, not executable."""
    return volumes.Volume(
        image=run_dir / f"{name}.img",
        mountpoint=run_dir / name,
        size=max(size, volumes.MIN_BYTES),
        uid=job.uid,
        gid=job.gid,
        options=volumes.JOB_OPTIONS,
    )


def prepare(job: Job, run_dir: Path) -> dict[str, str]:
    """Owners and modes the job needs: its output folder its own, raw inputs readable by the
    production group only, code and parameters world-readable inside the sandbox. Returns the
    identity files to mount."""
    os.chown(job.output_dir, job.uid, job.gid)
    os.chmod(job.output_dir, 0o700)
    for item in job.inputs:  # a file, or a folder of Parquet part files
        os.chown(item.source, 0, job.gid)
        if os.path.isdir(item.source):
            os.chmod(item.source, 0o750)
            for entry in os.scandir(item.source):
                os.chown(entry.path, 0, job.gid, follow_symlinks=False)
                os.chmod(entry.path, 0o640, follow_symlinks=False)
        else:
            os.chmod(item.source, 0o640)
    for folder, _, names in os.walk(job.code_dir):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o644)
    os.chmod(job.params_file, 0o644)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (run_dir / "passwd").write_text(f"job:x:{job.uid}:{job.gid}:Shuyu job:/tmp:/usr/sbin/nologin\n")
    (run_dir / "group").write_text(f"production:x:{job.gid}:\n")
    files = {"/etc/passwd": str(run_dir / "passwd"), "/etc/group": str(run_dir / "group")}
    if job.limits.engine == "spark":  # its cluster resolves localhost and its own host name
        (run_dir / "hosts").write_text("127.0.0.1 localhost job\n")
        files["/etc/hosts"] = str(run_dir / "hosts")
    return files


def run(job: Job, run_dir: Path, log_path: Path, seccomp_filter: Path) -> RunResult:
    """Run ``job`` to its end or its wall-time limit; stdout and stderr go to ``log_path``."""
    files = prepare(job, run_dir)
    name = group_name(job)
    limits = Limits(
        memory_bytes=job.limits.memory_bytes, cpus=job.limits.cpus, pids=job.limits.pids
    )
    volume = output_volume(job, run_dir)
    scratch = scratch_volume(job, run_dir)
    volumes.mount(volume)
    if scratch is not None:
        volumes.mount(scratch)
    groups = cgroups.create(name, limits)
    filter_fd = os.open(seccomp_filter, os.O_RDONLY)
    env = {**job.env, **spark.secret_env(job)}  # a Spark job's secret: this run's only
    args_r, args_w = os.pipe()
    start = time.monotonic()
    try:
        options = [
            *bwrap_options(job, files, str(volume.mountpoint), scratch and str(scratch.mountpoint)),
            "--seccomp",
            str(filter_fd),
        ]
        os.write(args_w, b"".join(a.encode() + b"\0" for a in options))
        os.close(args_w)
        # No file the job writes may outgrow the volume it may write it to: its output limit (the
        # total is checked after the run), or its scratch space when that is larger (a spill).
        largest = max(job.limits.output_bytes, job.limits.scratch_bytes)
        fsize = ["prlimit", f"--fsize={largest}", "--"]
        inside = [
            *fsize,
            "setpriv",
            f"--reuid={job.uid}",
            f"--regid={job.gid}",
            *SETPRIV_DROP,
            *job.argv,
        ]
        launch = [sys.executable, "-I", "-S", LAUNCHER, *map(str, groups), "--"]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [*launch, "bwrap", "--args", str(args_r), "--", *inside],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd="/",
                pass_fds=(args_r, filter_fd),
            )
        os.close(args_r)
        args_r = -1
        try:
            code: int | None = proc.wait(timeout=job.limits.seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            cgroups.kill_all(name)
            proc.wait()
            code, timed_out = None, True
        cgroups.kill_all(name)  # nothing of the job may write while its outputs are copied
        left = volumes.copy_out(
            volume.mountpoint, Path(job.output_dir), job.limits.output_bytes, job.uid, job.gid
        )
        if left:
            with open(log_path, "a") as log:
                log.write(f"[platform] {len(left)} output(s) over the output limit were not kept\n")
    finally:
        os.close(filter_fd)
        if args_r >= 0:
            os.close(args_r)
        spark.redact(log_path, env)
        cgroups.remove(name)
        volumes.remove(volume)
        if scratch is not None:
            volumes.remove(scratch)
    return RunResult(code, timed_out, round(time.monotonic() - start, 3))
