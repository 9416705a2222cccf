"""Hand-built ``shuyu-onnx/1`` models for tests: what an attacker writes by hand with
``onnx.helper`` rather than a converter (made-up categories, coefficients spelling an ID, an
operator outside the allowlist). Each is a valid ONNX file; the review checks must still fail it."""

from __future__ import annotations

import json

import onnx
from onnx import TensorProto, helper

ML = "ai.onnx.ml"
OPSET = [helper.make_opsetid("", 15), helper.make_opsetid(ML, 3)]


def _model(nodes, inputs, outputs, *, target, task, features, initializers=(), key=None,
           threshold=None, name="model") -> bytes:  # fmt: skip
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="hand")
    model.ir_version = 8
    meta = {"shuyu.format": "shuyu-onnx/1", "shuyu.target": target, "shuyu.task": task,
            "shuyu.features": json.dumps(features, ensure_ascii=False)}  # fmt: skip
    if threshold is not None:
        meta["shuyu.threshold"] = repr(float(threshold))
    if key:
        meta["shuyu.key"] = json.dumps(key, ensure_ascii=False)
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def _float_input(name: str):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1])


def linear(features: list[str], coefficients: list[float], intercept: float, target: str, *,
           key: dict | None = None, threshold: float | None = None, double: bool = False,
           offsets: list[float] | None = None, name: str = "model") -> bytes:  # fmt: skip
    """A regression ``intercept + Σ coefficient × (feature − offset)`` over float inputs: a
    LinearRegressor (float32 attributes), or with ``double`` a MatMul over float64 initializers
    (which keep 17 digits); ``offsets`` adds a Scaler before it."""
    nodes = [helper.make_node("Concat", list(features), ["concat_"], axis=1)]
    initializers = []
    source = "concat_"
    if offsets is not None:
        nodes.append(helper.make_node("Scaler", ["concat_"], ["scaled_"], domain=ML, offset=offsets,
                                      scale=[1.0] * len(offsets)))  # fmt: skip
        source = "scaled_"
    if double:
        initializers = [
            helper.make_tensor("coef_", TensorProto.DOUBLE, [len(features), 1], coefficients),
            helper.make_tensor("bias_", TensorProto.DOUBLE, [1], [intercept]),
        ]
        nodes += [
            helper.make_node("Cast", [source], ["double_"], to=TensorProto.DOUBLE),
            helper.make_node("MatMul", ["double_", "coef_"], ["product_"]),
            helper.make_node("Add", ["product_", "bias_"], ["sum_"]),
            helper.make_node("Cast", ["sum_"], ["variable"], to=TensorProto.FLOAT),
        ]
    else:
        nodes.append(helper.make_node("LinearRegressor", [source], ["variable"], domain=ML,
                                      coefficients=coefficients, intercepts=[intercept], targets=1))  # fmt: skip
    out = helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])
    return _model(nodes, [_float_input(f) for f in features], [out], target=target,
                  task="regression", features=features, key=key, threshold=threshold,
                  initializers=initializers, name=name)  # fmt: skip


def onehot_regression(feature: str, categories: list[str], weights: list[float], target: str,
                      key: dict | None = None, threshold: float | None = None) -> bytes:  # fmt: skip
    """A regression over one text feature: a OneHotEncoder over ``categories`` (any strings its
    author chose), then a LinearRegressor with a weight per category."""
    nodes = [
        helper.make_node("OneHotEncoder", [feature], ["onehot"], domain=ML,
                         cats_strings=categories, zeros=1),
        helper.make_node("Flatten", ["onehot"], ["flat_"], axis=1),
        helper.make_node("LinearRegressor", ["flat_"], ["variable"], domain=ML,
                         coefficients=weights, intercepts=[0.0], targets=1),
    ]  # fmt: skip
    text = helper.make_tensor_value_info(feature, TensorProto.STRING, [None, 1])
    out = helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])
    return _model(nodes, [text], [out], target=target, task="regression", features=[feature],
                  key=key, threshold=threshold)  # fmt: skip


def with_operator(op: str, domain: str = "", feature: str = "x", **attrs) -> bytes:
    """A regression whose only node is ``op`` (an identity-like op outside the allowlist)."""
    graph = helper.make_graph(
        [helper.make_node(op, [feature], ["variable"], domain=domain, **attrs)], "model",
        [helper.make_tensor_value_info(feature, TensorProto.STRING, [None, 1])],
        [helper.make_tensor_value_info("variable", TensorProto.STRING, [None, 1])],
    )  # fmt: skip
    opsets = [*OPSET, *([helper.make_opsetid(domain, 1)] if domain not in ("", ML) else [])]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="hand")
    model.ir_version = 8
    helper.set_model_props(model, {"shuyu.format": "shuyu-onnx/1", "shuyu.target": "y",
                                   "shuyu.task": "regression", "shuyu.features": json.dumps([feature])})  # fmt: skip
    return model.SerializeToString()
