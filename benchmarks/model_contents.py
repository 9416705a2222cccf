"""The model-contents scan (:mod:`hub.review.model_contents`) on honest models, timed, with its
false alarms counted.

    .venv/bin/python -m benchmarks.model_contents [--people 100000]

The raw data holds ``--people`` resident ID numbers and as many mobile numbers; the models are a
2,000-weight linear model and 5,000-entry lookup tables of the kinds an honest job writes (short
integers, two-decimal probabilities, single digits, 0/1, four-digit amounts). Target: each scan
under 5 s on 2 cores, and no false alarm. Measured (December 2026, 6 draws): 1–2 s a scan; one
chance alarm in six on the table of 5,000 three-digit integers (its values, zeros put back,
spell one of the 100,000 mobiles), none elsewhere.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from hub.review.model_contents import model_numbers, raw_identifiers
from sdk.modelfile import FORMAT, load


def _people(n: int, rng) -> pd.DataFrame:
    ids = [
        f"{rng.integers(110000, 660000)}{rng.integers(1950, 2005)}{rng.integers(1, 13):02d}"
        f"{rng.integers(1, 29):02d}{rng.integers(0, 9999):04d}"
        for _ in range(n)
    ]
    mobiles = [f"1{rng.choice([3, 5, 8])}{rng.integers(0, 10**9):09d}" for _ in range(n)]
    return pd.DataFrame({"id": ids, "mobile": mobiles})


def _models(rng) -> dict[str, dict]:
    cats = [f"c{i}" for i in range(1998)]
    linear = {"format": FORMAT, "kind": "linear", "target": "y", "features": ["a", "b"],
              "encoders": {"a": {"type": "standard", "mean": 45.3, "std": 12.1},
                           "b": {"type": "onehot", "categories": cats}},
              "weights": rng.normal(0, 1, 1999).tolist(), "intercept": 0.3}  # fmt: skip
    tables = {
        "short integers": [float(v) for v in rng.integers(100, 999, 5000)],
        "probabilities": [round(float(v), 2) for v in rng.uniform(0, 1, 5000)],
        "digits": [float(v) for v in rng.integers(0, 10, 5000)],
        "amounts": [round(float(v), 2) for v in rng.uniform(100, 9999, 5000)],
        "zeros and ones": [float(v) for v in rng.integers(0, 2, 5000)],
    }
    out = {"linear, 2,000 weights": linear}
    for name, values in tables.items():
        out[f"lookup, {name}"] = {
            "format": FORMAT, "kind": "lookup", "target": "y", "features": ["a"], "output": "value",
            "table": {"keys": [[str(i)] for i in range(len(values))], "values": values},
            "default": 1.0,
        }  # fmt: skip
    return out


def main(people: int = 100_000) -> None:
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    identifiers = raw_identifiers([_people(people, rng)])
    print(f"raw identifiers: {len(identifiers):,} in {time.perf_counter() - start:.2f} s")
    for name, spec in _models(rng).items():
        start = time.perf_counter()
        finding = model_numbers(load(spec), {}, identifiers)
        print(f"{name:32s} {finding.verdict:5s} matches={finding.details['matches']:<3d} "
              f"{time.perf_counter() - start:.2f} s")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    main(parser.parse_args().people)
