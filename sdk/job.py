"""Helpers for code running as a training job in the production zone (not in the notebook).

::

    from sdk import job
    frame = job.dataset("credit_records")        # the full raw table, read-only
    by_month = job.sql("SELECT month, avg(amount) FROM credit_records GROUP BY 1")  # as on samples
    params = job.params()
    model = modelfile.fit_logistic(frame, ["age", "income"], "defaulted", l2=params.get("l2", 1.0))
    job.save_model(model)                        # output/model.json, for ws.models.publish
    job.save_metrics(rows=len(frame), auc=0.71)  # released to the notebook after checks

Only the output folder is writable; there is no network. Print nothing personal: the log the
notebook sees is masked, but the raw log stays in the domain for auditors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd


def _env(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            "只能在生产区的训练作业中使用 / only available inside a training job in the production zone"
        )
    return Path(value)


def dataset(name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The raw rows of an approved dataset."""
    frame = pd.read_parquet(_env("SHUYU_JOB_DATA") / f"{name}.parquet", columns=columns)
    _note_read(name, len(frame))
    return frame


def _note_read(name: str, rows: int) -> None:
    """In a dry run on the samples, note what the code read (the workspace shows it)."""
    reads = os.environ.get("SHUYU_JOB_READS")
    if reads:
        with open(reads, "a") as f:
            f.write(json.dumps({"dataset": name, "rows": rows}) + "\n")


def sql(text: str) -> pd.DataFrame:
    """Run ``text`` (DuckDB SQL) over the raw approved columns of the job's datasets, each a
    table of its own name: the text tried on the samples with ``ws.sql`` runs here unchanged."""
    from sdk import sql as duck

    data = _env("SHUYU_JOB_DATA")
    files = {p.stem: p for p in sorted(data.glob("*.parquet"))}
    con = duck.connect(temp_directory=str(Path(os.environ.get("TMPDIR", "/tmp")) / "duckdb"))
    try:
        for name, path in files.items():
            literal = str(path).replace("'", "''")
            con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{literal}')")
        result = duck.run(con, text, sorted(files))
        if os.environ.get("SHUYU_JOB_READS"):
            for name in sorted(duck.tables_in(text) or set(files)):
                if name in files:
                    _note_read(name, con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
        return result
    finally:
        con.close()


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
