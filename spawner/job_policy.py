"""The production zone's policy for one training job, as plain data.

An approved job runs its reviewed code on the full raw data of the datasets it was approved for,
in a sandbox of its own (never the tenant's container): the raw files and the code read-only, only
its output folder writable, a private /tmp, a disk-backed scratch folder of its own to spill to
(``/job/scratch``, when its limits give it one), no network at all, CPU, memory, process and wall-time
limits, an unprivileged uid of its own. A job with ``engine="spark"`` runs the same way, its code
started by :mod:`sdk.spark_cluster` after a Spark cluster of its own on the namespace's loopback,
the only interface it has. The bubblewrap runner (:mod:`hub.production.sandbox`) and
the Kubernetes Job rendering (:mod:`spawner.kubernetes_job`) both render this one decision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from spawner.policy import Mount, cpu_env

JOB_UID_BASE = 300_000  # job uids: above tenant uids (200_000 + tenant id), one per job
JOB_UID_SPAN = 100_000
PRODUCTION_GID = 299_999  # the group that may read raw files; no tenant uid ever has it
JOB_ROOT = "/job"
JOB_CODE = f"{JOB_ROOT}/code"
JOB_OUTPUT = f"{JOB_ROOT}/output"
JOB_PARAMS = f"{JOB_ROOT}/params.json"
JOB_SCRATCH = f"{JOB_ROOT}/scratch"
JOB_DATA = "/data"
ENGINES = ("duckdb", "spark")  # DuckDB in the job's process; Spark: a cluster of the job's own
SPARK_LAUNCHER = "sdk.spark_cluster"  # starts the job's Spark cluster, then runs its code
SPARK_EXECUTOR_MB = 512  # each worker's one executor (Spark's floor is 450 MiB)
SPARK_PIDS = 2048  # the JVMs' threads count against the job's process limit
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class JobLimits:
    """What one job may use. ``seconds`` is wall time; ``output_bytes`` caps its outputs;
    ``scratch_bytes`` sizes its disk-backed scratch folder (0: none, only the RAM /tmp).
    ``engine`` is where its SQL runs: ``duckdb`` (in its process) or ``spark`` (a standalone
    cluster of ``workers`` workers started for the job alone, inside its sandbox; its JVMs
    count against the same memory, CPU and process limits)."""

    cpus: float = 1.0
    memory_bytes: int = 2 * 1024**3
    seconds: int = 3600
    pids: int = 64
    output_bytes: int = 1 << 30
    scratch_bytes: int = 0
    engine: str = "duckdb"
    workers: int = 0


@dataclass(frozen=True)
class JobInput:
    """A raw dataset a job reads: the host file, or folder of Parquet part files, and where the
    job sees it (a folder keeps the ``.parquet`` name, as Spark's datasets do)."""

    name: str
    source: str

    @property
    def target(self) -> str:
        return f"{JOB_DATA}/{self.name}.parquet"


@dataclass(frozen=True)
class Job:
    """Everything a runner needs to start one approved job."""

    job_id: int
    tenant: str
    uid: int
    gid: int
    entrypoint: str  # relative to the code folder
    code_dir: str  # host folder of the unpacked, reviewed bundle
    output_dir: str  # host folder the job may write
    params_file: str  # host file of the approved parameters (JSON)
    inputs: tuple[JobInput, ...]
    limits: JobLimits
    mounts: tuple[Mount, ...]
    env: Mapping[str, str]
    argv: tuple[str, ...]


def job_uid(job_id: int) -> int:
    """A uid of the job's own: no tenant and no concurrent job shares it."""
    if job_id <= 0:
        raise ValueError("job ids are positive")
    return JOB_UID_BASE + job_id % JOB_UID_SPAN


def safe_entrypoint(entrypoint: str) -> str:
    """``entrypoint`` if it names a Python file inside the bundle; ValueError otherwise."""
    path = PurePosixPath(entrypoint)
    if path.is_absolute() or ".." in path.parts or path.suffix != ".py" or not path.name[:-3]:
        raise ValueError(f"the entrypoint must be a .py file inside the bundle: {entrypoint!r}")
    return str(path)


def job_env(job_id: int, limits: JobLimits) -> dict[str, str]:
    """The job's whole environment: where its inputs and outputs are, nothing of the platform."""
    threads = str(max(1, int(limits.cpus)))
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": JOB_CODE,
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        **cpu_env(limits.cpus),
        "SHUYU_JOB_ID": str(job_id),
        "SHUYU_JOB_DATA": JOB_DATA,
        "SHUYU_JOB_OUTPUT": JOB_OUTPUT,
        "SHUYU_JOB_PARAMS": JOB_PARAMS,
        # What the platform gives the job, so its engines (DuckDB) stay within it and spill
        "SHUYU_JOB_CPUS": threads,
        "SHUYU_JOB_MEMORY_BYTES": str(limits.memory_bytes),
        **({"SHUYU_JOB_SCRATCH": JOB_SCRATCH} if limits.scratch_bytes else {}),
        **(spark_env(limits) if limits.engine == "spark" else {}),
    }


def spark_env(limits: JobLimits) -> dict[str, str]:
    """The size of a Spark job's cluster (the secret is added by the runner, never here)."""
    return {
        "SHUYU_JOB_ENGINE": "spark",
        "SHUYU_SPARK_WORKERS": str(limits.workers),
        "SHUYU_SPARK_EXECUTOR_MB": str(SPARK_EXECUTOR_MB),
    }


def job_argv(python: str, entry: str, engine: str) -> tuple[str, ...]:
    """The job's command: its entrypoint, or the Spark launcher running it."""
    if engine == "spark":
        return (python, "-m", SPARK_LAUNCHER, f"{JOB_CODE}/{entry}")
    return (python, f"{JOB_CODE}/{entry}")


def job_mounts(
    *, code_dir: str, output_dir: str, params_file: str, inputs: tuple[JobInput, ...],
    system: tuple[str, ...], scratch: bool = False,
) -> tuple[Mount, ...]:  # fmt: skip
    """System paths, code, parameters and raw inputs read-only; the output folder writable, and
    the scratch folder (its source is the runner's: a file system of the job's own)."""
    mounts = [Mount(p, p, True, "system") for p in system]
    mounts += [
        Mount(code_dir, JOB_CODE, True, "code"),
        Mount(params_file, JOB_PARAMS, True, "params"),
    ]
    mounts += [Mount(i.source, i.target, True, "data") for i in inputs]
    mounts += [
        Mount(output_dir, JOB_OUTPUT, False, "output"),
        Mount("tmpfs", "/tmp", False, "tmpfs"),
    ]
    if scratch:
        mounts.append(Mount("scratch", JOB_SCRATCH, False, "scratch"))
    return tuple(mounts)


def build_job(
    *,
    job_id: int,
    tenant: str,
    entrypoint: str,
    code_dir: str,
    output_dir: str,
    params_file: str,
    inputs: Mapping[str, str],
    limits: JobLimits,
    system_paths: tuple[str, ...],
    python: str,
) -> Job:
    """Decide the whole sandbox of one job; ``inputs`` maps dataset name → host raw file."""
    entry = safe_entrypoint(entrypoint)
    if limits.engine not in ENGINES:
        raise ValueError(f"unknown engine {limits.engine!r}")
    if limits.engine == "spark" and (limits.workers < 1 or not limits.scratch_bytes):
        raise ValueError("a Spark job needs at least one worker and a scratch folder")
    for name in inputs:
        if not _NAME.fullmatch(name):
            raise ValueError(f"unsafe dataset name {name!r}")
    found = tuple(JobInput(n, src) for n, src in sorted(inputs.items()))
    return Job(
        job_id=job_id,
        tenant=tenant,
        uid=job_uid(job_id),
        gid=PRODUCTION_GID,
        entrypoint=entry,
        code_dir=code_dir,
        output_dir=output_dir,
        params_file=params_file,
        inputs=found,
        limits=limits,
        mounts=job_mounts(
            code_dir=code_dir,
            output_dir=output_dir,
            params_file=params_file,
            inputs=found,
            system=system_paths,
            scratch=limits.scratch_bytes > 0,
        ),  # fmt: skip
        env=job_env(job_id, limits),
        argv=job_argv(python, entry, limits.engine),
    )
