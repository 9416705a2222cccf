"""Review checks of ONNX model files: size, format (checker, operator allowlist), model card,
embedded identifiers, strings that must come from the training data, membership inference run
with onnxruntime."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from hub.review.checks import FAIL, PASS, WARN
from hub.review.model_checks import (
    attack_auc,
    membership_inference,
    model_card,
    model_data_strings,
    model_format,
    model_size,
    model_strings,
    tpr_at_fpr,
)
from sdk.identifiers import resident_id_check_char
from sdk.onnxmodel import convert, load
from tests import onnx_graphs

HAN = re.compile(r"[\u4e00-\u9fff]")
RESIDENT_ID = "33010619850312002" + resident_id_check_char("33010619850312002")
MOBILE = "13912345678"
CARD = {
    "intended_use": "估计贷款申请人的违约概率，仅供授信初筛参考",
    "data": "2023 年杭州市贷款申请记录，约 5 万条，已脱敏",
    "metrics": {"auc": 0.78, "log_loss": 0.51},
    "limits": "Not for applicants under 18 or for business loans.",
}


def population(n: int, seed: int) -> pd.DataFrame:
    """Loan applicants: coarse features with a modest effect, and an exact income per person."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "region": rng.choice(["north", "south", "east"], n),
            "has_car": rng.random(n) < 0.4,
            "income": rng.lognormal(8.5, 0.5, n).round(6),  # unique per row
        }
    )
    z = -0.5 + 0.03 * (frame["age"] - 50) + 0.8 * frame["has_car"]
    z = z + frame["region"].map({"north": -0.4, "south": 0.0, "east": 0.4})
    frame["default"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return frame


@pytest.fixture(scope="module")
def members() -> pd.DataFrame:
    return population(5_000, seed=1)


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    return population(5_000, seed=2)


def assert_bilingual(finding) -> None:
    assert HAN.search(finding.reason.zh) and not HAN.search(finding.reason.en)


def fit_logistic(frame: pd.DataFrame, features: list[str], target: str):
    """A regularized logistic regression (one-hot text, scaled numbers), converted to ONNX."""
    text = [f for f in features if not pd.api.types.is_numeric_dtype(frame[f])]
    numeric = [f for f in features if f not in text]
    prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text),
                              ("num", StandardScaler(), numeric)])  # fmt: skip
    x = frame[features].astype({f: np.float32 for f in numeric})
    pipe = make_pipeline(prep, LogisticRegression(C=1.0)).fit(x, frame[target])
    return convert(pipe, x.head(100), target=target)


def memorize(frame: pd.DataFrame, features: list[str], target: str):
    """A tree grown until every leaf holds one row (min_samples_leaf=1): it memorizes."""
    x = frame[features].astype(np.float32)
    binary = frame[target].isin([0, 1]).all()
    tree = (DecisionTreeClassifier if binary else DecisionTreeRegressor)(min_samples_leaf=1)
    return convert(tree.fit(x, frame[target]), x.head(100), target=target)


def test_when_a_model_file_is_valid_then_model_format_passes_and_summarizes_it(members):
    model = fit_logistic(members, ["age", "region"], "default")
    found, loaded = model_format(model.content)
    assert found.name == "model_format" and found.verdict == PASS
    assert loaded.sha256 == model.sha256 and loaded.features == ("age", "region")
    details = found.details
    assert (details["format"], details["task"], details["target"]) == (
        "shuyu-onnx/1",
        "classification",
        "default",
    )
    assert details["features"] == 2 and details["bytes"] == len(model.content)
    assert details["trees"] == 0 and details["categories"] == 3 and details["class_labels"] == 2
    assert any(op.endswith("LinearClassifier") for op in details["operators"])
    assert details["nodes"] == sum(details["operators"].values())


LEGACY = json.dumps({"format": "shuyu-model/1", "kind": "linear", "target": "y",
                     "features": ["x"], "encoders": {"x": {"type": "standard", "mean": 0, "std": 1}},
                     "weights": [1.0], "intercept": 0.0}).encode()  # fmt: skip


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"not onnx", None),
        (LEGACY, None),
        (onnx_graphs.with_operator("StringNormalizer", "ai.onnx.ml"), "StringNormalizer"),
        (onnx_graphs.with_operator("Smuggle", "com.example"), "com.example"),
    ],
    ids=["not-onnx", "retired-json", "string-op", "custom-domain"],
)
def test_when_a_model_file_is_invalid_then_model_format_fails_in_both_languages(content, named):
    found, model = model_format(content)
    assert found.verdict == FAIL and model is None
    assert_bilingual(found)
    assert found.details == {"bytes": len(content)}
    if named:
        assert named in found.reason.en


def test_when_a_model_file_is_over_the_size_limit_then_model_size_fails(members):
    content = fit_logistic(members, ["age"], "default").content
    assert model_size(content, len(content)).verdict == PASS
    found = model_size(content, len(content) - 1)
    assert found.name == "model_size" and found.verdict == FAIL
    assert found.details == {"bytes": len(content), "max_bytes": len(content) - 1}
    assert_bilingual(found)


def test_when_a_model_card_is_complete_then_it_passes():
    found = model_card(CARD)
    assert found.name == "model_card" and found.verdict == PASS and found.details["missing"] == []
    assert model_card(CARD | {"metrics": "AUC 0.78 on the 2024 holdout"}).verdict == PASS


@pytest.mark.parametrize(
    ("card", "missing"),
    [
        ({}, ["intended_use", "data", "metrics", "limits"]),
        ({k: v for k, v in CARD.items() if k != "limits"}, ["limits"]),
        (CARD | {"intended_use": "风控", "data": "   "}, ["intended_use", "data"]),
        (CARD | {"metrics": {}}, ["metrics"]),
        (CARD | {"limits": ["none"]}, ["limits"]),
    ],
    ids=["empty", "no-limits", "too-short", "empty-metrics", "not-text"],
)
def test_when_a_model_card_lacks_sections_then_it_fails_naming_them(card, missing):
    found = model_card(card)
    assert found.verdict == FAIL and found.details["missing"] == missing
    assert_bilingual(found)
    assert all(name in found.reason.en for name in missing)


def test_when_a_model_card_is_over_64_kb_or_not_an_object_then_it_fails():
    found = model_card(CARD | {"notes": "x" * (64 << 10)})
    assert found.verdict == FAIL and found.details["bytes"] > 64 << 10
    assert_bilingual(found)
    assert model_card(["not", "a", "card"]).verdict == FAIL


def test_when_categories_hold_an_id_number_and_a_mobile_then_model_pii_fails_and_hides_them():
    model = load(onnx_graphs.onehot_regression("who", [RESIDENT_ID, MOBILE, "walk-in"],
                                               [1.0, 0.0, 1.0], "default"))  # fmt: skip
    found = model_strings(model)
    assert found.name == "model_pii" and found.verdict == FAIL
    assert found.details["entities"]["CN_RESIDENT_ID"] == 1
    assert found.details["entities"]["CN_MOBILE"] == 1
    assert_bilingual(found)
    shown = json.dumps(found.as_dict(), ensure_ascii=False)
    assert RESIDENT_ID not in shown and MOBILE not in shown


def test_when_a_converted_category_or_a_graph_name_is_a_mobile_then_model_pii_fails():
    frame = pd.DataFrame({"phone": [MOBILE, "other"] * 10, "default": [1, 0] * 10})
    assert model_strings(fit_logistic(frame, ["phone"], "default")).verdict == FAIL
    named = onnx_graphs.linear(["x"], [0.5], 0.0, "default", name=f"graph {MOBILE}")
    assert model_strings(load(named)).verdict == FAIL  # any string of the file, not only data


def test_when_a_model_embeds_no_identifier_then_model_pii_passes(members):
    found = model_strings(fit_logistic(members, ["age", "region", "has_car"], "default"))
    assert found.verdict == PASS and found.details["entities"] == {}
    assert_bilingual(found)
    # exact fractions have 16-17 digits, which a digit scan could read as bank cards
    fractions = pd.DataFrame(
        {"score": np.random.default_rng(5).random(200), "default": [0, 1] * 100}
    )
    assert model_strings(memorize(fractions, ["score"], "default")).verdict == PASS


def test_when_a_models_data_strings_come_from_the_training_columns_then_they_pass(members):
    model = fit_logistic(members, ["age", "region"], "default")
    found = model_data_strings(model, members, set(members.columns))
    assert found.name == "model_data_strings" and found.verdict == PASS
    assert found.details["strings"] >= 6  # 2 features, the target, 3 regions, (2 class labels)
    assert_bilingual(found)


def test_when_categories_are_made_up_then_model_data_strings_fails_with_counts_only(members):
    made_up = ["north", "south", "patient-7f3a", "patient-9c1e"]
    model = load(onnx_graphs.onehot_regression("region", made_up, [0.1] * 4, "default"))
    found = model_data_strings(model, members, set(members.columns))
    assert found.verdict == FAIL and found.details["unknown_categories"] == 2
    assert_bilingual(found)
    assert "patient" not in json.dumps(found.as_dict(), ensure_ascii=False)


def test_when_a_feature_or_class_label_is_not_in_the_training_columns_then_it_fails(members):
    model = fit_logistic(members, ["age", "region"], "default")
    unapproved = model_data_strings(model, members, {"age", "default"})  # region not approved
    assert unapproved.verdict == FAIL and unapproved.details["unknown_names"] == 1
    relabeled = members.assign(default=members["default"].map({0: "no", 1: "yes"}))
    found = model_data_strings(model, relabeled, set(members.columns))
    assert found.verdict == FAIL and found.details["unknown_class_labels"] == 2


@pytest.mark.parametrize(
    ("member_losses", "holdout_losses", "expected"),
    [
        ([0.1, 0.2], [0.3, 0.4], 1.0),
        ([0.3, 0.4], [0.1, 0.2], 0.0),
        ([0.5, 0.5, 0.5], [0.5, 0.5], 0.5),
        ([0.1, 0.5], [0.2, 0.5], 0.625),  # 1 + 1 + 0 + ½ of 4 pairs
        ([0.1, 0.3, 0.6], [0.2], 1 / 3),
    ],
    ids=["separated", "inverted", "all-tied", "one-tie", "uneven"],
)
def test_when_losses_are_given_then_attack_auc_is_the_mann_whitney_statistic(
    member_losses, holdout_losses, expected
):
    assert attack_auc(member_losses, holdout_losses) == pytest.approx(expected, abs=1e-12)


def test_when_a_side_is_empty_then_attack_auc_refuses():
    with pytest.raises(ValueError):
        attack_auc([], [0.1])


def test_when_few_members_are_below_every_holdout_loss_then_tpr_at_fpr_counts_them():
    holdout = np.linspace(1.0, 2.0, 100)
    members = np.array([0.5, 0.9, 1.0, 1.5, 3.0])
    assert tpr_at_fpr(members, holdout, fpr=0.01) == pytest.approx(0.6)  # below 1.0101…
    assert tpr_at_fpr(members, holdout, fpr=0.0) == pytest.approx(0.4)  # below 1.0
    assert tpr_at_fpr(members, holdout, fpr=1.0) == 1.0
    assert tpr_at_fpr([0.5] * 10, [0.5] * 100, fpr=0.01) == 0.0  # ties are not below the cut


def test_when_a_model_memorized_its_training_rows_then_membership_inference_fails(members, holdout):
    """A tree with a leaf per row on an identifying feature (an exact income per person)."""
    model = memorize(members, ["income"], "default")
    found = membership_inference(model, members, holdout)
    assert found.name == "membership_inference" and found.verdict == FAIL
    assert found.details["auc"] > 0.7, found.details
    assert found.details | {"auc": 0, "tpr_at_1pct_fpr": 0} == {
        "attack": "loss-threshold", "max_auc": 0.6, "members": 5_000, "holdout": 5_000, "auc": 0,
        "tpr_at_1pct_fpr": 0,
    }  # fmt: skip
    assert_bilingual(found)


def test_when_a_lightgbm_model_memorized_its_rows_then_membership_inference_fails(members, holdout):
    lightgbm = pytest.importorskip("lightgbm")
    x = members[["income", "age"]].astype(np.float32)
    booster = lightgbm.LGBMClassifier(n_estimators=200, num_leaves=256, min_child_samples=1,
                                      min_child_weight=0, subsample=1.0, verbose=-1)  # fmt: skip
    model = convert(booster.fit(x, members["default"]), x.head(100), target="default")
    found = membership_inference(model, members, holdout)
    assert found.verdict == FAIL and found.details["auc"] > 0.6, found.details


def test_when_a_model_memorized_an_amount_per_row_then_membership_inference_fails(members, holdout):
    model = memorize(members, ["income"], "age")  # a value per row: squared error, not log-loss
    found = membership_inference(model, members, holdout)
    assert found.verdict == FAIL and found.details["auc"] > 0.9


def test_when_a_regularized_model_uses_coarse_features_then_membership_inference_passes(
    members, holdout
):
    model = fit_logistic(members, ["age", "region", "has_car"], "default")
    found = membership_inference(model, members, holdout)
    assert found.verdict == PASS, found.details
    assert found.details["auc"] <= 0.55
    assert found.details["tpr_at_1pct_fpr"] <= 0.05
    assert_bilingual(found)


class _Remembers:
    """A model that knows the first ``known`` training incomes (loss near 0) and guesses the base
    rate for anyone else: the gate's logic, whatever evaluates the model."""

    target = "default"

    def __init__(self, members: pd.DataFrame, known: int):
        self.known = dict(
            zip(members["income"].head(known), members["default"].head(known), strict=True)
        )
        self.rate = float(members["default"].mean())

    def loss(self, frame: pd.DataFrame) -> np.ndarray:
        p = np.array([self.known.get(i, self.rate) for i in frame["income"]], dtype=float)
        p = np.clip(p, 1e-6, 1 - 1e-6)  # a known row's own label: a loss near 0
        y = frame["default"].to_numpy(dtype=float)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def test_when_a_model_memorized_a_tenth_of_its_rows_then_membership_inference_warns(
    members, holdout
):
    found = membership_inference(_Remembers(members, 500), members, holdout)
    assert found.verdict == WARN, found.details
    assert found.details["auc"] <= 0.6 and found.details["tpr_at_1pct_fpr"] > 0.05
    assert_bilingual(found)


def test_when_there_are_more_records_than_the_limit_then_a_fixed_sample_is_used(members, holdout):
    model = fit_logistic(members, ["age", "region"], "default")
    first = membership_inference(model, members, holdout, max_records=1_000, seed=7)
    again = membership_inference(model, members, holdout, max_records=1_000, seed=7)
    assert first.details == again.details
    assert (first.details["members"], first.details["holdout"]) == (1_000, 1_000)


def test_when_there_are_too_few_records_with_a_target_then_membership_inference_fails(
    members, holdout
):
    model = fit_logistic(members, ["age", "region"], "default")
    unlabeled = holdout.astype({"default": float}).assign(default=np.nan)
    sparse = pd.concat([holdout.head(40), unlabeled.iloc[40:]])
    for small in (members.head(49), sparse):
        found = membership_inference(model, members, small)
        assert found.verdict == FAIL and "auc" not in found.details
        assert_bilingual(found)
    assert membership_inference(model, members, sparse).details["holdout"] == 40


def test_when_the_records_lack_a_feature_then_membership_inference_fails_naming_it(
    members, holdout
):
    model = fit_logistic(members, ["age", "region"], "default")
    found = membership_inference(model, members, holdout.drop(columns="region"))
    assert found.verdict == FAIL and "region" in found.reason.en
    assert_bilingual(found)
