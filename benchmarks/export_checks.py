"""All automated disclosure checks on a 1,000,000-row × 10-column export.

    .venv/bin/python -m benchmarks.export_checks [--rows 1000000]

The export looks like a row-level result computed on desensitized data: a pseudonym, district,
gender, age band, a month and five numbers. The raw medical_visits table (100,000 rows, as in the
demo) is the overlap check's reference, and one earlier release is the differencing check's.
Timed warm, as in the gateway: the detectors loaded and the raw identifiers cached.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hub.demo.datasets import generate, get_spec
from hub.review.checks import Context, RawSource, run_all


def export(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    districts = np.array(["上城区", "拱墅区", "西湖区", "滨江区", "萧山区", "余杭区", "临平区"])
    return pd.DataFrame(
        {
            "person": [f"P{x:016x}" for x in rng.integers(0, 2**62, rows)],
            "district": districts[rng.integers(0, len(districts), rows)],
            "gender": np.where(rng.random(rows) < 0.5, "男", "女"),
            "age_band": np.array(["20-29", "30-39", "40-49", "50-59", "60-69"])[
                rng.integers(0, 5, rows)
            ],
            "month": np.array([f"2024-{m:02d}" for m in range(1, 13)])[rng.integers(0, 12, rows)],
            **{f"value_{i}": np.round(rng.lognormal(4, 1, rows), 2) for i in range(5)},
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-checks-"))
    raw_path = folder / "medical_visits.parquet"
    generate("medical_visits", 100_000, seed=3).to_parquet(raw_path)
    spec = get_spec("medical_visits")
    source = RawSource(
        "medical_visits",
        str(raw_path),
        tuple(c.name for c in spec.columns if c.pii not in (None, "free_text", "name")),
        tuple(c.name for c in spec.columns if c.quasi),
    )
    frame = export(args.rows)
    released = frame.groupby(["district", "gender"]).size().reset_index(name="n")
    size = frame.memory_usage(deep=True).sum()
    ctx = Context(raw=(source,), releases=(released,), size_bytes=int(size))
    run_all(frame.head(100), ctx)  # warm, as the gateway is: detectors loaded, raw values cached
    start = time.perf_counter()
    findings = run_all(frame, ctx)
    total = time.perf_counter() - start
    print(f"{len(frame):,} rows × {len(frame.columns)} columns: all checks in {total:.2f} s")
    for f in findings:
        print(f"  {f.name:<13}{f.verdict:<6}{f.seconds:>7.2f} s   {f.reason.en[:90]}")


if __name__ == "__main__":
    main()
