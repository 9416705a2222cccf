"""ONNX models (``shuyu-onnx/1``): conversion from scikit-learn, LightGBM and XGBoost, what a
reviewer reads off a model, and the refusal of files built to carry something out."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto
from onnx import helper as h

from sdk.errors import ShuyuError
from sdk.onnxmodel import (
    FORMAT,
    MAX_BYTES,
    ModelFormatError,
    OnnxModel,
    convert,
    from_legacy,
    load,
)

HAN = re.compile(r"[\u4e00-\u9fff]")
REGIONS = ["上城区", "西湖区", "滨江区"]


def credit(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(6000, 2000, n),
            "age": rng.integers(18, 80, n),
            "region": rng.choice(REGIONS, n),
        }
    )
    region = frame["region"].map(dict(zip(REGIONS, [-1.5, 0.0, 1.5], strict=True)))
    z = -1.5 * (frame["income"] - 6000) / 2000 + 0.04 * (frame["age"] - 50) + region
    frame["default"] = (z + rng.logistic(size=n) > 0).astype(int)
    frame["cost"] = 0.3 * frame["income"] + 20 * frame["age"] + 100 * region
    return frame


TRAIN, HELD_OUT = credit(400, 0), credit(60, 1)
FEATURES = ["income", "age", "region"]
NUMBERS = ["income", "age"]


def pipeline(final):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMBERS),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    return Pipeline([("prep", prep), ("model", final)])


def assert_refused(content: bytes | Path, *words: str) -> ModelFormatError:
    with pytest.raises(ModelFormatError) as caught:
        load(content)
    error = caught.value
    assert isinstance(error, ShuyuError) and error.code == "invalid_model"
    assert HAN.search(error.message_zh) and FORMAT in error.message_en
    for word in words:
        assert word in error.message_en, (word, error.message_en)
    assert error._render_traceback_() == [f"ModelFormatError: {error}"]
    return error


# --- scikit-learn ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logistic():
    from sklearn.linear_model import LogisticRegression

    fitted = pipeline(LogisticRegression()).fit(TRAIN[FEATURES], TRAIN["default"])
    return fitted, convert(fitted, TRAIN.head(100), target="default", threshold=0.3)


def test_when_a_sklearn_pipeline_is_converted_then_onnx_predicts_as_it_does(logistic):
    fitted, model = logistic
    expected = fitted.predict_proba(HELD_OUT[FEATURES])[:, 1]
    assert isinstance(model, OnnxModel)
    assert np.allclose(model.predict(HELD_OUT), expected, atol=1e-4)
    assert (model.answer(HELD_OUT) == (model.predict(HELD_OUT) >= 0.3)).all()
    assert model.task == "classification" and model.probabilistic and model.threshold == 0.3
    assert model.features == tuple(FEATURES) and model.target == "default"


def test_when_a_model_is_loaded_then_onnxruntime_starts_only_to_predict_on_one_cpu_thread(logistic):  # fmt: skip
    _, converted = logistic
    model = load(converted.content)
    assert model._session is None
    model.predict(HELD_OUT.head(2))
    assert model._session.get_providers() == ["CPUExecutionProvider"]
    assert model._session.get_session_options().intra_op_num_threads == 1


def test_when_a_converted_model_is_loaded_again_then_it_is_the_same_model(logistic):
    _, model = logistic
    again = load(model.content)
    assert again.sha256 == model.sha256 and again.summary() == model.summary()
    assert np.array_equal(again.predict(HELD_OUT), model.predict(HELD_OUT))


def test_when_a_sklearn_pipeline_is_summarized_then_its_categories_and_labels_show(logistic):
    _, model = logistic
    summary = model.summary()
    assert summary.categories == {"region": sorted(REGIONS)} == model.categories()
    assert summary.class_labels == ["0", "1"] == model.class_labels()
    assert (summary.trees, summary.max_depth) == (0, 0)
    assert summary.operators["ai.onnx.ml.LinearClassifier"] == 1
    assert summary.operators["ai.onnx.ml.OneHotEncoder"] == 1
    assert [i["name"] for i in summary.inputs] == FEATURES
    assert {"name": "region", "type": "tensor(string)", "shape": [None, 1]} in summary.inputs
    assert {"name": "probabilities", "type": "tensor(float)", "shape": [None, 2]} in summary.outputs  # fmt: skip
    assert summary.producer.startswith("skl2onnx") and summary.bytes == len(model.content)
    assert json.loads(json.dumps(dataclasses.asdict(summary)))["categories"]["region"] == sorted(
        REGIONS
    )


def test_when_a_sklearn_pipeline_is_converted_then_its_strings_and_numbers_are_listed(logistic):
    fitted, model = logistic
    for word in ["上城区", "income", "default", "LinearClassifier", "shuyu-onnx/1"]:
        assert word in model.strings()
    data = model.data_strings()
    assert set(data) == {*FEATURES, "default", *REGIONS, "0", "1"}
    assert "LinearClassifier" not in data and "probabilities" not in data
    coefficient = fitted[-1].coef_[0][0]
    numbers = np.asarray([x for x in model.numbers() if isinstance(x, float)])
    assert np.isclose(numbers, coefficient, rtol=1e-6).any()
    assert model.numbers()[-1] == 0.3  # the threshold


def test_when_the_loss_is_computed_then_it_is_the_log_loss_of_the_target(logistic):
    _, model = logistic
    frame = HELD_OUT.copy()
    p = np.clip(model.predict(frame), 1e-6, 1 - 1e-6)
    y = frame["default"].to_numpy()
    assert np.allclose(model.loss(frame), -(y * np.log(p) + (1 - y) * np.log1p(-p)))
    frame["default"] = frame["default"].map({0: "否", 1: "是"}).astype(object)
    frame.loc[0, "default"] = None
    loss = model.loss(frame)
    assert np.isnan(loss[0]) and np.allclose(loss[1:], -(y * np.log(p) + (1 - y) * np.log1p(-p))[1:])  # fmt: skip


def test_when_a_feature_is_missing_or_unseen_then_the_model_still_answers(logistic):
    _, model = logistic
    frame = HELD_OUT.head(3).copy()
    frame["region"] = [None, "未知区", "西湖区"]
    frame["age"] = frame["age"].astype(float)
    assert np.isfinite(model.predict(frame)).all()
    with pytest.raises(ModelFormatError, match="lacks columns"):
        model.predict(frame.drop(columns=["income"]))


def test_when_classes_are_words_then_the_last_is_positive_and_the_loss_reads_it():
    from sklearn.linear_model import LogisticRegression

    words = TRAIN["default"].map({0: "正常", 1: "违约"})
    fitted = pipeline(LogisticRegression()).fit(TRAIN[FEATURES], words)
    model = convert(fitted, TRAIN.head(100), target="status")
    assert model.class_labels() == ["正常", "违约"] == list(fitted.classes_)
    assert {"正常", "违约"} <= set(model.data_strings())
    p = np.clip(model.predict(HELD_OUT), 1e-6, 1 - 1e-6)
    assert np.allclose(p, fitted.predict_proba(HELD_OUT[FEATURES])[:, 1], atol=1e-4)
    frame = HELD_OUT.assign(status=HELD_OUT["default"].map({0: "正常", 1: "违约"}))
    y = HELD_OUT["default"].to_numpy()
    assert np.allclose(model.loss(frame), -(y * np.log(p) + (1 - y) * np.log1p(-p)), atol=1e-6)


def test_when_a_sklearn_regressor_is_converted_then_it_predicts_values():
    from sklearn.linear_model import Ridge

    fitted = pipeline(Ridge()).fit(TRAIN[FEATURES], TRAIN["cost"])
    model = convert(fitted, TRAIN.head(100), target="cost")
    assert model.task == "regression" and not model.probabilistic
    assert np.allclose(model.predict(HELD_OUT), fitted.predict(HELD_OUT[FEATURES]), rtol=1e-5)
    assert model.class_labels() == [] and model.summary().categories == {"region": sorted(REGIONS)}
    expected = (model.predict(HELD_OUT) - HELD_OUT["cost"]) ** 2
    assert np.allclose(model.loss(HELD_OUT), expected)
    assert np.isclose([x for x in model.numbers() if isinstance(x, float)], fitted[-1].intercept_, rtol=1e-6).any()  # fmt: skip


def test_when_the_model_is_not_one_of_the_supported_kinds_then_convert_names_them():
    with pytest.raises(ModelFormatError) as caught:
        convert(object(), TRAIN.head(5), target="default")
    assert "LightGBM" in caught.value.message_en and "XGBoost" in caught.value.message_zh


def test_when_onnx_would_predict_differently_then_convert_refuses(logistic, monkeypatch):
    fitted, _ = logistic
    from sdk import onnx_convert

    real = onnx_convert._expected
    monkeypatch.setattr(onnx_convert, "_expected", lambda *a: real(*a) + 0.01)
    with pytest.raises(ModelFormatError, match=r"largest difference 0\.01"):
        convert(fitted, TRAIN.head(20), target="default")


# --- LightGBM and XGBoost --------------------------------------------------------------------


def _depth(node: dict) -> int:
    children = [node[k] for k in ("left_child", "right_child") if k in node]
    return 1 + max(_depth(c) for c in children) if children else 0


def _thresholds(node: dict) -> list[float]:
    if "threshold" not in node:
        return []
    return [node["threshold"], *_thresholds(node["left_child"]), *_thresholds(node["right_child"])]  # fmt: skip


def test_when_a_lightgbm_classifier_is_converted_then_trees_and_thresholds_show():
    import lightgbm

    x, y = TRAIN[NUMBERS], TRAIN["default"]
    fitted = lightgbm.LGBMClassifier(n_estimators=7, max_depth=3, verbose=-1).fit(x, y)
    model = convert(fitted, TRAIN.head(100), target="default")
    assert np.allclose(model.predict(HELD_OUT), fitted.predict_proba(HELD_OUT[NUMBERS])[:, 1], atol=1e-4)  # fmt: skip
    trees = fitted.booster_.dump_model()["tree_info"]
    summary = model.summary()
    assert summary.trees == 7 == len(trees)
    assert summary.max_depth == max(_depth(t["tree_structure"]) for t in trees)
    assert summary.class_labels == ["0", "1"]
    assert summary.inputs == [{"name": "input", "type": "tensor(float)", "shape": [None, 2]}]
    assert summary.features == NUMBERS and summary.operators["ai.onnx.ml.TreeEnsembleClassifier"] == 1  # fmt: skip
    threshold = _thresholds(trees[0]["tree_structure"])[0]
    assert np.isclose([x for x in model.numbers() if isinstance(x, float)], threshold, rtol=1e-6).any()  # fmt: skip


def test_when_a_lightgbm_regressor_is_converted_then_it_predicts_values():
    import lightgbm

    fitted = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1).fit(TRAIN[NUMBERS], TRAIN["cost"])
    model = convert(fitted, TRAIN.head(100), target="cost")
    assert model.task == "regression"
    assert np.allclose(model.predict(HELD_OUT), fitted.predict(HELD_OUT[NUMBERS]), rtol=1e-5)


def test_when_a_pipeline_ends_in_lightgbm_then_it_converts_with_its_categories():
    import lightgbm

    final = lightgbm.LGBMClassifier(n_estimators=6, max_depth=3, verbose=-1)
    fitted = pipeline(final).fit(TRAIN[FEATURES], TRAIN["default"])
    model = convert(fitted, TRAIN.head(100), target="default")
    assert np.allclose(model.predict(HELD_OUT), fitted.predict_proba(HELD_OUT[FEATURES])[:, 1], atol=1e-4)  # fmt: skip
    summary = model.summary()
    assert summary.categories == {"region": sorted(REGIONS)} and summary.trees == 6
    assert 1 <= summary.max_depth <= 3 and summary.inputs[2]["type"] == "tensor(string)"


def test_when_a_pipeline_ends_in_xgboost_then_convert_refuses_it():
    import xgboost

    final = xgboost.XGBClassifier(n_estimators=5, max_depth=3)
    fitted = pipeline(final).fit(TRAIN[FEATURES], TRAIN["default"])
    with pytest.raises(ModelFormatError, match="could not be converted to ONNX"):
        convert(fitted, TRAIN.head(100), target="default")


@pytest.mark.parametrize("objective, task", [("binary", "classification"), ("regression", "regression")])  # fmt: skip
def test_when_a_lightgbm_booster_with_gaps_is_converted_then_its_objective_sets_the_task(objective, task):  # fmt: skip
    import lightgbm

    train, held_out = TRAIN.copy(), HELD_OUT.copy()
    train.loc[::5, "income"] = np.nan
    held_out.loc[::4, "income"] = np.nan
    y = train["default" if task == "classification" else "cost"]
    data = lightgbm.Dataset(train[NUMBERS], y)
    booster = lightgbm.train({"objective": objective, "verbose": -1}, data, num_boost_round=5)
    model = convert(booster, train.head(100), target=str(y.name))
    assert model.task == task and model.summary().trees == 5
    assert np.allclose(model.predict(held_out), booster.predict(held_out[NUMBERS]), atol=1e-4, rtol=1e-5)  # fmt: skip


def test_when_an_xgboost_classifier_with_chinese_feature_names_is_converted_then_it_matches():
    import xgboost

    train = TRAIN.rename(columns={"income": "收入"})
    names = ["收入", "age"]
    fitted = xgboost.XGBClassifier(n_estimators=6, max_depth=3).fit(train[names], train["default"])
    model = convert(fitted, train.head(100), target="default")
    held_out = HELD_OUT.rename(columns={"income": "收入"})
    assert np.allclose(model.predict(held_out), fitted.predict_proba(held_out[names])[:, 1], atol=1e-4)  # fmt: skip
    assert fitted.get_booster().feature_names == names  # converted on a copy
    table = fitted.get_booster().trees_to_dataframe()
    summary = model.summary()
    assert summary.trees == 6 == table["Tree"].nunique()
    depth = table["ID"].map(lambda i: 0)  # the depth of each node, from its parent's
    for row in table.itertuples():
        for child in (row.Yes, row.No):
            if isinstance(child, str):
                depth[table["ID"] == child] = depth[row.Index] + 1
    assert summary.max_depth == depth.max() and summary.class_labels == ["0", "1"]
    assert model.features == ("收入", "age") and "收入" in model.data_strings()
    split = float(table["Split"].dropna().iloc[0])
    assert np.isclose([x for x in model.numbers() if isinstance(x, float)], split, rtol=1e-6).any()


# --- refusals: files built by someone who wants something out ---------------------------------

META = {
    "shuyu.format": FORMAT,
    "shuyu.target": "y",
    "shuyu.task": "regression",
    "shuyu.features": '["x"]',
}


def made(
    nodes,
    *,
    inputs=None,
    outputs=None,
    initializers=(),
    opsets=(("", 18), ("ai.onnx.ml", 3)),
    meta=None,
    functions=(),
) -> bytes:
    """A hand-built model: by default one float input x and one float output y of shape [N, 1]."""
    graph = h.make_graph(
        nodes,
        "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])] if inputs is None else inputs,
        outputs or [h.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
        initializer=list(initializers),
    )
    model = h.make_model(
        graph, opset_imports=[h.make_opsetid(d, v) for d, v in opsets], functions=list(functions)
    )
    model.ir_version = 8
    for k, v in (META if meta is None else meta).items():
        model.metadata_props.add(key=k, value=v)
    return model.SerializeToString()


def test_when_a_hand_built_model_follows_the_rules_then_it_loads():
    model = load(made([h.make_node("Mul", ["x", "two"], ["y"])],
                      initializers=[h.make_tensor("two", TensorProto.FLOAT, [], [2.0])]))  # fmt: skip
    assert np.allclose(model.predict(pd.DataFrame({"x": [1.0, 2.5]})), [2.0, 5.0])
    assert model.numbers() == [2.0, 0.5] and model.data_strings() == ["x", "y"]


def test_when_a_tree_loops_back_on_itself_then_the_summary_still_ends():
    tree = h.make_node(
        "TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", n_targets=1,
        nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0],
        nodes_modes=["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"], nodes_values=[0.5, 0.7, 0.0],
        nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 2, 0],
        target_treeids=[0], target_nodeids=[2], target_ids=[0], target_weights=[1.0],
    )  # fmt: skip
    out = [h.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])]
    summary = load(made([tree], outputs=out)).summary()  # a cycle is cut where it closes
    assert summary.trees == 1 and summary.max_depth in (1, 2)


def test_when_a_label_encoder_turns_text_into_numbers_then_its_keys_are_categories():
    keys = h.make_tensor("k", TensorProto.STRING, [2], ["上城区".encode(), b"b"])
    values = h.make_tensor("v", TensorProto.FLOAT, [2], [0.25, 0.75])
    default = h.make_tensor("d", TensorProto.FLOAT, [1], [0.5])
    node = h.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml",
                       keys_tensor=keys, values_tensor=values, default_tensor=default)  # fmt: skip
    text = [h.make_tensor_value_info("x", TensorProto.STRING, [None, 1])]
    model = load(made([node], inputs=text, opsets=(("", 18), ("ai.onnx.ml", 4))))
    assert model.categories() == {"x": ["上城区", "b"]}
    assert np.allclose(model.predict(pd.DataFrame({"x": ["上城区", "b", None]})), [0.25, 0.75, 0.5])


def test_when_an_operator_of_a_custom_domain_is_used_then_load_refuses():
    node = h.make_node("Exfiltrate", ["x"], ["y"], domain="evil.corp")
    assert_refused(made([node], opsets=(("", 18), ("evil.corp", 1))), "domain", "evil.corp")
    node = h.make_node("Exfiltrate", ["x"], ["y"], domain="evil.corp")
    assert_refused(made([node]), "Exfiltrate", "evil.corp")


@pytest.mark.parametrize("op", ["StringConcat", "RegexFullMatch", "StringSplit", "StringNormalizer"])  # fmt: skip
def test_when_a_text_operator_is_used_then_load_refuses(op):
    text = [h.make_tensor_value_info("x", TensorProto.STRING, [None, 1])]
    inputs = ["x", "x"] if op == "StringConcat" else ["x"]
    node = h.make_node(op, inputs, ["y"])
    assert_refused(made([node], inputs=text, opsets=(("", 20),)), f"operator '{op}' is not allowed")


def test_when_a_number_is_cast_to_text_then_load_refuses():
    node = h.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)
    out = [h.make_tensor_value_info("y", TensorProto.STRING, [None, 1])]
    assert_refused(made([node], outputs=out), "Cast to string")


def test_when_a_node_holds_a_subgraph_then_load_refuses():
    branch = h.make_graph(
        [h.make_node("Identity", ["x"], ["z"])],
        "b",
        [],
        [h.make_tensor_value_info("z", TensorProto.FLOAT, [None, 1])],  # fmt: skip
    )
    cond = h.make_tensor("c", TensorProto.BOOL, [], [True])
    node = h.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    assert_refused(made([node], initializers=[cond]), "'If' holds a subgraph")
    loop = h.make_node("Loop", ["", "c"], ["y"], body=branch)
    assert_refused(made([loop], initializers=[cond]), "'Loop' holds a subgraph")


def test_when_an_initializer_lives_in_an_external_file_then_load_refuses():
    tensor = h.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="/etc/shadow")
    node = h.make_node("Add", ["x", "w"], ["y"])
    assert_refused(made([node], initializers=[tensor]), "external data")


def test_when_a_label_encoder_produces_text_then_load_refuses():
    node = h.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml",
                       keys_int64s=[1, 2], values_strings=["张三", "13800000000"])  # fmt: skip
    ints = [h.make_tensor_value_info("x", TensorProto.INT64, [None, 1])]
    out = [h.make_tensor_value_info("y", TensorProto.STRING, [None, 1])]
    assert_refused(made([node], inputs=ints, outputs=out), "LabelEncoder that produces text")
    node = h.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml", keys_int64s=[1],
                       values_int64s=[1], default_string="张三")  # fmt: skip
    assert_refused(made([node], inputs=ints), "LabelEncoder that produces text")


def test_when_text_is_smuggled_in_a_constant_or_an_initializer_then_load_refuses():
    words = h.make_tensor("w", TensorProto.STRING, [1], [b"13800000000"])
    node = h.make_node("Identity", ["x"], ["y"])
    assert_refused(made([node], initializers=[words]), "initializer 'w' is a tensor of text")
    constant = h.make_node("Constant", [], ["c"], value_strings=["张三"])
    assert_refused(made([constant, node]), "'Constant'.'value_strings' holds text")
    shaped = h.make_node("ConstantOfShape", ["s"], ["c"], value=words)
    assert_refused(made([shaped, node]), "is a tensor of text")


def test_when_a_keyword_attribute_carries_free_text_then_load_refuses():
    node = h.make_node("Scaler", ["x"], ["y"], domain="ai.onnx.ml", offset=[0.0], scale=[1.0])
    node.attribute.append(h.make_attribute("note", "张三 110101199001011234"))
    assert_refused(made([node]), "'note' holds text")
    linear = h.make_node("LinearRegressor", ["x"], ["y"], domain="ai.onnx.ml",
                         coefficients=[1.0], post_transform="张三")  # fmt: skip
    assert_refused(made([linear]), "'post_transform' holds text")


def test_when_a_label_attribute_sits_on_an_operator_that_does_not_read_it_then_load_refuses():
    node = h.make_node("Scaler", ["x"], ["y"], domain="ai.onnx.ml", offset=[0.0], scale=[1.0],
                       cats_strings=["张三"])  # fmt: skip
    assert_refused(made([node]), "'cats_strings' holds text")


def test_when_metadata_hides_inside_the_graph_then_load_refuses():
    model = onnx.load_from_string(made([h.make_node("Identity", ["x"], ["y"])]))
    model.graph.node[0].metadata_props.add(key="note", value="张三 13800000000")
    assert_refused(model.SerializeToString(), "metadata inside the graph")


def test_when_an_attribute_carries_a_second_value_of_another_kind_then_load_refuses():
    model = onnx.load_from_string(made([h.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)]))
    branch = h.make_graph([], "b", [], [])
    model.graph.node[0].attribute[0].graphs.append(branch)
    assert_refused(model.SerializeToString(), "holds a subgraph")


def test_when_a_model_defines_functions_then_load_refuses():
    function = h.make_function("evil.corp", "F", ["a"], ["b"], [h.make_node("Identity", ["a"], ["b"])],
                               [h.make_opsetid("", 18)])  # fmt: skip
    assert_refused(made([h.make_node("Identity", ["x"], ["y"])], functions=[function]), "model-local functions")  # fmt: skip


def test_when_the_metadata_is_wrong_missing_or_extra_then_load_refuses():
    node = [h.make_node("Identity", ["x"], ["y"])]
    assert_refused(made(node, meta=META | {"shuyu.comment": "张三"}), "unexpected metadata 'shuyu.comment'")  # fmt: skip
    assert_refused(made(node, meta=META | {"author": "x"}), "unexpected metadata 'author'")
    missing = {k: v for k, v in META.items() if k != "shuyu.target"}
    assert_refused(made(node, meta=missing), "shuyu.target missing")
    assert_refused(made(node, meta=META | {"shuyu.format": "shuyu-model/1"}), "shuyu.format")
    assert_refused(made(node, meta=META | {"shuyu.task": "ranking"}), "shuyu.task")
    assert_refused(made(node, meta=META | {"shuyu.features": "x"}), "does not parse")
    assert_refused(made(node, meta=META | {"shuyu.threshold": "nan"}), "shuyu.threshold")
    assert_refused(made(node, meta=META | {"shuyu.key": '{"dataset": "d"}'}), "shuyu.key")


def test_when_inputs_or_outputs_break_the_convention_then_load_refuses():
    node = [h.make_node("Identity", ["x"], ["y"])]
    assert_refused(made(node, meta=META | {"shuyu.features": '["x", "z"]'}), "input 'x'")
    fixed = [h.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])]
    assert_refused(made(node, inputs=fixed), "input 'x' breaks the convention")
    wide = META | {"shuyu.features": '["a", "b"]'}
    matrix = [h.make_tensor_value_info("张三", TensorProto.FLOAT, [None, 2])]
    named = made([h.make_node("ReduceSum", ["张三"], ["y"], keepdims=1)], inputs=matrix, meta=wide)
    assert_refused(named, "input '张三' breaks the convention")
    constant = h.make_node("Constant", [], ["y"], value=h.make_tensor("v", TensorProto.FLOAT, [1, 1], [1.0]))  # fmt: skip
    assert_refused(made([constant], inputs=[]), "no inputs")
    classifier = META | {"shuyu.task": "classification"}
    assert_refused(made(node, meta=classifier), "probabilities")
    two = [h.make_node("Identity", ["x"], ["y"]), h.make_node("Identity", ["x"], ["z"])]
    outs = [h.make_tensor_value_info(n, TensorProto.FLOAT, [None, 1]) for n in "yz"]
    assert_refused(made(two, outputs=outs), "one float output")


def test_when_a_doc_string_carries_text_then_load_refuses():
    model = onnx.load_from_string(made([h.make_node("Identity", ["x"], ["y"])]))
    model.graph.node[0].doc_string = "张三 13800000000"
    assert_refused(model.SerializeToString(), "doc_string")


def test_when_the_file_is_larger_than_the_limit_then_load_refuses(tmp_path):
    big = made([h.make_node("Identity", ["x"], ["y"])]) + b"\x00" * MAX_BYTES
    assert_refused(big, "larger than 50 MB")
    path = tmp_path / "model.onnx"
    path.write_bytes(big)
    assert_refused(path, "larger than 50 MB")


def test_when_the_hub_sets_a_lower_size_limit_then_load_applies_it():
    small = made([h.make_node("Identity", ["x"], ["y"])])
    assert load(small, max_bytes=len(small)).features == ("x",)
    with pytest.raises(ModelFormatError, match="larger than"):
        load(small, max_bytes=len(small) - 1)
    with pytest.raises(ModelFormatError, match="larger than 50 MB"):
        load(small + b"\x00" * MAX_BYTES, max_bytes=MAX_BYTES * 2)  # never above MAX_BYTES


@pytest.mark.parametrize("garbage", [b"\xff" * 64, b"not a model at all", b"", b"\x08\x07"])
def test_when_the_file_is_not_onnx_then_load_refuses(garbage):
    error = assert_refused(garbage)
    assert "does not parse as ONNX" in str(error) or "it is not an ONNX model" in str(error)


def test_when_load_is_given_a_text_path_then_it_asks_for_bytes_or_a_path():
    assert_refused("model.onnx", "pass bytes or a pathlib.Path")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "node, extra",
    [
        (h.make_node("Expand", ["x", "big"], ["y"]), [10**9, 10**9]),
        (h.make_node("Tile", ["x", "big"], ["y"]), [10**9, 10**9]),
        (h.make_node("ConstantOfShape", ["big"], ["y"]), [10**9, 10**9]),
    ],
    ids=["Expand", "Tile", "ConstantOfShape"],
)
def test_when_a_constant_could_blow_a_tensor_up_then_load_refuses(node, extra):
    big = h.make_tensor("big", TensorProto.INT64, [len(extra)], extra)
    assert_refused(made([node], initializers=[big]), f"operator '{node.op_type}' is not allowed")


def test_when_names_are_long_unprintable_or_shown_to_reviewers_then_they_are_plain():
    def renamed(change) -> bytes:
        model = onnx.load_from_string(made([h.make_node("Identity", ["x"], ["y"], "n")]))
        change(model)
        return model.SerializeToString()

    long_name = renamed(lambda m: setattr(m.graph.node[0], "name", "张" * 200))
    assert_refused(long_name, "too long or holds control characters")
    control = renamed(lambda m: setattr(m.graph, "name", "a\nb"))
    assert_refused(control, "too long or holds control characters")
    producer = renamed(lambda m: setattr(m, "producer_name", "张三 13800000000"))
    assert_refused(producer, "producer or domain")
    output = onnx.load_from_string(made([h.make_node("Identity", ["x"], ["张三"])],
                                        outputs=[h.make_tensor_value_info("张三", TensorProto.FLOAT, [None, 1])]))  # fmt: skip
    assert_refused(output.SerializeToString(), "output name")


BLOW_UP = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a broken cap fails here, not the host
import numpy as np, pandas as pd
from onnx import helper as h, numpy_helper, TensorProto
from sdk.onnxmodel import ModelFormatError, load
from tests.test_onnxmodel import made
wide = numpy_helper.from_array(np.zeros((1, 1_000_000), np.float32), "wide")
axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
sums = h.make_node("ReduceSum", ["t", "axes"], ["y"], keepdims=1)
model = load(made([h.make_node("Add", ["x", "wide"], ["t"]), sums], initializers=[wide, axes]))
print(model.predict(pd.DataFrame({"x": [1.0, 2.0]})).tolist())
try:
    model.predict(pd.DataFrame({"x": np.ones(200)}))  # 800 MB of float32 in one tensor
    print("ran")
except ModelFormatError as e:
    print("refused", "over 512 MB of memory" in str(e), "smaller than requested" in str(e.__cause__))
"""


def test_when_a_model_broadcasts_a_few_rows_past_the_memory_cap_then_its_run_fails_alone():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", BLOW_UP], cwd=root, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.stdout.split("\n")[:2] == ["[1000000.0, 2000000.0]", "refused True True"], done.stderr[-2000:]  # fmt: skip


def test_when_an_integer_input_gets_a_gap_then_predict_says_so():
    ints = [h.make_tensor_value_info("x", TensorProto.INT64, [None, 1])]
    model = load(made([h.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], inputs=ints))
    assert np.allclose(model.predict(pd.DataFrame({"x": [1, 2]})), [1.0, 2.0])
    with pytest.raises(ModelFormatError, match="takes integers"):
        model.predict(pd.DataFrame({"x": [1.0, None]}))


def test_when_a_bare_estimator_is_converted_then_it_takes_one_matrix_input():
    from sklearn.ensemble import RandomForestClassifier

    fitted = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0)
    fitted.fit(TRAIN[NUMBERS], TRAIN["default"])
    model = convert(fitted, TRAIN.head(100), target="default")
    assert model.summary().inputs == [{"name": "input", "type": "tensor(float)", "shape": [None, 2]}]  # fmt: skip
    assert (model.summary().trees, model.summary().max_depth) == (3, 3)
    assert np.allclose(model.predict(HELD_OUT), fitted.predict_proba(HELD_OUT[NUMBERS])[:, 1], atol=1e-4)  # fmt: skip


def _field(number: int, payload: bytes) -> bytes:
    from google.protobuf.internal import encoder

    return encoder._VarintBytes(number << 3 | 2) + encoder._VarintBytes(len(payload)) + payload


def test_when_bytes_hide_in_fields_onnx_does_not_define_then_load_refuses():
    plain = made([h.make_node("Identity", ["x"], ["y"])])
    assert_refused(plain + _field(99, "张三 13800000000".encode()), "fields ONNX does not define")
    node = h.make_node("Identity", ["x"], ["y"]).SerializeToString() + _field(77, b"hidden")
    graph = onnx.load_from_string(plain).graph
    hidden = graph.SerializeToString() + _field(1, node)  # a second node, with an unknown field
    model = onnx.load_from_string(plain)
    model.ClearField("graph")
    assert_refused(model.SerializeToString() + _field(7, hidden), "fields ONNX does not define")


def test_when_a_tensor_carries_more_than_its_shape_says_then_load_refuses():
    padded = h.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    padded.ClearField("float_data")
    padded.raw_data = np.zeros(25, np.float32).tobytes()  # 24 numbers more than its shape holds
    node = h.make_node("Add", ["x", "w"], ["y"])
    assert_refused(made([node], initializers=[padded]), "does not fit its shape")
    twice = h.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    twice.raw_data = np.zeros(1, np.float32).tobytes()  # float_data too, which nothing reads
    assert_refused(made([node], initializers=[twice]), "holds its data twice")


def test_when_an_initializer_is_read_by_nothing_then_load_refuses():
    unread = h.make_tensor("payload", TensorProto.DOUBLE, [2], [13800000000.0, 110101.0])
    node = h.make_node("Identity", ["x"], ["y"])
    assert_refused(made([node], initializers=[unread]), "initializer 'payload' is read by nothing")


def test_when_a_node_names_a_function_overload_then_load_refuses():
    model = onnx.load_from_string(made([h.make_node("Identity", ["x"], ["y"])]))
    model.graph.node[0].overload = "13800000000"
    assert_refused(model.SerializeToString(), "the ONNX field overload")


def test_when_a_field_is_written_twice_then_load_refuses():
    plain = made([h.make_node("Identity", ["x"], ["y"])])
    producer = _field(2, b"skl2onnx")  # producer_name again: the parser keeps the last one
    assert_refused(plain + producer + producer, "bytes beyond its fields")


def test_when_the_onnx_checker_finds_a_broken_graph_then_load_refuses():
    node = h.make_node("Add", ["x", "nowhere"], ["y"])
    assert_refused(made([node]), "checker")


# --- models published in the retired JSON format -------------------------------------------

LEGACY = Path(__file__).parent / "fixtures" / "legacy_models"
KINDS = ["logistic", "linear", "lookup_probability", "lookup_value"]


def legacy_rows() -> tuple[pd.DataFrame, dict]:
    expectations = json.loads((LEGACY / "expectations.json").read_text(encoding="utf-8"))
    return pd.DataFrame(expectations["rows"]), expectations


@pytest.mark.parametrize("kind", KINDS)
def test_when_a_legacy_fixture_is_migrated_then_it_predicts_what_the_old_model_did(kind):
    """The expectations were computed by the retired sdk.modelfile when the fixtures were made."""
    spec = json.loads((LEGACY / f"{kind}.json").read_text(encoding="utf-8"))
    rows, expectations = legacy_rows()
    model = load(from_legacy(spec))
    assert np.allclose(model.predict(rows), expectations["predictions"][kind], rtol=0, atol=1e-5)
    losses = np.array([np.nan if v is None else v for v in expectations["losses"][kind]])
    assert np.allclose(model.loss(rows), losses, atol=1e-5, equal_nan=True)
    assert model.features == tuple(spec["features"]) and model.target == spec["target"]
    assert model.task == ("regression" if kind in ("linear", "lookup_value") else "classification")


def test_when_a_legacy_logistic_model_is_migrated_then_its_key_threshold_and_labels_carry_over():
    spec = json.loads((LEGACY / "logistic.json").read_text(encoding="utf-8"))
    model = load(from_legacy(spec))
    rows, _ = legacy_rows()
    assert model.key == {"dataset": "credit_records", "column": "企业编号"}
    assert model.threshold == 0.35 and (model.answer(rows) == (model.predict(rows) >= 0.35)).all()
    summary = model.summary()
    assert summary.categories == {"region": spec["encoders"]["region"]["categories"]}
    assert {"企业编号", "上城区", "income", "default"} <= set(model.data_strings())
    assert "credit_records" in model.strings()  # the key's dataset is scanned, not data
    assert spec["weights"][0] in model.numbers() and spec["intercept"] in model.numbers()
    assert summary.operators["Sigmoid"] == 1 and summary.producer == "shuyu-legacy"


def test_when_a_legacy_lookup_is_migrated_then_its_keys_are_the_categories():
    spec = json.loads((LEGACY / "lookup_probability.json").read_text(encoding="utf-8"))
    categories = load(from_legacy(spec)).categories()
    assert set(categories) == {"region", "band"}
    assert set(categories["region"]) == {"上城区", "西湖区", "滨江区"}  # null is no category
    assert set(categories["band"]) == {"1", "2", "3"}


def test_when_lookup_keys_mix_numbers_text_and_nulls_then_they_match_as_text():
    spec = {
        "format": "shuyu-model/1", "kind": "lookup", "target": "y", "features": ["band", "n"],
        "table": {"keys": [["a", 1], ["b", None], ["c", True], ["a", 2.5]], "values": [0.9, 0.2, 0.7, 0.4]},  # fmt: skip
        "default": 0.5,
    }  # fmt: skip
    frame = pd.DataFrame({"band": ["a", "b", "c", "a", "a", "b", None],
                          "n": [1.0, None, "True", 2.5, 3.0, 1.0, 1.0]})  # fmt: skip
    model = load(from_legacy(spec))
    assert np.allclose(model.predict(frame), [0.9, 0.2, 0.7, 0.4, 0.5, 0.5, 0.5])


@pytest.mark.parametrize(
    "change, words",
    [
        ({"format": "shuyu-model/2"}, "format tag"),
        ({"kind": "forest"}, "kind"),
        ({"extra": 1}, "fields"),
        ({"weights": [1.0]}, "weights"),
        ({"intercept": float("nan")}, "intercept"),
        ({"encoders": {"income": {"type": "standard", "mean": 0.0, "std": 0.0}}}, "encoder"),
    ],
)
def test_when_a_legacy_spec_is_invalid_then_from_legacy_refuses(change, words):
    spec = json.loads((LEGACY / "linear.json").read_text(encoding="utf-8")) | change
    with pytest.raises(ModelFormatError, match=words) as caught:
        from_legacy(spec)
    assert HAN.search(caught.value.message_zh)


# --- job.save_model ---------------------------------------------------------------------------


@pytest.fixture
def job_output(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SHUYU_JOB_OUTPUT", str(tmp_path))
    return tmp_path


def test_when_a_job_saves_a_fitted_model_then_the_checked_onnx_file_is_written(job_output, logistic):  # fmt: skip
    from sdk import job

    fitted, _ = logistic
    path = job.save_model(fitted, sample=TRAIN.head(100), target="default", threshold=0.4)
    assert path == job_output / "model.onnx"
    model = load(path)
    assert model.threshold == 0.4 and model.target == "default"
    assert np.allclose(model.predict(HELD_OUT), fitted.predict_proba(HELD_OUT[FEATURES])[:, 1], atol=1e-4)  # fmt: skip


def test_when_a_job_saves_onnx_it_already_has_then_it_is_checked_and_written_as_is(job_output, logistic):  # fmt: skip
    from sdk import job

    _, model = logistic
    assert job.save_model(model, "a.onnx").read_bytes() == model.content
    assert job.save_model(model.content, "b.onnx").read_bytes() == model.content
    bad = made([h.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)])
    with pytest.raises(ModelFormatError, match="Cast to string"):
        job.save_model(bad, "c.onnx")
    assert not (job_output / "c.onnx").exists()


def test_when_a_job_saves_a_fitted_model_without_a_sample_then_it_is_told_what_to_give(job_output, logistic):  # fmt: skip
    from sdk import job

    with pytest.raises(ModelFormatError, match="needs sample"):
        job.save_model(logistic[0], target="default")
    assert list(job_output.iterdir()) == []


def test_when_a_credit_model_reads_many_long_named_features_then_it_converts_and_loads():
    """A scorecard of a few hundred features with descriptive names: the list of features is
    longer than any other text a model may hold, and each name is still checked on its own."""
    import lightgbm

    rng = np.random.default_rng(3)
    names = [f"近12个月_纳税申报_指标_{i:03d}" for i in range(300)]
    frame = pd.DataFrame(rng.normal(size=(300, 300)), columns=names).astype("float32")
    frame["default"] = (frame[names[0]] > 0).astype(int)
    fitted = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(frame[names], frame["default"])
    model = load(convert(fitted, frame.head(50), target="default").content)
    assert model.features == tuple(names) and names[-1] in model.data_strings()
    assert np.allclose(model.predict(frame), fitted.predict_proba(frame[names])[:, 1], atol=1e-4)


def test_when_a_boosted_model_is_trained_on_true_false_labels_then_convert_says_what_to_do():
    import lightgbm

    fitted = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1)
    fitted.fit(TRAIN[NUMBERS], TRAIN["default"].astype(bool))
    with pytest.raises(ModelFormatError) as refused:
        convert(fitted, TRAIN.head(50), target="default")
    assert "y.astype(int)" in str(refused.value) and HAN.search(refused.value.message_zh)


def test_when_a_feature_name_is_a_page_of_text_then_the_model_is_refused():
    from sklearn.linear_model import LinearRegression

    frame = TRAIN.rename(columns={"income": "收入" * 100})
    fitted = LinearRegression().fit(frame[["收入" * 100, "age"]], frame["cost"])
    with pytest.raises(ModelFormatError, match="feature name is over 128"):
        convert(fitted, frame.head(20), target="cost")
