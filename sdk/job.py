"""Helpers for code running as a training job in the production zone (not in the notebook).

::

    from sdk import job
    visits = job.dataset("credit_records")       # lazy: a DuckDB relation over the raw table
    frame = visits.filter("amount > 0").df()     # read (only these columns and rows) when asked
    by_month = job.sql("SELECT month, avg(amount) FROM credit_records GROUP BY 1")  # as on samples
    X = frame[["age", "income"]].astype("float32")
    model = lightgbm.LGBMClassifier(**job.params()).fit(X, frame["defaulted"])
    job.save_model(model, sample=X.head(100), target="defaulted")  # output/model.onnx, to publish
    job.save_metrics(rows=len(frame), auc=0.71)  # released to the notebook after checks

A table larger than the job's memory is scanned, grouped and joined by DuckDB, which pushes the
columns and filters asked for down to the Parquet scan, runs on the job's CPUs, keeps within a
share of its memory and spills the rest to the job's scratch folder; only what ``.df()`` (or
``job.sql``) returns is held by Python.

A job submitted with ``engine="spark"`` also gets ``job.spark()``, a Spark session on a cluster
of its own started in its sandbox (:mod:`sdk.spark`); the same SQL text runs on both engines.

Only the output folder (and the scratch folder) is writable; there is no network. DuckDB reads
the job's datasets and nothing else: no other file, no extension, no database to attach. Print
nothing personal: the log the notebook sees is masked, but the raw log stays in the domain for
auditors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyspark.sql

MEMORY_SHARE = 0.6  # of the job's memory limit for DuckDB: the rest is Python's (pandas, a model)
_connection: duckdb.DuckDBPyConnection | None = None
_tables: dict[str, list[Path]] = {}


def _env(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            "只能在生产区的训练作业中使用 / only available inside a training job in the production zone"
        )
    return Path(value)


def connection() -> duckdb.DuckDBPyConnection:
    """The job's one DuckDB connection, where each dataset is a view of its own name.

    It runs on the job's CPUs within :data:`MEMORY_SHARE` of its memory limit, spills to the
    job's scratch folder, and may read the job's datasets only: its configuration is locked, so
    the code cannot reopen file access or load an extension."""
    global _connection
    if _connection is None:
        from sdk import sql as duck

        data = _env("SHUYU_JOB_DATA")
        scratch = os.environ.get("SHUYU_JOB_SCRATCH") or os.environ.get("TMPDIR") or "/tmp"
        config: dict[str, Any] = {"temp_directory": str(Path(scratch) / "duckdb")}
        if os.environ.get("SHUYU_JOB_CPUS"):
            config["threads"] = max(1, int(float(os.environ["SHUYU_JOB_CPUS"])))
        if os.environ.get("SHUYU_JOB_MEMORY_BYTES"):
            share = int(int(os.environ["SHUYU_JOB_MEMORY_BYTES"]) * MEMORY_SHARE)
            config["memory_limit"] = f"{share >> 20}MiB"
        con = duck.connect(**config)
        con.execute("SET enable_progress_bar = false")  # the job's log is for what it prints
        tables = _datasets(data)
        for name, files in tables.items():
            listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listed}])')
        duck.confine(con, [str(data)])
        _tables.clear()
        _tables.update(tables)
        _connection = con
    return _connection


def close() -> None:
    """Close the job's DuckDB connection (the next :func:`dataset` or :func:`sql` opens one)."""
    global _connection
    if _connection is not None:
        _connection.close()
    _connection = None
    _tables.clear()


def _datasets(data: Path) -> dict[str, list[Path]]:
    """Each dataset of the job's data folder with its Parquet files: ``<name>.parquet`` is one
    file or a folder of parts (the production zone's copy of a large table)."""
    found = {}
    for path in sorted(data.glob("*.parquet")):
        parts = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        if parts:
            found[path.stem] = parts
    return found


def dataset(name: str, columns: list[str] | None = None) -> duckdb.DuckDBPyRelation:
    """The raw rows of an approved dataset, as a lazy DuckDB relation: nothing is read until
    the job asks (``.df()``, ``.fetchall()``, …), and then only the columns and rows it asked
    for (``columns``, ``.filter(...)``, ``.aggregate(...)`` are pushed down to the scan).

    Raises:
        InvalidRequest: the job was not given ``name``, or it has no such column.
    """
    from sdk import sql as duck
    from sdk.errors import InvalidRequest

    con = connection()
    if name not in _tables:
        shown = ", ".join(sorted(_tables)) or "—"
        raise InvalidRequest(
            f"作业没有数据集 {name}（可用：{shown}）",
            f"the job has no dataset {name} (it has: {shown})",
            code="sql",
        )
    listed = ", ".join('"' + c.replace('"', '""') + '"' for c in columns) if columns else "*"
    relation = duck.relation(con, f'SELECT {listed} FROM "{name}"', sorted(_tables))
    if os.environ.get("SHUYU_JOB_READS"):  # a dry run on the samples: count what it reads
        _note_read(name, relation.aggregate("count(*)").fetchall()[0][0])
    return relation


def _note_read(name: str, rows: int) -> None:
    """In a dry run on the samples, note what the code read (the workspace shows it)."""
    reads = os.environ.get("SHUYU_JOB_READS")
    if reads:
        with open(reads, "a") as f:
            f.write(json.dumps({"dataset": name, "rows": rows}) + "\n")


def sql(text: str) -> pd.DataFrame:
    """Run ``text`` (DuckDB SQL) over the raw approved columns of the job's datasets, each a
    table of its own name, on the job's connection: the text tried on the samples with
    ``ws.sql`` runs here unchanged, and may name a relation :func:`dataset` returned once it
    is a view (``job.dataset("loans").filter("amount > 0").create_view("big")``)."""
    from sdk import sql as duck

    con = connection()
    result = duck.run(con, text, sorted(_tables))
    if os.environ.get("SHUYU_JOB_READS"):
        for name in sorted(duck.tables_in(text) or set(_tables)):
            if name in _tables:
                _note_read(name, con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
    return result


def spark() -> pyspark.sql.SparkSession:
    """The Spark session of a job submitted with ``engine="spark"``: a cluster of the job's own
    (a master and its workers in the job's sandbox), each dataset a view of its own name over
    the approved columns, so ``job.spark().sql(text)`` runs the text ``job.sql`` runs on DuckDB
    (:mod:`sdk.spark`).

    Raises:
        RuntimeError: the job was not submitted with ``engine="spark"``.
    """
    from sdk import spark as spark_engine

    if os.environ.get("SHUYU_JOB_READS"):  # a dry run on the samples: no cluster here
        return spark_engine.DryRunSession(sql)  # type: ignore[return-value]
    return spark_engine.spark()


def params() -> dict[str, Any]:
    return json.loads(_env("SHUYU_JOB_PARAMS").read_text())


def output(name: str) -> Path:
    """A path in the job's output folder (the only writable place besides /tmp)."""
    path = _env("SHUYU_JOB_OUTPUT") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_metrics(**metrics: Any) -> Path:
    """Write ``metrics.json``; counts under the platform's minimum are suppressed on release."""
    path = output("metrics.json")
    path.write_text(json.dumps(metrics, ensure_ascii=False, default=float))
    return path


def save_model(
    model: Any,
    name: str = "model.onnx",
    *,
    sample: pd.DataFrame | None = None,
    target: str | None = None,
    key: dict | None = None,
    threshold: float | None = None,
) -> Path:
    """Write a model as ONNX (``shuyu-onnx/1``) for ``ws.models.publish``.

    A fitted scikit-learn pipeline, LightGBM or XGBoost model is converted with
    :func:`sdk.onnxmodel.convert`, which checks that ONNX predicts as the model does on ``sample``
    (a few training rows, e.g. ``X.head(100)``); an :class:`sdk.onnxmodel.OnnxModel` or the bytes
    of an ONNX file are checked with :func:`sdk.onnxmodel.load` and written as they are.

    Args:
        model: the fitted model, an ``OnnxModel``, or ONNX bytes.
        name: the file's name in the output folder.
        sample: rows like the training rows (needed to convert).
        target: the column the model predicts (needed to convert).
        key: ``{"dataset", "column"}`` for a model that answers by key.
        threshold: the probability at which the model answers yes (default 0.5).

    Raises:
        sdk.onnxmodel.ModelFormatError: the model cannot be converted, predicts differently in
            ONNX, or the file breaks the format's rules.
    """
    from sdk import onnxmodel

    if isinstance(model, bytes | bytearray):
        model = onnxmodel.load(bytes(model))
    elif not isinstance(model, onnxmodel.OnnxModel):
        if sample is None or target is None:
            raise onnxmodel.ModelFormatError(
                "转换模型需要 sample（几行训练数据）与 target（目标列名）",
                "converting a model needs sample (a few training rows) and target (its column)",
            )
        model = onnxmodel.convert(model, sample, target=target, key=key, threshold=threshold)
    path = output(name)
    path.write_bytes(model.content)
    return path
