"""Product scoring through onnxruntime, side by side with the model's own ``predict``.

    .venv/bin/python -m benchmarks.product_scoring [--repeats 300] [--batches 30]

A product answers with the published ONNX model (:class:`sdk.onnxmodel.OnnxModel`, one
onnxruntime session with one intra-op thread, as :func:`hub.production.products.answer` uses it):
records arrive as JSON objects, become a DataFrame, and are scored. The same records are scored
in-process by the fitted model itself (scikit-learn ``predict_proba`` / LightGBM
``predict_proba``), the way a notebook would. Two models of a credit scorecard: a scikit-learn
pipeline (one-hot of 3 text columns, scaled numbers, logistic regression) and LightGBM
(200 trees, 31 leaves, 20 numeric features). Reported: p50 (and p90) latency of one record, and
records per second in batches of 1,000.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from sdk.onnxmodel import OnnxModel, convert

N = 20_000
NUMERIC = [f"x{i}" for i in range(17)]
TEXT = ["industry", "region", "size"]


def _frame(rng) -> pd.DataFrame:
    frame = pd.DataFrame(rng.normal(0, 1, (N, len(NUMERIC))), columns=NUMERIC).astype(np.float32)
    frame["industry"] = rng.choice(["制造", "零售", "餐饮", "物流", "科技"], N)
    frame["region"] = rng.choice(["上城区", "拱墅区", "西湖区", "滨江区"], N)
    frame["size"] = rng.choice(["micro", "small"], N)
    z = frame["x0"] - 0.5 * frame["x1"] + (frame["size"] == "micro") * 0.4
    frame["defaulted"] = (rng.random(N) < 1 / (1 + np.exp(-z))).astype(int)
    return frame


def _sklearn(frame: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = [*NUMERIC, *TEXT]
    prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), TEXT),
                              ("num", StandardScaler(), NUMERIC)])  # fmt: skip
    model = make_pipeline(prep, LogisticRegression(max_iter=500))
    return model.fit(frame[features], frame["defaulted"]), features


def _lightgbm(frame: pd.DataFrame):
    import lightgbm

    features = [*NUMERIC, "x_extra1", "x_extra2", "x_extra3"][:20]
    frame = frame.assign(x_extra1=frame["x0"] * 2, x_extra2=frame["x1"] + 1, x_extra3=frame["x2"])
    model = lightgbm.LGBMClassifier(n_estimators=200, num_leaves=31, verbose=-1)
    return model.fit(frame[features].astype(np.float32), frame["defaulted"]), features


def _time(fn, repeats: int) -> list[float]:
    fn()  # warm: the onnxruntime session is built at the first call
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.quantile(values, q))


def measure(name: str, fitted, features: list[str], frame: pd.DataFrame, repeats: int,
            batches: int) -> None:  # fmt: skip
    frame = frame.assign(x_extra1=frame["x0"] * 2, x_extra2=frame["x1"] + 1, x_extra3=frame["x2"])
    sample = frame[features].head(100)
    onnx: OnnxModel = convert(fitted, sample, target="defaulted")
    records = frame[features].to_dict("records")
    one = records[:1]
    batch = records[:1000]

    def own(rows: list[dict]) -> np.ndarray:
        return fitted.predict_proba(pd.DataFrame.from_records(rows)[features])[:, -1]

    def served(rows: list[dict]) -> np.ndarray:
        return onnx.predict(pd.DataFrame.from_records(rows))

    gap = float(np.abs(own(batch) - served(batch)).max())
    print(
        f"\n{name}: {len(onnx.content):,} bytes of ONNX; max |ONNX − own| on 1,000 rows = {gap:.2e}"
    )
    print(f"  {'':22s} {'1 record p50':>13s} {'p90':>9s} {'1,000-record batches':>22s}")
    for label, fn in [("own predict_proba", own), ("onnxruntime (product)", served)]:
        single = _time(lambda fn=fn: fn(one), repeats)
        many = _time(lambda fn=fn: fn(batch), batches)
        rate = len(batch) / statistics.median(many)
        print(f"  {label:22s} {_pct(single, 0.5) * 1e3:10.3f} ms {_pct(single, 0.9) * 1e3:6.3f} ms "
              f"{rate:15,.0f} rec/s")  # fmt: skip


def main(repeats: int = 300, batches: int = 30) -> None:
    frame = _frame(np.random.default_rng(1))
    for name, build in [
        ("scikit-learn pipeline (logistic)", _sklearn),
        ("LightGBM, 200 trees", _lightgbm),
    ]:
        fitted, features = build(frame)
        measure(name, fitted, features, frame, repeats, batches)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    main(args.repeats, args.batches)
