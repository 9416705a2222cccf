"""``job.spark()``: the Spark session of a job that asked for ``engine="spark"``.

The production zone started the job's own standalone cluster in the job's sandbox
(:mod:`sdk.spark_cluster`); this connects the job's driver to it, authenticated and encrypted
with the job's secret, with no UI, its scratch files in the job's scratch folder, and each of
the job's datasets a temporary view of its own name over the job's projected Parquet files (the
approved columns only; the raw store is not in the sandbox)::

    from sdk import job
    spark = job.spark()
    by_department = spark.sql("SELECT department, count(*) AS n FROM visits GROUP BY 1").toPandas()
    same = job.sql("SELECT department, count(*) AS n FROM visits GROUP BY 1")  # DuckDB, same text
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdk.spark_cluster import SECRET_ENV, java_options

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

_session: SparkSession | None = None
DRIVER_MEMORY_MB = 512


def session_config(env: dict[str, str]) -> dict[str, str]:
    """The driver's settings (pure): the job's master, secret, sizes and scratch folder."""
    master, secret = env.get("SHUYU_SPARK_MASTER"), env.get(SECRET_ENV)
    scratch = env.get("SHUYU_JOB_SCRATCH")
    if not master or not secret or not scratch:
        raise RuntimeError(
            '只能在生产区的 Spark 作业中使用（提交时 engine="spark"）/ only available inside a '
            'production job submitted with engine="spark"'
        )
    workers = max(1, int(env.get("SHUYU_SPARK_WORKERS", "2")))
    executor_mb = max(512, int(env.get("SHUYU_SPARK_EXECUTOR_MB", "512")))
    java = java_options()
    return {
        "spark.master": master,
        "spark.app.name": f"shuyu-job-{env.get('SHUYU_JOB_ID', '0')}",
        "spark.authenticate": "true",
        "spark.authenticate.secret": secret,
        "spark.network.crypto.enabled": "true",
        "spark.io.encryption.enabled": "true",  # shuffle and spill files on the scratch disk
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.eventLog.enabled": "false",
        "spark.driver.host": env.get("SHUYU_SPARK_HOST", "127.0.0.1"),
        "spark.driver.bindAddress": env.get("SHUYU_SPARK_HOST", "127.0.0.1"),
        "spark.local.dir": str(Path(scratch) / "spark-local"),
        "spark.sql.warehouse.dir": str(Path(scratch) / "spark-warehouse"),
        "spark.sql.catalogImplementation": "in-memory",
        "spark.jars.ivy": str(Path(scratch) / "ivy"),
        "spark.driver.memory": f"{DRIVER_MEMORY_MB}m",
        "spark.driver.extraJavaOptions": java,
        "spark.executor.memory": f"{executor_mb}m",
        "spark.executor.cores": "1",
        "spark.executor.extraJavaOptions": java,
        "spark.cores.max": str(workers),
        "spark.sql.shuffle.partitions": str(2 * workers),
        "spark.sql.session.timeZone": "UTC",
        # pandas writes nanosecond timestamps, which Spark reads only as integers (see _read)
        "spark.sql.legacy.parquet.nanosAsLong": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": "60s",
        "spark.pyspark.python": env.get("PYSPARK_PYTHON", "python3"),
    }


def datasets(data: Path) -> dict[str, list[str]]:
    """Each dataset of the job's data folder with its projected Parquet files."""
    found = {}
    for path in sorted(data.glob("*.parquet")):
        parts = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        if parts:
            found[path.stem] = [str(p) for p in parts]
    return found


def nanosecond_columns(path: str) -> list[tuple[str, bool]]:
    """The columns of a Parquet file stored as nanosecond timestamps (pandas writes them),
    each with whether it is zone-aware: Spark cannot read them as timestamps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return [
        (f.name, f.type.tz is not None)
        for f in pq.read_schema(path)
        if pa.types.is_timestamp(f.type) and f.type.unit == "ns"
    ]


def _read(session: SparkSession, files: list[str]) -> Any:
    """A dataset's files as a DataFrame: nanosecond timestamps, which Spark reads as integers
    (``nanosAsLong``), become microsecond timestamps again, naive ones without a zone (as
    DuckDB and pandas read them)."""
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's own spelling

    frame = session.read.parquet(*files)
    nanos = dict(nanosecond_columns(files[0]))
    if not nanos:
        return frame
    columns = []
    for name in frame.columns:
        if name in nanos:
            quoted = "`" + name.replace("`", "``") + "`"
            value = F.expr(f"timestamp_micros({quoted} div 1000)")
            columns.append((value if nanos[name] else value.cast("timestamp_ntz")).alias(name))
        else:
            columns.append(F.col("`" + name.replace("`", "``") + "`"))
    return frame.select(*columns)


def spark() -> SparkSession:
    """The job's Spark session (one per job), with each dataset a view of its own name.

    Raises:
        RuntimeError: outside a production job submitted with ``engine="spark"``.
    """
    global _session
    if _session is None:
        env = dict(os.environ)
        config = session_config(env)
        from pyspark.sql import SparkSession

        # pyspark 4.3 warns at every toPandas() that it is not yet tested with pandas 3; the
        # job's log is for what the job prints.
        warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)

        builder: Any = SparkSession.builder
        for key, value in config.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        for name, files in datasets(Path(env.get("SHUYU_JOB_DATA", "/data"))).items():
            _read(session, files).createOrReplaceTempView(name)
        _session = session
    return _session


def stop() -> None:
    """Stop the job's session (the launcher stops the cluster when the code ends)."""
    global _session
    if _session is not None:
        _session.stop()
    _session = None


class DryRunResult:
    """What ``DryRunSession.sql`` returns: the answer DuckDB gave on the samples."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def toPandas(self) -> pd.DataFrame:  # noqa: N802 - pyspark's name
        return self._frame


class DryRunSession:
    """``job.spark()`` in the workspace's dry run: no cluster runs there, so ``sql`` answers
    the same text with DuckDB on the samples (the text runs unchanged on both engines); any
    other Spark call is refused with a clear message rather than a stack trace."""

    def __init__(self, run_sql: Callable[[str], pd.DataFrame]) -> None:
        self._run_sql = run_sql

    def sql(self, text: str) -> DryRunResult:
        return DryRunResult(self._run_sql(text))

    def __getattr__(self, name: str) -> Any:
        from sdk.errors import InvalidRequest

        raise InvalidRequest(
            f"试运行只支持 job.spark().sql(...)；{name} 请以 dry_run=False 提交",
            f"the dry run supports job.spark().sql(...) only; for {name}, submit with dry_run=False",
            code="dry_run",
        )
