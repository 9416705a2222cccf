"""A model's contents checked against its training data: no made-up categories, no raw
identifier hidden in its numbers (coefficients, initializers, tree thresholds, metadata), and no
keyed product that answers one raw attribute of a chosen person. The models are ONNX files: fitted
with scikit-learn and converted, or built by hand as an attacker would."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from hub.review.checks import FAIL, PASS, WARN
from hub.review.model_contents import (
    keyed_identity,
    model_numbers,
    model_support,
    raw_identifiers,
    significant,
)
from sdk.identifiers import luhn_valid, resident_id_check_char
from sdk.onnxmodel import convert, load
from tests import onnx_graphs

N = 600
KEY = {"dataset": "loans", "column": "resident_id"}
TEXT = ("region", "sex")


def _resident_id(rng) -> str:
    first = f"3301{rng.integers(1, 99):02d}19{rng.integers(50, 99)}{rng.integers(1, 12):02d}{rng.integers(1, 28):02d}{rng.integers(0, 999):03d}"  # noqa: E501
    return first + resident_id_check_char(first)


def _card(rng) -> str:
    head = "622202" + "".join(str(d) for d in rng.integers(0, 10, 12))
    return next(head + str(d) for d in range(10) if luhn_valid(head + str(d)))


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "resident_id": [_resident_id(rng) for _ in range(N)],
        "mobile": [f"1{rng.choice([3, 5, 8])}{rng.integers(0, 10**9):09d}" for _ in range(N)],
        "card": [_card(rng) for _ in range(N)],
        "age": rng.integers(20, 40, N),  # 20 distinct ages, ~30 rows each
        "region": rng.choice(["north", "south", "east"], N),
        "sex": rng.choice(["男", "女"], N),
        "income": rng.lognormal(8.5, 0.5, N).round(6),  # unique per row
    })  # fmt: skip
    z = 0.05 * (frame["age"] - 30) + frame["region"].map({"north": -0.4, "south": 0.0, "east": 0.4})
    frame["default"] = (rng.random(N) < 1 / (1 + np.exp(-z))).astype(int)
    frame["cost"] = (100 + 3 * frame["age"] + rng.normal(0, 10, N)).round(2)
    return frame


@pytest.fixture(scope="module")
def identifiers(training) -> set[str]:
    return raw_identifiers([training])


def fitted(frame: pd.DataFrame, features: list[str], target: str, estimator=None, key=None,
           threshold=None):  # fmt: skip
    """A scikit-learn pipeline (one-hot text, scaled numbers) fitted and converted to ONNX."""
    text = [f for f in features if f in TEXT]
    numeric = [f for f in features if f not in TEXT]
    prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text),
                              ("num", StandardScaler(), numeric)])  # fmt: skip
    estimator = estimator or (LogisticRegression() if target == "default" else LinearRegression())
    x = frame[features].astype({f: np.float32 for f in numeric})
    pipe = make_pipeline(prep, estimator).fit(x, frame[target])
    return convert(pipe, x.head(100), target=target, key=key, threshold=threshold)


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# Each attack hides a raw identifier of the training data in numbers; id: the spelling.
def _attacks():
    def rid(t):
        return t["resident_id"].iloc[3]

    def mob(t):
        return t["mobile"].iloc[5]

    def card(t):
        return t["card"].iloc[9]

    def scaled_pieces(text, size, scale):
        return [int(p) * scale for p in chunks(text, size)]

    def scatter(pieces):
        """Each piece followed by five ordinary-looking numbers."""
        noise = np.random.default_rng(3).normal(100, 10, 5 * len(pieces)).tolist()
        return [v for k, p in enumerate(pieces) for v in [p, *noise[5 * k : 5 * k + 5]]]

    def pad(values, double=False, **extra):
        """The values as the coefficients of a linear model over as many features (float32
        LinearRegressor attributes, or float64 initializers with ``double``)."""
        features = [f"f{i}" for i in range(len(values))]
        return onnx_graphs.linear(features, [float(v) for v in values], 0.0, "cost",
                                  double=double, **extra)  # fmt: skip

    def coefficients(values):
        return pad([*values, 0.1, 0.2])

    return [
        ("mobile-as-float64-initializer", lambda t: pad([float(mob(t))], double=True)),
        ("mobile-scaled-1e-7-float64", lambda t: pad([int(mob(t)) * 1e-7], double=True)),
        ("mobile-as-intercept", lambda t: onnx_graphs.linear(["f0"], [0.1], float(mob(t)), "cost", double=True)),
        ("mobile-as-threshold", lambda t: pad([0.1, 0.2], threshold=float(mob(t)))),
        ("resident-id-scaled-1e-18", lambda t: pad([int(rid(t)[:17]) * 1e-18], double=True)),
        ("resident-id-first17-as-float", lambda t: pad([float(rid(t))], double=True)),
        ("resident-id-in-3-float32-coefficients-1e-6", lambda t: coefficients(scaled_pieces(rid(t), 6, 1e-6))),
        ("resident-id-in-3-float32-coefficients-1e3", lambda t: coefficients(scaled_pieces(rid(t), 6, 1e3))),
        ("resident-id-pieces-out-of-order", lambda t: coefficients(scaled_pieces(rid(t), 6, 1e-6)[::-1])),
        ("resident-id-in-4-uneven-pieces", lambda t: pad([int(rid(t)[:5]), int(rid(t)[5:9]) * 1e-4,
                                                          int(rid(t)[9:14]) * 1e2, int(rid(t)[14:])])),  # fmt: skip
        ("resident-id-3-digit-pieces", lambda t: pad(scaled_pieces(rid(t), 3, 1e-3))),
        ("resident-id-digit-by-digit", lambda t: pad([int(d) for d in rid(t)[:17]])),
        ("resident-id-reversed", lambda t: pad([float(rid(t)[:17][::-1])], double=True)),
        ("resident-id-negative-pieces", lambda t: coefficients([-p for p in scaled_pieces(rid(t), 6, 1e-6)])),
        ("bank-card-in-4-coefficients", lambda t: coefficients(scaled_pieces(card(t), 5, 1e-5))),
        ("bank-card-4-digit-pieces", lambda t: pad(scaled_pieces(card(t), 4, 1.0))),
        ("resident-id-scattered-6-digit-pieces", lambda t: pad(scatter(scaled_pieces(rid(t), 6, 1e-6)))),
        ("mobile-over-coefficient-and-threshold", lambda t: pad(
            [int(mob(t)[:6]) * 1e-6, 0.2, 0.3], threshold=int(mob(t)[6:]) / 1e5)),
        ("mobile-pieces-in-scaler-offsets", lambda t: pad(
            [0.1, 0.2], offsets=[int(mob(t)[:6]) * 1e-6, int(mob(t)[6:]) * 1e-5])),
    ]  # fmt: skip


ATTACKS = _attacks()


@pytest.mark.parametrize("build", [a[1] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_when_a_models_numbers_carry_a_raw_identifier_then_the_check_fails(
    training, identifiers, build
):
    finding = model_numbers(load(build(training)), {}, identifiers)
    assert finding.verdict == FAIL and finding.details["matches"] >= 1
    assert "原始标识" in finding.reason.zh and "raw identifier" in finding.reason.en


def test_when_the_card_carries_a_mobile_in_a_metric_then_the_check_fails(training, identifiers):
    model = fitted(training, ["age", "region"], "cost")
    card = {"metrics": {"rmse": 10.2, "calls": int(training["mobile"].iloc[0])}}
    assert model_numbers(model, card, identifiers).verdict == FAIL


LEGIT = [
    ("linear", lambda t: fitted(t, ["age", "region"], "cost")),
    ("logistic", lambda t: fitted(t, ["age", "region"], "default")),
    ("tree-by-age", lambda t: fitted(t, ["age", "region"], "cost", DecisionTreeRegressor(min_samples_leaf=10))),
]  # fmt: skip


@pytest.mark.parametrize("build", [b for _, b in LEGIT], ids=[i for i, _ in LEGIT])
def test_when_a_model_is_fitted_honestly_then_its_contents_pass(training, identifiers, build):
    model = build(training)
    assert model_numbers(model, {"metrics": {"auc": 0.71}}, identifiers).verdict == PASS
    assert model_support(model, training, 5).verdict == PASS


SUPPORT_ATTACKS = [
    ("made-up-categories", lambda t: onnx_graphs.onehot_regression(
        "region", ["north", "south", "k110105"], [1.0, 2.0, 3.0], "cost"), "region:1"),
    ("raw-ids-as-categories", lambda t: onnx_graphs.onehot_regression(
        "region", [f"3301{i:014d}" for i in range(20)], [0.5] * 20, "cost"), "region:20"),
    ("categories-of-an-unknown-feature", lambda t: onnx_graphs.onehot_regression(
        "district", ["a", "b"], [0.5, 0.5], "cost"), "features"),
]  # fmt: skip


@pytest.mark.parametrize(
    "build, problem", [a[1:] for a in SUPPORT_ATTACKS], ids=[a[0] for a in SUPPORT_ATTACKS]
)
def test_when_categories_lack_training_support_then_the_check_fails(training, build, problem):
    finding = model_support(load(build(training)), training, 5)
    assert finding.verdict == FAIL and problem in finding.reason.en
    assert "3301" not in str(finding.as_dict())  # counts, never the values


def test_when_a_category_has_few_training_rows_then_a_reviewer_is_warned(training):
    few = training.assign(region=["rare"] * 3 + list(training["region"][3:]))
    finding = model_support(fitted(few, ["age", "region"], "cost"), few, 5)
    assert finding.verdict == WARN and finding.details["thin_categories"] == {"region": 1}


def test_when_identifiers_are_spelled_in_odd_ways_in_the_raw_data_then_they_are_still_known():
    frame = pd.DataFrame({
        "a": ["１３８ １２３４ ５６７８", "138-1234-5679", "13812\u200b345680", None],
        "b": [13812345681.0, np.nan, 1.5, 2.0],  # a mobile column read as floats
        "c": [13812345682, 1, 2, 3],
    })  # fmt: skip
    found = raw_identifiers([frame])
    for mobile in ("13812345678", "13812345679", "13812345680", "13812345681", "13812345682"):
        assert mobile in found
    resident = "33010619850312002" + resident_id_check_char("33010619850312002")
    found = raw_identifiers([pd.DataFrame({"id": [resident.replace("1985", "１９８５ ")]})])
    assert {resident, resident[:-1], resident[::-1], resident[-2::-1]} <= found


@pytest.mark.parametrize(
    "x, digits",
    [(0.110105, "110105"), (1.10105e-7, "110105"), (110105000.0, "110105"), (-0.0712, "712"),
     (0, "0"), (0.0, "0"), (13812345678, "13812345678")],
)  # fmt: skip
def test_when_a_number_is_scaled_by_a_power_of_ten_then_its_significant_digits_stay(x, digits):
    assert significant(x) == digits


IDENTITY = [
    ("one-numeric-feature", lambda t: fitted(t, ["income"], "cost", key=KEY), "income"),
    ("one-category", lambda t: fitted(t, ["region"], "cost", key=KEY), "region"),
    ("verify-answers-one-binary-attribute", lambda t: load(onnx_graphs.onehot_regression(
        "sex", ["男", "女"], [5.0, 0.0], "cost", key=KEY, threshold=1.0)), "sex"),
    ("second-feature-weight-zero", lambda t: load(onnx_graphs.linear(
        ["age", "income"], [2.0, 0.0], 0.0, "cost", key=KEY)), "age"),
]  # fmt: skip


@pytest.mark.parametrize(
    "build, attribute", [a[1:] for a in IDENTITY], ids=[a[0] for a in IDENTITY]
)
def test_when_a_keyed_model_is_a_one_to_one_function_of_one_attribute_then_it_is_refused(
    training, build, attribute
):
    finding = keyed_identity(build(training), training)
    assert finding.verdict == FAIL and finding.details["attribute"] == attribute


def test_when_a_keyed_model_combines_attributes_then_it_passes_and_unkeyed_ones_are_not_judged(
    training,
):
    model = fitted(training, ["age", "region"], "cost", key=KEY)
    assert keyed_identity(model, training).verdict == PASS
    assert keyed_identity(fitted(training, ["income"], "cost"), training) is None
