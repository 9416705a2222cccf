"""A job's dry run on the samples, before anything goes to review.

``ws.jobs.submit(...)`` first runs the bundle exactly as the production zone will (its own
folder, the entrypoint by path, ``sdk.job`` finding its datasets, parameters and output folder
through the environment), but here in the workspace, on the desensitized samples, time-capped.
It shows per dataset the rows the code read, what it wrote and any error, so a typo, a file left
out of the bundle or a filter that keeps nothing is caught before a reviewer spends time on it.
A failing dry run stops the submission (``dry_run=False`` skips it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdk import html
from sdk.errors import InvalidRequest

if TYPE_CHECKING:
    from sdk.catalog import DatasetCollection

READS = "SHUYU_JOB_READS"  # where sdk.job notes what a dry run read
TAIL = 20  # lines of the error shown


@dataclass
class DryRun:
    """What the dry run saw: rows read per dataset, files written (rows for tables), metrics."""

    seconds: float
    read: dict[str, int] = field(default_factory=dict)
    wrote: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    log: str = ""

    def _repr_html_(self) -> str:
        rows = [("读取 read", name, f"{n} 行 rows") for name, n in sorted(self.read.items())]
        rows += [
            ("写出 wrote", w["name"], f"{w['rows']} 行 rows" if "rows" in w else f"{w['bytes']} B")
            for w in self.wrote
        ]
        if self.metrics is not None:
            rows.append(
                ("指标 metrics", "metrics.json", json.dumps(self.metrics, ensure_ascii=False))
            )
        caption = f"样本试运行 / dry run on the samples: {self.seconds:.1f} s"
        return html.table(["", "名称 Name", ""], rows, caption)


def dry_run(
    bundle: bytes,
    entrypoint: str,
    datasets: DatasetCollection,
    names: list[str],
    params: dict[str, Any],
    scenario: str | None,
    timeout: float,
) -> DryRun:
    """Run ``entrypoint`` of ``bundle`` on the samples of ``names``.

    Raises:
        InvalidRequest: the code failed or ran out of time (the job is not submitted).
    """
    with tempfile.TemporaryDirectory(prefix="shuyu-dry-run-") as tmp:
        root = Path(tmp)
        code, data, output = root / "code", root / "data", root / "output"
        for folder in (code, data, output, root / "scratch"):
            folder.mkdir()
        with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
            tar.extractall(code, filter="data")
        for name in names:
            datasets.get(name, scenario).sample(scenario).to_parquet(data / f"{name}.parquet")
        (root / "params.json").write_text(json.dumps(params, ensure_ascii=False))
        sdk_home = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(code), sdk_home]),
            "SHUYU_JOB_DATA": str(data),
            "SHUYU_JOB_OUTPUT": str(output),
            "SHUYU_JOB_PARAMS": str(root / "params.json"),
            "SHUYU_JOB_SCRATCH": str(root / "scratch"),
            READS: str(root / "reads.jsonl"),
            "MPLBACKEND": "Agg",
        }
        start = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, str(code / entrypoint)], cwd=code, env=env,
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise InvalidRequest(
                f"样本试运行超过 {timeout:.0f} 秒未结束，作业未提交（dry_run_timeout= 可放宽，"
                "dry_run=False 可跳过）",
                f"the dry run on the samples did not end within {timeout:.0f} s; the job was not "
                "submitted (raise dry_run_timeout=, or skip it with dry_run=False)",
                code="dry_run_failed",
            ) from None
        seconds = time.monotonic() - start
        log = (done.stdout + done.stderr)[-20_000:]
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-TAIL:])
            raise InvalidRequest(
                f"样本试运行失败（退出码 {done.returncode}），作业未提交：\n{tail}\n"
                "若仅因样本已脱敏（如标识被假名化）而失败，可用 dry_run=False 跳过试运行",
                f"the dry run on the samples failed (exit {done.returncode}); the job was not "
                f"submitted:\n{tail}\nIf it fails only because the samples are masked "
                "(pseudonymized identifiers), skip the dry run with dry_run=False",
                code="dry_run_failed",
            )
        return DryRun(
            seconds, _reads(root / "reads.jsonl"), _written(output), _metrics(output), log
        )


def _reads(path: Path) -> dict[str, int]:
    read: dict[str, int] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            read[entry["dataset"]] = read.get(entry["dataset"], 0) + int(entry["rows"])
    return read


def _written(output: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    found = []
    for path in sorted(p for p in output.rglob("*") if p.is_file()):
        entry: dict[str, Any] = {
            "name": path.relative_to(output).as_posix(),
            "bytes": path.stat().st_size,
        }
        if path.suffix == ".parquet":
            with contextlib.suppress(Exception):  # not readable as Parquet: shown by its size
                entry["rows"] = pq.ParquetFile(path).metadata.num_rows
        found.append(entry)
    return found


def _metrics(output: Path) -> dict[str, Any] | None:
    path = output / "metrics.json"
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except ValueError:
        return None
