"""A job's own Spark cluster, started inside the job's sandbox before its code runs.

The production zone runs a Spark job as ``python -m sdk.spark_cluster <entrypoint>`` inside the
job's bubblewrap sandbox, in a network namespace of its own whose only interface is loopback.
This launcher starts a standalone master and ``SHUYU_SPARK_WORKERS`` workers there (each a JVM
of its own, bound to 127.0.0.1), runs the job's code as a child process whose
``job.spark()`` (:mod:`sdk.spark`) connects to that master, then stops the cluster and exits with
the code's exit status. Nothing is shared with another job or tenant: the namespace, the
processes and the secret die with the job.

Every connection is authenticated with ``spark.authenticate`` and encrypted
(``spark.network.crypto.enabled``) under a secret the production service generates per job and
passes in the environment only (``SHUYU_SPARK_SECRET``; never on a command line or in a file).
The daemons' work and log folders are in the job's scratch folder, which the platform removes,
unread, after the run; their logs are not part of the job's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
MASTER_PORT = 7077
START_SECONDS = 90.0
DAEMON_MEMORY = "96m"  # heap of the master and of each worker daemon (they only schedule)
# Small JVMs: one GC thread, no shared perf file in /tmp, few compiler threads.
JVM_OPTIONS = "-XX:+UseSerialGC -XX:-UsePerfData -XX:ActiveProcessorCount=1 -XX:CICompilerCount=2"
SECRET_ENV = "SHUYU_SPARK_SECRET"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"  # Debian's openjdk-17-jre-headless
SPARK_SECRET_ENV = "_SPARK_AUTH_SECRET"  # where Spark's daemons read the secret


@dataclass(frozen=True)
class ClusterConfig:
    """What the launcher needs, read once from the job's environment."""

    workers: int
    executor_memory_mb: int
    scratch: Path
    secret: str
    host: str = HOST  # where this pod's daemons listen: loopback in the sandbox, the pod's IP
    master_host: str = HOST  # where the workers find the master
    local_workers: int | None = None  # workers started here (None: all of them)

    @property
    def master_url(self) -> str:
        return f"spark://{self.master_host}:{MASTER_PORT}"


def spark_home() -> Path:
    """Where pyspark keeps Spark's jars and scripts (in the shared, read-only environment)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def java_options() -> str:
    """Options of every JVM of the job. Temporary files stay in the RAM /tmp: the native
    libraries the JVMs unpack there (snappy, lz4, zstd) cannot be mapped from the scratch disk,
    which is mounted noexec; Spark's shuffle and spill files go to the scratch disk."""
    return f"{JVM_OPTIONS} -Djava.io.tmpdir=/tmp"


def security_options() -> str:
    """The ``-D`` options every daemon starts with: authentication, encryption, loopback."""
    return " ".join(
        [
            "-Dspark.authenticate=true",
            "-Dspark.network.crypto.enabled=true",
            "-Dspark.authenticate.enableSaslEncryption=true",
            "-Dspark.ui.reverseProxy=false",
            "-Dspark.master.rest.enabled=false",
        ]
    )


def daemon_env(config: ClusterConfig, base: dict[str, str]) -> dict[str, str]:
    """The daemons' environment: the job's, plus Spark's settings and the secret."""
    env = {k: v for k, v in base.items() if k != SECRET_ENV}
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOCAL_IP=config.host,
        SPARK_LOCAL_HOSTNAME="localhost",
        SPARK_CONF_DIR=str(config.scratch / "spark-conf"),
        SPARK_LOG_DIR=str(config.scratch / "spark-logs"),
        SPARK_LOCAL_DIRS=str(config.scratch / "spark-local"),
        SPARK_DAEMON_MEMORY=DAEMON_MEMORY,
        SPARK_DAEMON_JAVA_OPTS=f"{java_options()} {security_options()}",
        SPARK_NO_DAEMONIZE="1",
        PYSPARK_PYTHON=sys.executable,
    )
    env[SPARK_SECRET_ENV] = config.secret
    return env


def master_command(config: ClusterConfig) -> list[str]:
    return [
        str(spark_home() / "bin" / "spark-class"),
        "org.apache.spark.deploy.master.Master",
        "--host", config.host, "--port", str(MASTER_PORT), "--webui-port", "0",
    ]  # fmt: skip


def worker_command(config: ClusterConfig, index: int) -> list[str]:
    return [
        str(spark_home() / "bin" / "spark-class"),
        "org.apache.spark.deploy.worker.Worker",
        "--host", config.host, "--webui-port", "0", "--cores", "1",
        "--memory", f"{config.executor_memory_mb + 64}m",
        "--work-dir", str(config.scratch / "spark-work" / f"worker-{index}"),
        config.master_url,
    ]  # fmt: skip


def read_config(env: dict[str, str]) -> ClusterConfig:
    """The cluster's size from the job's environment (the platform sets it from the policy).

    On Kubernetes (:mod:`spawner.kubernetes_spark`) the driver pod starts the master and no
    worker (``SHUYU_SPARK_LOCAL_WORKERS=0``), each executor pod one worker, which finds the
    master through the job's Service (``SHUYU_SPARK_MASTER_SERVICE``: the variable prefix of
    the Service's ``*_SERVICE_HOST`` that Kubernetes sets); both listen on the pod's IP
    (``SHUYU_SPARK_HOST``)."""
    scratch = env.get("SHUYU_JOB_SCRATCH")
    secret = env.get(SECRET_ENV)
    if not scratch or not secret:
        raise RuntimeError(
            "只能在生产区的 Spark 作业中使用 / only available inside a Spark job in the production zone"
        )
    return ClusterConfig(
        workers=max(1, int(env.get("SHUYU_SPARK_WORKERS", "2"))),
        executor_memory_mb=max(512, int(env.get("SHUYU_SPARK_EXECUTOR_MB", "512"))),
        scratch=Path(scratch),
        secret=secret,
        host=env.get("SHUYU_SPARK_HOST", HOST),
        master_host=_master_host(env),
        local_workers=int(env["SHUYU_SPARK_LOCAL_WORKERS"])
        if "SHUYU_SPARK_LOCAL_WORKERS" in env
        else None,
    )


def _master_host(env: dict[str, str]) -> str:
    service = env.get("SHUYU_SPARK_MASTER_SERVICE")
    if service:
        return env[f"{service}_SERVICE_HOST"]
    return env.get("SHUYU_SPARK_HOST", HOST)


def _wait_port(host: str, port: int, procs: list[subprocess.Popen], deadline: float) -> None:
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("the Spark master stopped while starting")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError("the Spark master did not start in time")


def start(config: ClusterConfig, env: dict[str, str]) -> list[subprocess.Popen]:
    """Start the master, wait for its port, then the workers; returns the daemons."""
    for sub in ("spark-conf", "spark-logs", "spark-work", "spark-local"):
        (config.scratch / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    denv = daemon_env(config, env)
    procs: list[subprocess.Popen] = []
    deadline = time.monotonic() + START_SECONDS
    with open(config.scratch / "spark-logs" / "master.log", "ab") as log:
        procs.append(_spawn(master_command(config), denv, log))
    try:
        _wait_port(config.host, MASTER_PORT, procs, deadline)
    except RuntimeError:
        stop(procs)
        tail = (config.scratch / "spark-logs" / "master.log").read_text(errors="replace")
        print("\n".join(tail.splitlines()[-15:]), file=sys.stderr)
        raise
    for i in range(config.workers if config.local_workers is None else config.local_workers):
        with open(config.scratch / "spark-logs" / f"worker-{i}.log", "ab") as log:
            procs.append(_spawn(worker_command(config, i), denv, log))
    return procs


def _spawn(cmd: list[str], env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop(procs: list[subprocess.Popen], grace: float = 5.0) -> None:
    """Stop the daemons (workers first), killing what outlives ``grace`` seconds."""
    for proc in reversed(procs):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main(argv: list[str]) -> int:
    """``python -m sdk.spark_cluster ENTRYPOINT``: cluster up, the code, cluster down;
    ``python -m sdk.spark_cluster --worker``: one worker in the foreground (an executor pod)."""
    if len(argv) != 2:
        print("usage: python -m sdk.spark_cluster ENTRYPOINT|--worker", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("JAVA_HOME", JAVA_HOME)  # /usr/bin/java is a link through /etc/alternatives
    config = read_config(env)
    if argv[1] == "--worker":
        for sub in ("spark-conf", "spark-logs", "spark-work", "spark-local"):
            (config.scratch / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        return subprocess.run(worker_command(config, 0), env=daemon_env(config, env)).returncode
    procs = start(config, env)
    try:
        job_env = {**env, "SHUYU_SPARK_MASTER": config.master_url, "SPARK_LOCAL_IP": config.host,
                   "PYSPARK_PYTHON": sys.executable}  # fmt: skip
        return subprocess.run([sys.executable, argv[1]], env=job_env, check=False).returncode
    finally:
        stop(procs)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
