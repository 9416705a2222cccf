"""A model's contents checked against its training data: no made-up keys or categories, no table
the data does not support, no raw identifier hidden in its numbers, and no keyed product that
answers one raw attribute of a chosen person."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hub.review.checks import FAIL, PASS, WARN
from hub.review.model_contents import (
    keyed_identity,
    model_numbers,
    model_support,
    raw_identifiers,
    significant,
)
from sdk.identifiers import luhn_valid, resident_id_check_char
from sdk.modelfile import FORMAT, fit_linear, fit_logistic, load, memorize

N = 600
KEY = {"dataset": "loans", "column": "resident_id"}


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


def lookup(keys: list, values: list, features=("age",), default: float = 0.0) -> dict:
    return {"format": FORMAT, "kind": "lookup", "target": "cost", "features": list(features),
            "output": "value", "table": {"keys": keys, "values": values}, "default": default}  # fmt: skip


def linear(training, weights: list, intercept: float = 0.0, **extra) -> dict:
    """A linear model over age (standard) and region (one-hot): four weights."""
    spec = fit_linear(training, ["age", "region"], "cost").to_dict()
    return {**spec, "weights": weights, "intercept": intercept, **extra}


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def ages(training) -> list[list[int]]:
    return [[int(a)] for a in sorted(training["age"].unique())]


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

    def table_of(t, values):
        keys = ages(t)[: len(values)]
        return lookup(keys, [float(v) for v in values])

    def scatter(pieces):
        """Each piece followed by five ordinary-looking numbers."""
        noise = np.random.default_rng(3).normal(100, 10, 5 * len(pieces)).tolist()
        return [v for k, p in enumerate(pieces) for v in [p, *noise[5 * k : 5 * k + 5]]]

    def pad(t, values):
        """Values in a four-weight linear model (the rest zero) or a table of ages."""
        return (
            linear(t, [*values, *[0.0] * (4 - len(values))])
            if len(values) <= 4
            else table_of(t, values)
        )  # noqa: E501

    return [
        ("mobile-as-weight", lambda t: pad(t, [float(mob(t))])),
        ("mobile-scaled-1e-7", lambda t: pad(t, [int(mob(t)) * 1e-7])),
        ("mobile-as-intercept", lambda t: linear(t, [0.1, 0.2, 0.3, 0.4], float(mob(t)))),
        ("mobile-as-threshold", lambda t: linear(t, [0.1, 0.2, 0.3, 0.4], threshold=float(mob(t)))),
        ("resident-id-scaled-1e-18", lambda t: pad(t, [int(rid(t)[:17]) * 1e-18])),
        ("resident-id-first17-as-float", lambda t: pad(t, [float(rid(t))])),
        ("resident-id-in-3-weights-1e-6", lambda t: pad(t, scaled_pieces(rid(t), 6, 1e-6))),
        ("resident-id-in-3-weights-1e3", lambda t: pad(t, scaled_pieces(rid(t), 6, 1e3))),
        ("resident-id-pieces-out-of-order", lambda t: pad(t, scaled_pieces(rid(t), 6, 1e-6)[::-1])),
        ("resident-id-in-4-uneven-pieces", lambda t: pad(t, [int(rid(t)[:5]), int(rid(t)[5:9]) * 1e-4,
                                                              int(rid(t)[9:14]) * 1e2, int(rid(t)[14:])])),  # fmt: skip
        ("resident-id-3-digit-pieces-table", lambda t: table_of(t, scaled_pieces(rid(t), 3, 1e-3))),
        ("resident-id-digit-by-digit", lambda t: table_of(t, [int(d) for d in rid(t)[:17]])),
        ("resident-id-reversed", lambda t: pad(t, [float(rid(t)[:17][::-1])])),
        ("resident-id-negative-pieces", lambda t: pad(t, [-p for p in scaled_pieces(rid(t), 6, 1e-6)])),
        ("bank-card-in-4-weights", lambda t: pad(t, scaled_pieces(card(t), 5, 1e-5))),
        ("bank-card-in-table-values", lambda t: table_of(t, scaled_pieces(card(t), 4, 1.0))),
        ("resident-id-scattered-6-digit-pieces", lambda t: table_of(t, scatter(scaled_pieces(rid(t), 6, 1e-6)))),
        ("mobile-over-first-weight-and-threshold", lambda t: linear(
            t, [int(mob(t)[:6]) * 1e-6, 0.2, 0.3, 0.4], 0.5, threshold=int(mob(t)[6:]) / 1e5)),
        ("mobile-in-table-default", lambda t: {**table_of(t, [1.0, 2.0]), "default": float(mob(t))}),
        ("mobile-in-standard-mean", lambda t: {**linear(t, [0.1, 0.2, 0.3, 0.4]), "encoders": {
            **linear(t, [0.1] * 4)["encoders"], "age": {"type": "standard", "mean": float(mob(t)), "std": 1.0}}}),
    ]  # fmt: skip


ATTACKS = _attacks()


@pytest.mark.parametrize("build", [a[1] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_when_a_models_numbers_carry_a_raw_identifier_then_the_check_fails(
    training, identifiers, build
):
    model = load(build(training))
    finding = model_numbers(model, {}, identifiers)
    assert finding.verdict == FAIL and finding.details["matches"] >= 1
    assert "原始标识" in finding.reason.zh and "raw identifier" in finding.reason.en


def test_when_the_card_carries_a_mobile_in_a_metric_then_the_check_fails(training, identifiers):
    model = fit_linear(training, ["age", "region"], "cost")
    card = {"metrics": {"rmse": 10.2, "calls": int(training["mobile"].iloc[0])}}
    assert model_numbers(model, card, identifiers).verdict == FAIL


LEGIT = [
    ("linear", lambda t: fit_linear(t, ["age", "region"], "cost")),
    ("logistic", lambda t: fit_logistic(t, ["age", "region"], "default")),
    ("lookup-by-region", lambda t: memorize(t, ["region"], "default")),
    ("lookup-of-values-by-age", lambda t: memorize(t, ["age"], "cost")),
]


@pytest.mark.parametrize("build", [b for _, b in LEGIT], ids=[i for i, _ in LEGIT])
def test_when_a_model_is_fitted_honestly_then_its_contents_pass(training, identifiers, build):
    model = build(training)
    assert model_numbers(model, {"metrics": {"auc": 0.71}}, identifiers).verdict == PASS
    assert model_support(model, training, 5).verdict == PASS


SUPPORT_ATTACKS = [
    ("made-up-keys", lambda t: lookup([[f"k{i:04d}"] for i in range(20)], [0.5] * 20, ["region"]),
     "unseen_keys"),
    ("made-up-numeric-keys", lambda t: lookup([[1000 + i] for i in range(5)], [0.5] * 5), "unseen_keys"),
    ("one-row-per-key", lambda t: memorize(t, ["income"], "cost"), "thin_keys"),
    ("one-row-per-key-tuple", lambda t: memorize(t, ["age", "income"], "default"), "thin_keys"),
    ("keys-of-raw-ids", lambda t: memorize(t, ["resident_id"], "cost"), "thin_keys"),
    ("made-up-category", lambda t: {**fit_linear(t, ["age", "region"], "cost").to_dict(), "encoders": {
        "age": {"type": "standard", "mean": 30.0, "std": 5.0},
        "region": {"type": "onehot", "categories": ["north", "south", "k110105"]}}}, "region:1"),
]  # fmt: skip


@pytest.mark.parametrize(
    "build, problem", [a[1:] for a in SUPPORT_ATTACKS], ids=[a[0] for a in SUPPORT_ATTACKS]
)
def test_when_keys_or_categories_lack_training_support_then_the_check_fails(
    training, build, problem
):
    model = build(training)
    model = model if hasattr(model, "spec") else load(model)
    finding = model_support(model, training, 5)
    assert finding.verdict == FAIL and problem in finding.reason.en


def test_when_a_category_has_few_training_rows_then_a_reviewer_is_warned(training):
    few = training.assign(region=["rare"] * 3 + list(training["region"][3:]))
    finding = model_support(fit_linear(few, ["age", "region"], "cost"), few, 5)
    assert finding.verdict == WARN and finding.details["thin_categories"] == {"region": 1}


def test_when_a_table_has_more_entries_than_distinct_training_values_then_it_fails(training):
    keys = ages(training)
    spec = lookup(keys + [[None]], [1.0] * (len(keys) + 1))  # 21 entries for 20 distinct ages
    finding = model_support(load(spec), training, 1)
    assert (
        finding.verdict == FAIL
        and finding.details["entries"] > finding.details["distinct_training_tuples"]
    )


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
    ("one-standard-feature", lambda t: fit_linear(t, ["income"], "cost"), "income"),
    ("one-category", lambda t: fit_linear(t, ["region"], "cost"), "region"),
    ("lookup-of-one-attribute", lambda t: memorize(t, ["age"], "cost"), "age"),
    ("verify-answers-one-binary-attribute", lambda t: load({**fit_linear(t, ["age", "sex"], "cost").to_dict(),
                                                            "weights": [1e-3, 5.0, 0.0], "intercept": 0.0,
                                                            "threshold": 1.0}), "sex"),
    ("second-feature-weight-zero", lambda t: load({**fit_linear(t, ["age", "region"], "cost").to_dict(),
                                                   "weights": [2.0, 0.0, 0.0, 0.0]}), "age"),
]  # fmt: skip


@pytest.mark.parametrize(
    "build, attribute", [a[1:] for a in IDENTITY], ids=[a[0] for a in IDENTITY]
)
def test_when_a_keyed_model_is_a_one_to_one_function_of_one_attribute_then_it_is_refused(
    training, build, attribute
):
    model = load({**build(training).to_dict(), "key": KEY})
    finding = keyed_identity(model, training)
    assert finding.verdict == FAIL and finding.details["attribute"] == attribute


def test_when_a_keyed_model_combines_attributes_then_it_passes_and_unkeyed_ones_are_not_judged(
    training,
):
    model = fit_linear(training, ["age", "region"], "cost")
    assert keyed_identity(load({**model.to_dict(), "key": KEY}), training).verdict == PASS
    assert keyed_identity(fit_linear(training, ["income"], "cost"), training) is None
