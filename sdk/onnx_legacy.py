"""Models published in the retired ``shuyu-model/1`` JSON format, as ``shuyu-onnx/1`` graphs.

The old format had three kinds (its fitting code is gone; this reads what was published):

- ``logistic`` / ``linear``: one encoder per feature, ``{"type": "standard", "mean", "std"}``
  (missing → the mean, then standardized) or ``{"type": "onehot", "categories"}`` (values compared
  as text, unseen or missing → zeros); ``weights`` over the encoded vector in feature order and an
  ``intercept``; logistic applies the sigmoid.
- ``lookup``: ``table.keys`` (one list of feature values per row, ``null`` for missing, compared
  as text) → ``table.values``, ``default`` for unknown tuples; ``"output": "probability"`` (the
  default) or ``"value"``.

All may carry ``threshold`` and ``key``. The graphs compute in double precision (inputs of
numeric features are double) so predictions equal the old ones: standard features through
IsNaN/Where/Sub/Div, categories through OneHotEncoder, the linear part through MatMul/Add and
Sigmoid; a lookup through one LabelEncoder (text → code) per feature, codes combined
arithmetically and renumbered by an int64 LabelEncoder after each feature, and a Gather of the
values (the default last).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from onnx import helper as h

from sdk.onnx_format import MISSING, ModelFormatError, metadata, text_value

LEGACY = "shuyu-model/1"
_COMMON = {"format", "kind", "target", "features"}
_FIELDS = {
    "logistic": _COMMON | {"encoders", "weights", "intercept"},
    "linear": _COMMON | {"encoders", "weights", "intercept"},
    "lookup": _COMMON | {"table", "default"},
}
_OPTIONAL = {"threshold", "key", "output"}
_OPSETS = [h.make_opsetid("", 18), h.make_opsetid("ai.onnx.ml", 3)]
ML = "ai.onnx.ml"


def _bad(zh: str, en: str) -> ModelFormatError:
    return ModelFormatError(f"旧模型（{LEGACY}）无效：{zh}", f"the {LEGACY} model is invalid: {en}")


def _finite(values: Any, what: str) -> list[float]:
    items = values if isinstance(values, list) else [values]
    ok = all(type(v) in (int, float) and math.isfinite(v) for v in items)
    if not ok:
        raise _bad(f"{what} 须为有限数值", f"{what} must hold finite numbers")
    return [float(v) for v in items]


def _names(values: Any, what: str, *, empty_ok: bool = False) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _bad(f"{what} 须为字符串列表", f"{what} must be a list of strings")
    if len(set(values)) != len(values) or not all(v or empty_ok for v in values):
        raise _bad(f"{what} 有重复或空项", f"{what} has duplicates or empty names")
    if any(MISSING in v or "\x1f" in v for v in values):
        raise _bad(f"{what} 含控制字符", f"{what} holds control characters")
    return values


def _read(spec: Any) -> dict:
    """Refuse a spec the old format refused; the spec."""
    if not isinstance(spec, dict) or spec.get("format") != LEGACY:
        raise _bad(f"格式标记不是 {LEGACY}", f"the format tag is not {LEGACY}")
    kind = spec.get("kind")
    if kind not in _FIELDS:
        raise _bad("kind 须为 logistic | linear | lookup", "kind must be logistic|linear|lookup")
    if set(spec) - _FIELDS[kind] - _OPTIONAL or _FIELDS[kind] - set(spec):
        raise _bad("字段不对", f"the fields of a {kind} model are wrong")
    if "output" in spec and (kind != "lookup" or spec["output"] not in ("probability", "value")):
        raise _bad("output 须为 probability | value", "output must be probability|value")
    _names([spec["target"]], "target")
    features = _names(spec["features"], "features")
    if not features:
        raise _bad("features 为空", "features is empty")
    if "threshold" in spec:
        _finite(spec["threshold"], "threshold")
    key = spec.get("key", {"dataset": "-", "column": "-"})
    if not isinstance(key, dict) or set(key) != {"dataset", "column"}:
        raise _bad("key 须只含 dataset 与 column", "key must hold dataset and column only")
    for value in key.values():
        _names([value], "key")
    if kind == "lookup":
        return spec
    encoders = spec["encoders"]
    if not isinstance(encoders, dict) or set(encoders) != set(features):
        raise _bad("encoders 须为每个特征各有一个", "encoders must hold one per feature")
    width = 0
    for name in features:
        enc = encoders[name]
        if isinstance(enc, dict) and enc.get("type") == "standard" and len(enc) == 3:
            _finite([enc.get("mean"), enc.get("std")], f"{name[:40]}.mean/std")
            if enc["std"] <= 0:
                raise _bad("std 须大于 0", "std must be positive")
            width += 1
        elif isinstance(enc, dict) and enc.get("type") == "onehot" and len(enc) == 2:
            width += len(_names(enc.get("categories"), "categories", empty_ok=True))
        else:
            raise _bad(f"特征 {name[:40]} 的编码器无效", f"bad encoder for {name[:40]}")
    if len(_finite(spec["weights"], "weights")) != width or not isinstance(spec["weights"], list):
        raise _bad(
            "weights 与编码后的特征数不一致", "weights and encoded features differ in number"
        )
    _finite(spec["intercept"], "intercept")
    return spec


class _Graph:
    """Nodes and constants under generated names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[TensorProto] = []

    def const(self, values: Any, dtype: Any = np.float64) -> str:
        name = f"c{len(self.constants)}"
        self.constants.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], *, domain: str = "", **attrs: Any) -> str:
        out = f"t{len(self.nodes)}"
        self.nodes.append(h.make_node(op_type, inputs, [out], f"n{len(self.nodes)}", domain=domain, **attrs))  # fmt: skip
        return out


def _linear(spec: dict, g: _Graph) -> tuple[str, dict[str, int]]:
    """The linear score z [N, 1] (double), and the input types by feature."""
    blocks, types = [], {}
    for name in spec["features"]:
        enc = spec["encoders"][name]
        if enc["type"] == "standard":
            types[name] = TensorProto.DOUBLE
            mean = g.const(enc["mean"])
            filled = g.op("Where", [g.op("IsNaN", [name]), mean, name])
            blocks.append(g.op("Div", [g.op("Sub", [filled, mean]), g.const(enc["std"])]))
            continue
        types[name] = TensorProto.STRING
        if enc["categories"]:
            hot = g.op("OneHotEncoder", [name], domain=ML, cats_strings=enc["categories"], zeros=1)  # fmt: skip
            flat = g.op("Reshape", [hot, g.const([-1, len(enc["categories"])], np.int64)])
            blocks.append(g.op("Cast", [flat], to=TensorProto.DOUBLE))
    weights = list(spec["weights"])
    if not blocks:  # every feature a one-hot without categories: a zero-weight dummy column
        first = spec["features"][0]
        hot = g.op("OneHotEncoder", [first], domain=ML, cats_strings=[MISSING], zeros=1)
        blocks.append(g.op("Cast", [g.op("Reshape", [hot, g.const([-1, 1], np.int64)])], to=TensorProto.DOUBLE))  # fmt: skip
        weights = [0.0]
    x = g.op("Concat", blocks, axis=1) if len(blocks) > 1 else blocks[0]
    w = g.const(np.asarray(weights, dtype=np.float64).reshape(-1, 1))
    return g.op("Add", [g.op("MatMul", [x, w]), g.const(spec["intercept"])]), types


def _lookup(spec: dict, g: _Graph) -> tuple[str, dict[str, int]]:
    """The looked-up value [N, 1] (double), and the input types (all text)."""
    features = spec["features"]
    table = spec["table"]
    if not isinstance(table, dict) or set(table) != {"keys", "values"}:
        raise _bad("table 须只含 keys 与 values", "table must hold keys and values only")
    keys, values = table["keys"], _finite(table["values"], "table.values")
    default = _finite(spec["default"], "default")[0]
    if not isinstance(keys, list) or len(keys) != len(values):
        raise _bad("keys 与 values 长度不一致", "keys and values differ in length")
    rows = []
    for key in keys:
        ok = type(key) is list and len(key) == len(features)
        ok = ok and all(v is None or type(v) in (str, int, bool, float) for v in key)
        if not ok or any(type(v) is float and not math.isfinite(v) for v in key):
            raise _bad("查找表的键无效", "a lookup key is invalid")
        rows.append(tuple(text_value(v) for v in key))
    if len(set(rows)) != len(rows):
        raise _bad("查找表有重复的键", "the lookup table has duplicate keys")
    if spec.get("output", "probability") == "probability" and any(not 0 <= v <= 1 for v in [*values, default]):  # fmt: skip
        raise _bad("概率须在 0 与 1 之间", "probabilities must lie in [0, 1]")
    types = dict.fromkeys(features, TensorProto.STRING)
    if not rows:  # only the default: every row reads index 0
        index = g.op("LabelEncoder", [features[0]], domain=ML, keys_strings=[MISSING],
                     values_int64s=[0], default_int64=0)  # fmt: skip
        return g.op("Gather", [g.const([default]), index], axis=0), types
    prefixes: list[tuple[str, ...]] = [()]
    code, ids = None, {(): 0}  # code: the row's prefix id so far (len(ids) = no such prefix)
    for i, name in enumerate(features):
        vocab = list(dict.fromkeys(row[i] for row in rows))
        part = g.op("LabelEncoder", [name], domain=ML, keys_strings=vocab,
                    values_int64s=list(range(len(vocab))), default_int64=len(vocab))  # fmt: skip
        width, at = len(vocab) + 1, {v: j for j, v in enumerate(vocab)}
        joined = part if code is None else g.op("Add", [g.op("Mul", [code, g.const(width, np.int64)]), part])  # fmt: skip
        prefixes = list(dict.fromkeys(row[: i + 1] for row in rows))
        old = ids
        ids = {p: j for j, p in enumerate(prefixes)}
        combined = [old[p[:-1]] * width + at[p[-1]] for p in prefixes]
        code = g.op("LabelEncoder", [joined], domain=ML, keys_int64s=combined,
                    values_int64s=list(range(len(prefixes))), default_int64=len(prefixes))  # fmt: skip
    order = [ids[row] for row in rows]  # full prefixes are the rows, numbered as they appear
    table_values = np.empty(len(rows) + 1)
    table_values[order] = values
    table_values[-1] = default
    return g.op("Gather", [g.const(table_values), code], axis=0), types


def from_legacy(spec: dict) -> bytes:
    """A ``shuyu-model/1`` spec as an equivalent ``shuyu-onnx/1`` file (per-feature inputs;
    predictions equal to the old ones).

    Raises:
        ModelFormatError: the spec is not a valid ``shuyu-model/1`` model.
    """
    spec = _read(spec)
    g = _Graph()
    kind = spec["kind"]
    score, types = _lookup(spec, g) if kind == "lookup" else _linear(spec, g)
    probability = kind == "logistic" or (kind == "lookup" and spec.get("output", "probability") == "probability")  # fmt: skip
    if kind == "logistic":
        score = g.op("Sigmoid", [score])
    if probability:
        both = g.op("Concat", [g.op("Sub", [g.const(1.0), score]), score], axis=1)
        g.nodes.append(h.make_node("Cast", [both], ["probabilities"], "probabilities", to=TensorProto.FLOAT))  # fmt: skip
        output = h.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])
    else:
        g.nodes.append(h.make_node("Identity", [score], ["variable"], "variable"))
        output = h.make_tensor_value_info("variable", TensorProto.DOUBLE, ["N", 1])
    inputs = [h.make_tensor_value_info(f, types[f], ["N", 1]) for f in spec["features"]]
    graph = h.make_graph(g.nodes, "legacy", inputs, [output], initializer=g.constants)
    model = h.make_model(graph, opset_imports=_OPSETS, producer_name="shuyu-legacy")
    model.ir_version = 8
    task = "classification" if probability else "regression"
    meta = metadata(spec["target"], task, spec["features"], spec.get("key"), spec.get("threshold"))
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    return model.SerializeToString()
