"""What the production zone adds on the host for a Spark job (``engine="spark"``): the JVM's
configuration folder in its sandbox, and its cluster's secret.

The secret (``spark.authenticate``) is one per run and never stored.
The runner draws it when the job starts and hands it to the sandbox in the job's environment
only (:mod:`sdk.spark_cluster` gives it to the daemons, :mod:`sdk.spark` to the driver); it is
in no run record, file or command line outside the sandbox. Should the job's code print it, it
is cut from the raw log before the release gate reads the log, so the tenant never sees it; it
is worthless after the run anyway, as the cluster and its network namespace are gone.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sdk import spark_cluster
from sdk.spark_cluster import SECRET_ENV
from spawner.job_policy import Job

REDACTED = b"[spark secret removed]"
JAVA_HOME = Path(spark_cluster.JAVA_HOME)


def java_paths(engine: str, java_home: Path = JAVA_HOME) -> tuple[str, ...]:
    """Host folders a Spark job's sandbox needs besides ``/usr``: the JVM's configuration, which
    Debian keeps in /etc (``jvm.cfg``, ``security/java.security``) behind links from the JDK."""
    if engine != "spark":
        return ()
    target = Path(os.path.realpath(java_home / "lib" / "jvm.cfg")).parent
    return (str(target),) if not target.is_relative_to("/usr") else ()


def secret_env(job: Job) -> dict[str, str]:
    """``{SHUYU_SPARK_SECRET: …}`` for a Spark job (256 fresh random bits), else nothing."""
    return {SECRET_ENV: secrets.token_hex(32)} if job.limits.engine == "spark" else {}


def redact(log_path: Path, env: dict[str, str]) -> None:
    """Cut the job's secret out of its raw log (a no-op for jobs without one)."""
    secret = env.get(SECRET_ENV)
    if not secret or not log_path.exists():
        return
    content = log_path.read_bytes()
    if secret.encode() in content:
        log_path.write_bytes(content.replace(secret.encode(), REDACTED))
