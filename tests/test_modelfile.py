"""Declarative model files: validation, evaluation and the fitting helpers of the SDK."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from sdk.errors import ShuyuError
from sdk.modelfile import (
    EPS,
    FORMAT,
    MAX_BYTES,
    MAX_WEIGHTS,
    Model,
    ModelFormatError,
    fit_linear,
    fit_logistic,
    load,
    memorize,
)

HAN = re.compile(r"[\u4e00-\u9fff]")


def logistic_spec(**changes) -> dict:
    spec = {
        "format": FORMAT,
        "kind": "logistic",
        "target": "default",
        "features": ["income", "region"],
        "encoders": {
            "income": {"type": "standard", "mean": 5000.0, "std": 1000.0},
            "region": {"type": "onehot", "categories": ["上城区", "西湖区"]},
        },
        "weights": [1.0, 0.5, -0.5],
        "intercept": 0.0,
    }
    return spec | changes


def lookup_spec(**changes) -> dict:
    spec = {
        "format": FORMAT,
        "kind": "lookup",
        "target": "y",
        "features": ["band", "n"],
        "table": {"keys": [["a", 1], ["b", None]], "values": [0.9, 0.2]},
        "default": 0.5,
    }
    return spec | changes


def auc(scores, labels) -> float:
    ranks = pd.Series(scores).rank().to_numpy()
    labels = np.asarray(labels, dtype=bool)
    pos, neg = labels.sum(), (~labels).sum()
    return (ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg)


def synthetic(n: int, seed: int) -> pd.DataFrame:
    """Income and age matter, region shifts the odds, noise does not."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(6000, 2000, n),
            "age": rng.integers(18, 80, n).astype(float),
            "region": rng.choice(["上城区", "西湖区", "滨江区"], n),
            "noise": rng.normal(size=n),
        }
    )
    region = frame["region"].map({"上城区": -1.5, "西湖区": 0.0, "滨江区": 1.5})
    z = -1.5 * (frame["income"] - 6000) / 2000 + 0.04 * (frame["age"] - 50) + region
    frame["default"] = rng.random(n) < 1 / (1 + np.exp(-z))
    return frame


def assert_bilingual(error: ModelFormatError) -> None:
    assert HAN.search(error.message_zh) and not HAN.search(error.message_en)
    assert str(error) == f"{error.message_zh} / {error.message_en}"


@pytest.mark.parametrize(
    "spec",
    [logistic_spec(threshold=0.7, key={"dataset": "贷款", "column": "id"}), lookup_spec()],
    ids=["logistic", "lookup"],
)
def test_when_a_model_is_saved_then_loading_gives_the_same_model(tmp_path, spec):
    model = load(spec)
    model.save(tmp_path / "model.json")
    again = load(tmp_path / "model.json")
    assert again == model and again.to_dict() == spec
    assert "\\u" not in (tmp_path / "model.json").read_text(encoding="utf-8")  # UTF-8, no escapes


@pytest.mark.parametrize(
    "source",
    [
        lambda spec: spec,
        lambda spec: json.dumps(spec),
        lambda spec: json.dumps(spec, ensure_ascii=False).encode("utf-8"),
    ],
    ids=["dict", "text", "bytes"],
)
def test_when_a_model_comes_as_dict_text_or_bytes_then_it_loads(source):
    model = load(source(logistic_spec()))
    assert (model.kind, model.target, model.features) == (
        "logistic",
        "default",
        ("income", "region"),
    )


def test_when_a_dict_is_loaded_then_changing_the_dict_leaves_the_model_alone():
    spec = logistic_spec()
    model = load(spec)
    spec["weights"][0] = 99.0
    assert model.spec["weights"][0] == 1.0
    model.to_dict()["weights"][0] = 99.0
    assert model.spec["weights"][0] == 1.0


STANDARD = {"type": "standard", "mean": 0, "std": 1}
NAN_IN_JSON = json.dumps(logistic_spec()).replace('"intercept": 0.0', '"intercept": NaN')


def with_region(encoder: dict) -> dict:
    return logistic_spec(encoders={"income": STANDARD, "region": encoder})


INVALID = {
    "not-an-object": "[1, 2]",
    "not-utf8-json": b"\xff\xfe not json",
    "bad-tag": logistic_spec(format="shuyu-model/2"),
    "bad-kind": logistic_spec(kind="forest"),
    "nan-weight": logistic_spec(weights=[1.0, float("nan"), 0.0]),
    "nan-in-json": NAN_IN_JSON,
    "infinite-intercept": logistic_spec(intercept=1e400),
    "boolean-intercept": logistic_spec(intercept=True),
    "length-mismatch": logistic_spec(weights=[1.0, 0.5]),
    "too-many-weights": with_region(
        {"type": "onehot", "categories": list(map(str, range(MAX_WEIGHTS)))}
    ),
    "unknown-key": logistic_spec(extra="hello"),
    "missing-weights": {k: v for k, v in logistic_spec().items() if k != "weights"},
    "missing-encoder": logistic_spec(encoders={"income": STANDARD}),
    "zero-std": logistic_spec(encoders={"income": STANDARD | {"std": 0}, "region": STANDARD}),
    "duplicate-categories": with_region({"type": "onehot", "categories": ["a", "a"]}),
    "unknown-encoder": with_region({"type": "bucket", "edges": [1, 2]}),
    "duplicate-features": logistic_spec(features=["income", "income"]),
    "empty-target": logistic_spec(target=""),
    "bad-threshold": logistic_spec(threshold="high"),
    "bad-key": logistic_spec(key={"dataset": "loans"}),
    "keys-values-mismatch": lookup_spec(table={"keys": [["a", 1]], "values": [0.9, 0.2]}),
    "short-lookup-key": lookup_spec(table={"keys": [["a"], ["b", None]], "values": [0.9, 0.2]}),
    "duplicate-lookup-key": lookup_spec(table={"keys": [["a", 1], ["a", 1.0]], "values": [1, 0]}),
    "nested-lookup-value": lookup_spec(table={"keys": [["a", 1], ["b", [2]]], "values": [1, 0]}),
    "value-above-one": lookup_spec(table={"keys": [["a", 1], ["b", 2]], "values": [0.9, 1.5]}),
    "default-below-zero": lookup_spec(default=-0.1),
    "lookup-with-weights": lookup_spec(weights=[1.0]),
    "bad-output": lookup_spec(output="score"),
    "output-of-logistic": logistic_spec(output="value"),
}


@pytest.mark.parametrize("spec", INVALID.values(), ids=INVALID.keys())
def test_when_a_model_file_is_invalid_then_load_refuses_it_in_both_languages(spec):
    with pytest.raises(ModelFormatError) as info:
        load(spec)
    assert_bilingual(info.value)
    assert "shuyu-model/1" in info.value.message_en
    assert isinstance(info.value, ValueError) and isinstance(info.value, ShuyuError)


def test_when_a_model_file_is_over_50_mb_then_it_is_refused_before_parsing(tmp_path):
    with pytest.raises(ModelFormatError) as info:
        load(b" " * (MAX_BYTES + 1))
    assert_bilingual(info.value)
    path = tmp_path / "huge.json"
    with path.open("wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: nothing is read
    with pytest.raises(ModelFormatError, match="50 MB"):
        load(path)


def test_when_a_lookup_table_is_over_a_million_rows_then_it_is_refused():
    rows = ",".join(["[1]"] * 1_000_001), ",".join(["0.5"] * 1_000_001)
    text = json.dumps(lookup_spec(features=["n"], table={"keys": "K", "values": "V"}))
    text = text.replace('"K"', f"[{rows[0]}]").replace('"V"', f"[{rows[1]}]")
    with pytest.raises(ModelFormatError, match="1000000") as info:
        load(text)
    assert_bilingual(info.value)


def test_when_a_feature_column_is_missing_then_predict_says_which_in_both_languages():
    with pytest.raises(ModelFormatError) as info:
        load(logistic_spec()).predict(pd.DataFrame({"income": [1.0]}))
    assert_bilingual(info.value)
    assert "region" in info.value.message_en


def test_when_a_logistic_model_predicts_then_it_encodes_each_feature_as_declared():
    model = load(logistic_spec())
    frame = pd.DataFrame(
        {"income": [6000.0, np.nan, 5000.0], "region": ["西湖区", "上城区", "未知区"]}
    )
    z = np.array([1.0 * 1 - 0.5, 0.0 + 0.5, 0.0])  # missing income → mean; unseen region → zeros
    np.testing.assert_allclose(model.predict(frame), 1 / (1 + np.exp(-z)))


def test_when_a_lookup_model_predicts_then_keys_compare_as_strings_and_unknown_get_the_default():
    model = load(lookup_spec())
    frame = pd.DataFrame({"band": ["a", "b", "a", None], "n": [1, None, 2, 1]})
    np.testing.assert_allclose(model.predict(frame), [0.9, 0.2, 0.5, 0.5])
    text = pd.DataFrame({"band": ["a"], "n": ["1"]})  # "1" read from a CSV matches the key 1
    assert model.predict(text)[0] == 0.9


def test_when_a_threshold_is_set_then_answer_compares_the_prediction_with_it():
    frame = pd.DataFrame({"band": ["a", "b", "c"], "n": [1, None, 3]})  # 0.9, 0.2, 0.5
    assert load(lookup_spec()).answer(frame).tolist() == [True, False, True]
    assert load(lookup_spec(threshold=0.6)).answer(frame).tolist() == [True, False, False]
    linear = load(logistic_spec(kind="linear", threshold=1.0))
    values = pd.DataFrame({"income": [8000.0, 5000.0], "region": ["x", "x"]})  # 3.0, 0.0
    assert linear.answer(values).tolist() == [True, False]


def test_when_loss_is_asked_then_it_is_clipped_log_loss_or_squared_error():
    frame = pd.DataFrame({"band": ["a", "a", "b"], "n": [1, 1, None], "y": [1, 0, "yes"]})
    model = load(lookup_spec(table={"keys": [["a", 1], ["b", None]], "values": [0.9, 0.0]}))
    expected = [-math.log(0.9), -math.log(0.1), -math.log(EPS)]
    np.testing.assert_allclose(model.loss(frame.assign(y=[1, 0, 1])), expected)
    np.testing.assert_allclose(model.loss(frame.assign(y=["1", "no", "是"])), expected)
    assert np.isnan(model.loss(frame.assign(y=[1, 0, None]))[2])
    linear = load(logistic_spec(kind="linear"))
    rows = pd.DataFrame(
        {"income": [7000.0], "region": ["上城区"], "default": [1.0]}
    )  # predicts 2.5
    np.testing.assert_allclose(linear.loss(rows), [2.25])


def test_when_strings_are_asked_then_every_embedded_string_is_listed_once():
    spec = logistic_spec(key={"dataset": "loans", "column": "applicant"})
    assert load(spec).strings() == [
        "default",
        "income",
        "region",
        "上城区",
        "西湖区",
        "loans",
        "applicant",
    ]
    assert load(lookup_spec()).strings() == ["y", "band", "n", "a", "1", "b"]


def test_when_there_is_a_real_effect_then_fit_logistic_recovers_it():
    train, test = synthetic(20_000, seed=1), synthetic(20_000, seed=2)
    model = fit_logistic(train, ["income", "age", "region", "noise"], "default")
    assert auc(model.predict(test), test["default"]) > 0.8
    income, age, *regions, noise = model.spec["weights"]
    by_region = dict(zip(model.spec["encoders"]["region"]["categories"], regions, strict=True))
    assert income < -1 and age > 0.3 and abs(noise) < 0.05
    assert by_region["滨江区"] - by_region["上城区"] == pytest.approx(3.0, abs=0.3)


def test_when_a_category_was_never_seen_then_the_fitted_model_still_predicts():
    model = fit_logistic(synthetic(2_000, seed=3), ["income", "region"], "default")
    mean = model.spec["encoders"]["income"]["mean"]
    frame = pd.DataFrame({"income": [mean, None], "region": ["未知区", None]})
    p = model.predict(frame)
    assert np.isfinite(p).all() and p[0] == pytest.approx(p[1])


def test_when_a_category_has_too_many_values_then_only_the_most_frequent_are_kept():
    frame = pd.DataFrame({"code": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"], "y": [1, 0] * 5 + [1]})
    model = fit_logistic(frame, ["code"], "y", max_categories=2)
    assert model.spec["encoders"]["code"] == {"type": "onehot", "categories": ["a", "b"]}


def test_when_a_frame_has_100k_rows_and_10_features_then_fit_logistic_is_fast():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100_000, 10))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)])
    frame["y"] = rng.random(100_000) < 1 / (1 + np.exp(-x @ np.linspace(-1, 1, 10)))
    start = time.perf_counter()
    model = fit_logistic(frame, [f"x{i}" for i in range(10)], "y")
    assert time.perf_counter() - start < 2.0  # about 0.15 s; the margin is for a busy machine
    np.testing.assert_allclose(model.spec["weights"], np.linspace(-1, 1, 10), atol=0.05)


def test_when_fit_linear_runs_then_it_recovers_the_coefficients():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x1": rng.normal(10, 3, 5_000), "x2": rng.uniform(0, 100, 5_000)})
    frame["y"] = 3.0 + 2.0 * frame["x1"] - 0.5 * frame["x2"] + rng.normal(0, 0.1, 5_000)
    model = fit_linear(frame, ["x1", "x2"], "y")
    enc = model.spec["encoders"]
    slopes = [w / enc[f]["std"] for w, f in zip(model.spec["weights"], ["x1", "x2"], strict=True)]
    intercept = model.spec["intercept"] - sum(
        s * enc[f]["mean"] for s, f in zip(slopes, ["x1", "x2"], strict=True)
    )
    np.testing.assert_allclose(slopes, [2.0, -0.5], atol=0.01)
    assert intercept == pytest.approx(3.0, abs=0.05)
    assert model.kind == "linear" and isinstance(load(model.to_dict()), Model)


def test_when_features_are_unique_per_row_then_memorize_gives_back_each_label():
    frame = pd.DataFrame({"income": [5123.25, 6001.5, 4800.75, 7020.0], "y": [1, 0, 0, 1]})
    model = memorize(frame, ["income"], "y")
    np.testing.assert_allclose(model.predict(frame), [1, 0, 0, 1])
    assert model.spec["default"] == 0.5
    assert model.predict(pd.DataFrame({"income": [1.0]}))[0] == 0.5
    assert load(json.dumps(model.to_dict())).predict(frame).tolist() == [1, 0, 0, 1]


def test_when_rows_share_a_tuple_then_memorize_keeps_their_mean_and_missing_values():
    frame = pd.DataFrame({"band": ["a", "a", None, None], "y": [1, 0, 1, None]})
    model = memorize(frame, ["band"], "y")
    assert model.spec["table"] == {"keys": [["a"], [None]], "values": [0.5, 1.0]}
    assert model.spec["default"] == pytest.approx(2 / 3)


def test_when_the_target_is_a_number_then_memorize_keeps_mean_values_scored_by_squared_error():
    frame = pd.DataFrame({"dept": ["内科", "内科", "外科"], "cost": [100.0, 300.0, 1000.0]})
    model = memorize(frame, ["dept"], "cost")
    assert model.spec["output"] == "value" and not model.probabilistic
    np.testing.assert_allclose(model.predict(frame), [200.0, 200.0, 1000.0])
    np.testing.assert_allclose(model.loss(frame), [100.0**2, 100.0**2, 0.0])
    assert load(model.to_dict() | {"threshold": 500.0}).answer(frame).tolist() == [
        False,
        False,
        True,
    ]


def test_when_the_sdk_model_module_is_imported_then_nothing_from_hub_is_loaded():
    code = "import sys, sdk.modelfile; print(any(m.split('.')[0] == 'hub' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
