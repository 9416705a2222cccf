"""The model-contents scan (:mod:`hub.review.model_contents`) on honest models, timed, with its
false alarms counted.

    .venv/bin/python -m benchmarks.model_contents [--people 100000]

The raw data holds ``--people`` resident ID numbers and as many mobile numbers; the models are ONNX
files: a 2,000-coefficient linear model, linear models of 5,000 float32 coefficients (one per
one-hot category, as a memorizing table would be) of the kinds
an honest job writes (short integers, two-decimal probabilities, single digits, 0/1, four-digit
amounts), and a LightGBM model of 200 trees converted by ``sdk.onnxmodel.convert`` (thresholds and
leaf values). Target: each scan under 5 s on 2 cores, and no false alarm. Measured with the JSON
format (December 2026, 6 draws): 1–2 s a scan; one chance alarm in six on the 5,000 three-digit
integers (their values, zeros put back, spell one of the 100,000 mobiles), none elsewhere.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from hub.review.model_contents import model_numbers, raw_identifiers
from sdk.onnxmodel import convert, load
from tests import onnx_graphs


def _people(n: int, rng) -> pd.DataFrame:
    ids = [
        f"{rng.integers(110000, 660000)}{rng.integers(1950, 2005)}{rng.integers(1, 13):02d}"
        f"{rng.integers(1, 29):02d}{rng.integers(0, 9999):04d}"
        for _ in range(n)
    ]
    mobiles = [f"1{rng.choice([3, 5, 8])}{rng.integers(0, 10**9):09d}" for _ in range(n)]
    return pd.DataFrame({"id": ids, "mobile": mobiles})


def _linear(values: list[float]) -> bytes:
    """A coefficient per category of one text feature (one-hot, then a LinearRegressor)."""
    categories = [f"c{i}" for i in range(len(values))]
    return onnx_graphs.onehot_regression("a", categories, values, "y")


def _lightgbm(rng) -> bytes:
    import lightgbm

    x = pd.DataFrame(rng.normal(0, 1, (5_000, 20)), columns=[f"f{i}" for i in range(20)])
    x = x.astype(np.float32)
    y = (x["f0"] + rng.normal(0, 1, len(x)) > 0).astype(int)
    model = lightgbm.LGBMClassifier(n_estimators=200, verbose=-1).fit(x, y)
    return convert(model, x.head(100), target="y").content


def _models(rng) -> dict[str, bytes]:
    tables = {
        "short integers": [float(v) for v in rng.integers(100, 999, 5000)],
        "probabilities": [round(float(v), 2) for v in rng.uniform(0, 1, 5000)],
        "digits": [float(v) for v in rng.integers(0, 10, 5000)],
        "amounts": [round(float(v), 2) for v in rng.uniform(100, 9999, 5000)],
        "zeros and ones": [float(v) for v in rng.integers(0, 2, 5000)],
    }
    out = {"linear, 2,000 coefficients": _linear(rng.normal(0, 1, 2000).tolist())}
    for name, values in tables.items():
        out[f"linear, 5,000 {name}"] = _linear(values)
    out["lightgbm, 200 trees"] = _lightgbm(rng)
    return out


def main(people: int = 100_000) -> None:
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    identifiers = raw_identifiers([_people(people, rng)])
    print(f"raw identifiers: {len(identifiers):,} in {time.perf_counter() - start:.2f} s")
    for name, content in _models(rng).items():
        start = time.perf_counter()
        finding = model_numbers(load(content), {}, identifiers)
        print(f"{name:36s} {finding.verdict:5s} numbers={finding.details['numbers']:<7,d} "
              f"matches={finding.details['matches']:<3d} {time.perf_counter() - start:.2f} s")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    main(parser.parse_args().people)
