"""The ``shuyu-onnx/1`` file format: its conventions and the strict check of a file.

A model file comes from tenant code, so every part of it is suspect: it is parsed under a size
limit and read field by field before anything runs it. What may appear is listed, not what may
not: the operators of :data:`ALLOWED_OPS`, numeric constants, text only where a category or class
label needs it (and every such label must then occur in the approved training columns, which the
hub checks), the ``shuyu.*`` metadata and nothing else. :func:`check` applies the rules and
returns what the metadata says; :mod:`sdk.onnxmodel` is the public surface.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import pandas as pd
from google.protobuf.descriptor import FieldDescriptor
from onnx import AttributeProto, TensorProto

from sdk.errors import ShuyuError

FORMAT = "shuyu-onnx/1"
MAX_BYTES = 50 << 20
MAX_NODES = 50_000
MAX_TEXT = 1_024  # characters of any one string in the file
DOMAINS = {"": "", "ai.onnx": "", "ai.onnx.ml": "ai.onnx.ml"}  # as imported → canonical
TASKS = ("classification", "regression")
REQUIRED_META = ("shuyu.format", "shuyu.target", "shuyu.task", "shuyu.features")
OPTIONAL_META = ("shuyu.key", "shuyu.threshold")
MISSING = "\x00"  # a missing value fed to a text input (no category or key matches it)

# The operators a model may use, by domain, each group with why it is harmless: none reads files,
# draws random numbers, loops, holds a subgraph or makes text.
ALLOWED_OPS: dict[str, dict[str, tuple[str, ...]]] = {
    "": {
        "element-wise arithmetic": (
            "Abs", "Add", "Sub", "Mul", "Div", "Neg", "Pow", "Sqrt", "Exp", "Log", "Reciprocal",
            "Floor", "Ceil", "Round", "Sign", "Min", "Max", "Sum", "Mean", "Clip", "Erf", "Tanh",
            "Relu", "LeakyRelu", "Mod",
        ),
        "logic and comparison": (
            "Not", "And", "Or", "Xor", "Equal", "Greater", "GreaterOrEqual", "Less",
            "LessOrEqual", "Where", "IsNaN", "IsInf",
        ),
        "linear algebra and reductions": (
            "MatMul", "Gemm", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
            "ReduceLogSumExp", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ArgMax", "ArgMin",
            "CumSum",
        ),
        "probabilities": ("Sigmoid", "Softmax", "LogSoftmax"),
        "shapes and indexing": (
            "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice",
            "Gather", "GatherElements", "Expand", "Tile", "Shape", "Size", "Identity", "OneHot",
        ),
        "constants and casts (numbers only, checked per node)": (
            "Constant", "ConstantOfShape", "Cast",
        ),
    },
    "ai.onnx.ml": {
        "tree ensembles": ("TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"),
        "linear models": ("LinearClassifier", "LinearRegressor"),
        "feature transforms": (
            "Scaler", "Normalizer", "Binarizer", "Imputer", "FeatureVectorizer",
            "ArrayFeatureExtractor",
        ),
        "categories to numbers (LabelEncoder checked per node)": ("OneHotEncoder", "LabelEncoder"),
    },
}  # fmt: skip
_ALLOWED = {(d, op) for d, groups in ALLOWED_OPS.items() for ops in groups.values() for op in ops}
CLASSIFIERS = ("LinearClassifier", "TreeEnsembleClassifier")  # their labels may be text

# Text attributes: keywords from a closed set, or labels (data, listed by categories()).
_KEYWORDS = {
    "post_transform": {"NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"},
    "nodes_modes": {
        "BRANCH_LEQ",
        "BRANCH_LT",
        "BRANCH_GTE",
        "BRANCH_GT",
        "BRANCH_EQ",
        "BRANCH_NEQ",
        "LEAF",
    },  # fmt: skip
    "aggregate_function": {"AVERAGE", "SUM", "MIN", "MAX"},
    "norm": {"MAX", "L1", "L2"},
    "default_string": {"_Unused"},  # LabelEncoder's default when its values are not text
}
LABEL_ATTRIBUTES = ("cats_strings", "keys_strings", "classlabels_strings")
_NUMERIC_ATTRIBUTES = {
    AttributeProto.FLOAT, AttributeProto.INT, AttributeProto.FLOATS, AttributeProto.INTS,
    AttributeProto.TENSOR, AttributeProto.TENSORS,
}  # fmt: skip
_TEXT_ATTRIBUTES = {AttributeProto.STRING, AttributeProto.STRINGS}
_TEXT_VALUED = {"values_strings", "default_string"}  # a LabelEncoder producing text


class ModelFormatError(ShuyuError, ValueError):
    """A model file, or data given to a model, that cannot be used (``中文 / English``)."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(message_zh, message_en, code="invalid_model")


def invalid(zh: str, en: str) -> ModelFormatError:
    return ModelFormatError(
        f"模型文件不是有效的 {FORMAT} 格式：{zh}", f"the model file is not valid {FORMAT}: {en}"
    )


def show(name: Any) -> str:
    """Tenant text in a message, cut to 40 characters and without control characters."""
    text = "".join(c if c.isprintable() else "?" for c in str(name)[:40])
    return repr(text)


@dataclass(frozen=True)
class Meta:
    """What a checked file's ``shuyu.*`` metadata says."""

    target: str
    task: str
    features: tuple[str, ...]
    key: dict | None
    threshold: float


def metadata(
    target: str,
    task: str,
    features: list[str],
    key: dict | None = None,
    threshold: float | None = None,
) -> dict[str, str]:
    """The ``shuyu.*`` metadata of a model, as written into its ``metadata_props``."""
    out = {
        "shuyu.format": FORMAT,
        "shuyu.target": target,
        "shuyu.task": task,
        "shuyu.features": json.dumps(list(features), ensure_ascii=False),
    }
    if key is not None:
        out["shuyu.key"] = json.dumps(key, ensure_ascii=False, sort_keys=True)
    if threshold is not None:
        out["shuyu.threshold"] = repr(float(threshold))
    return out


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise invalid(f"{what} 须为非空、无控制字符的字符串", f"{what} must be printable text")
    return value


def _meta(model: onnx.ModelProto) -> Meta:
    props: dict[str, str] = {}
    for entry in model.metadata_props:
        if entry.key in props:
            raise invalid(f"元数据 {show(entry.key)} 重复", f"metadata {show(entry.key)} repeats")
        props[entry.key] = entry.value
    if extra := sorted(set(props) - set(REQUIRED_META) - set(OPTIONAL_META)):
        raise invalid(f"有多余的元数据 {show(extra[0])}", f"unexpected metadata {show(extra[0])}")
    if missing := [k for k in REQUIRED_META if k not in props]:
        raise invalid(f"缺少元数据 {missing[0]}", f"metadata {missing[0]} missing")
    if props["shuyu.format"] != FORMAT:
        raise invalid(f"shuyu.format 不是 {FORMAT}", f"shuyu.format is not {FORMAT}")
    if props["shuyu.task"] not in TASKS:
        raise invalid(
            f"shuyu.task 须为 {' | '.join(TASKS)}", f"shuyu.task must be {'|'.join(TASKS)}"
        )
    try:
        features = json.loads(props["shuyu.features"])
        key = json.loads(props["shuyu.key"]) if "shuyu.key" in props else None
        threshold = float(props.get("shuyu.threshold", "0.5"))
    except ValueError as e:
        raise invalid("shuyu.features、shuyu.key 或 shuyu.threshold 无法解析",
                      "shuyu.features, shuyu.key or shuyu.threshold does not parse") from e  # fmt: skip
    if not isinstance(features, list) or not features:
        raise invalid("shuyu.features 须为非空的名称列表", "shuyu.features must list names")
    for name in features:
        _name(name, "shuyu.features")
    if len(set(features)) != len(features):
        raise invalid("shuyu.features 有重复项", "shuyu.features has duplicates")
    if key is not None:
        if not isinstance(key, dict) or set(key) != {"dataset", "column"}:
            raise invalid(
                "shuyu.key 须只含 dataset 与 column", "shuyu.key must hold dataset, column"
            )
        for value in key.values():
            _name(value, "shuyu.key")
    if not math.isfinite(threshold):
        raise invalid("shuyu.threshold 须为有限数值", "shuyu.threshold must be a finite number")
    target = _name(props["shuyu.target"], "shuyu.target")
    return Meta(target, props["shuyu.task"], tuple(features), key, threshold)


def walk_strings(message: Any, out: dict[str, None]) -> None:
    """Every string and text bytes field of a protobuf message, recursively, into ``out`` (an
    ordered set); refuses doc strings, text that is not UTF-8 and overlong text."""
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if field.is_repeated else [value]
            for item in items:
                walk_strings(item, out)
        elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            if field.name == "raw_data":  # the bytes of a numeric tensor
                continue
            if field.name == "doc_string" and value:
                raise invalid(
                    "含有说明文字 doc_string", "it holds a doc_string (convert() strips them)"
                )
            items = value if field.is_repeated else [value]
            for item in items:
                if isinstance(item, bytes):
                    try:
                        item = item.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise invalid("有文字不是 UTF-8", "some text is not UTF-8") from e
                if len(item) > MAX_TEXT:
                    raise invalid(
                        f"有文字超过 {MAX_TEXT} 个字符", f"text over {MAX_TEXT} characters"
                    )
                out[item] = None


def _tensor(tensor: TensorProto, where: str, *, text_ok: bool = False) -> None:
    if tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data):
        raise invalid(f"{where} 引用外部数据文件", f"{where} refers to external data")
    if tensor.data_type == TensorProto.STRING and not text_ok:
        raise invalid(f"{where} 是文字张量", f"{where} is a tensor of text")


def _node(node: onnx.NodeProto, domain: str) -> None:
    op = f"{domain + '.' if domain else ''}{node.op_type}"
    for attr in node.attribute:
        where = f"{show(op)}.{show(attr.name)}"
        if attr.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) or attr.HasField("g"):
            raise invalid(f"算子 {show(op)} 含有子图（不允许控制流）",
                          f"operator {show(op)} holds a subgraph (no control flow)")  # fmt: skip
        if attr.ref_attr_name:
            raise invalid(f"{where} 引用函数属性", f"{where} refers to a function attribute")
        if attr.type not in _NUMERIC_ATTRIBUTES | _TEXT_ATTRIBUTES:
            raise invalid(f"{where} 的属性类型不允许", f"{where} has a type that is not allowed")
        labels = node.op_type == "LabelEncoder" and attr.name == "keys_tensor"
        for tensor in [attr.t] if attr.HasField("t") else list(attr.tensors):
            _tensor(tensor, where, text_ok=labels)
        if node.op_type == "LabelEncoder" and attr.name in _TEXT_VALUED | {"values_tensor"}:
            text = attr.name == "values_strings" or (
                attr.name == "values_tensor" and attr.t.data_type == TensorProto.STRING
            )
            if text or (attr.name == "default_string" and attr.s != b"_Unused"):
                raise invalid("LabelEncoder 输出文字", "a LabelEncoder that produces text")
        if attr.type in _TEXT_ATTRIBUTES and attr.name not in LABEL_ATTRIBUTES:
            words = [attr.s] if attr.type == AttributeProto.STRING else list(attr.strings)
            allowed = _KEYWORDS.get(attr.name, set())
            if not all(w.decode("utf-8", "replace") in allowed for w in words):
                raise invalid(
                    f"{where} 含有不允许的文字", f"{where} holds text that is not allowed"
                )
    if node.op_type == "Cast" and any(
        a.name == "to" and a.i == TensorProto.STRING for a in node.attribute
    ):
        raise invalid("Cast 转为文字", "a Cast to string")
    if (domain, node.op_type) not in _ALLOWED:
        raise invalid(f"算子 {show(op)} 不在允许的列表中", f"operator {show(op)} is not allowed")


def _structure(model: onnx.ModelProto) -> None:
    if not model.HasField("graph") or model.ir_version <= 0:
        raise invalid("不是 ONNX 模型", "it is not an ONNX model")
    if len(model.functions):
        raise invalid("含有模型内函数", "it defines model-local functions")
    if len(model.training_info):
        raise invalid("含有训练信息", "it holds training information")
    for opset in model.opset_import:
        if opset.domain not in DOMAINS:
            raise invalid(f"算子域 {show(opset.domain)} 不允许", f"domain {show(opset.domain)} is not allowed")  # fmt: skip
    graph = model.graph
    if len(graph.node) > MAX_NODES:
        raise invalid(f"节点超过 {MAX_NODES} 个", f"over {MAX_NODES} nodes")
    if len(graph.sparse_initializer):
        raise invalid("含有稀疏初始值", "it holds sparse initializers")
    for tensor in graph.initializer:
        _tensor(tensor, f"initializer {show(tensor.name)}")
    for node in graph.node:
        if node.domain not in DOMAINS:
            raise invalid(f"算子 {show(node.op_type)} 属于不允许的域 {show(node.domain)}",
                          f"operator {show(node.op_type)} is in domain {show(node.domain)}, "
                          "which is not allowed")  # fmt: skip
        _node(node, DOMAINS[node.domain])


def _types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:
        raise invalid("类型推断失败", f"type inference fails: {str(e)[:200]}") from e
    g = inferred.graph
    return {v.name: v.type for v in [*g.input, *g.value_info, *g.output]}


def _shape(value: onnx.ValueInfoProto) -> list:
    dims = value.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]


def _elem(value: onnx.ValueInfoProto) -> int:
    if value.type.WhichOneof("value") != "tensor_type":
        raise invalid(f"{show(value.name)} 不是张量", f"{show(value.name)} is not a tensor")
    return value.type.tensor_type.elem_type


def _inputs(graph: onnx.GraphProto, meta: Meta) -> None:
    inputs = list(graph.input)
    names = [v.name for v in inputs]
    per_feature = sorted(names) == sorted(meta.features) and len(set(names)) == len(names)
    kinds = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.STRING)
    for value in inputs:
        shape = _shape(value)
        column = per_feature and _elem(value) in kinds and len(shape) == 2 and shape[1] == 1
        matrix = len(inputs) == 1 and _elem(value) == TensorProto.FLOAT and len(shape) == 2
        matrix = matrix and shape[1] == len(meta.features)
        if not (column or matrix) or isinstance(shape[0], int):
            raise invalid(
                f"输入 {show(value.name)} 不符合约定：每个特征一个 [N, 1] 输入，或一个 float "
                "[N, 特征数] 输入",
                f"input {show(value.name)} breaks the convention: one [N, 1] input per feature, "
                "or one float [N, len(features)] input",
            )


def _outputs(graph: onnx.GraphProto, meta: Meta) -> None:
    outputs = {v.name: v for v in graph.output}
    if meta.task == "classification":
        probs = outputs.get("probabilities")
        ok = probs is not None and _elem(probs) == TensorProto.FLOAT and len(_shape(probs)) == 2
        ok = ok and set(outputs) <= {"probabilities", "label"}
        en = "a classifier has an output probabilities [N, n_classes] float, and label at most"
        zh = "分类模型须有 probabilities [N, 类别数] float 输出，另外至多有 label"
    else:
        first = graph.output[0] if len(graph.output) else None
        ok = len(outputs) == 1 and _elem(first) in (TensorProto.FLOAT, TensorProto.DOUBLE)
        ok = ok and (len(_shape(first)) == 1 or _shape(first)[1:] == [1])
        zh, en = "回归模型须有一个 float 输出 [N] 或 [N, 1]", "a regressor has one float output [N] or [N, 1]"  # fmt: skip
    if not ok:
        raise invalid(zh, en)


def _no_made_text(model: onnx.ModelProto, types: dict[str, onnx.TypeProto]) -> None:
    """Text flows only from the inputs and a classifier's labels: no node output of another
    operator is text unless one of its inputs is (a reshape of the inputs, say)."""

    def text(name: str) -> bool:
        kind = types.get(name)
        return kind is not None and kind.tensor_type.elem_type == TensorProto.STRING

    for node in model.graph.node:
        made = [o for i, o in enumerate(node.output) if text(o)]
        if node.op_type in CLASSIFIERS:
            made = [o for i, o in enumerate(node.output) if i > 0 and text(o)]
        if made and not any(text(i) for i in node.input):
            raise invalid(f"算子 {show(node.op_type)} 产生文字", f"operator {show(node.op_type)} produces text")  # fmt: skip


def parse(content: bytes) -> onnx.ModelProto:
    if len(content) > MAX_BYTES:
        raise invalid(f"超过 {MAX_BYTES >> 20} MB", f"larger than {MAX_BYTES >> 20} MB")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(content)
    except Exception as e:  # protobuf's DecodeError, or a recursion limit
        raise invalid("无法解析为 ONNX", "it does not parse as ONNX") from e
    return model


def check(model: onnx.ModelProto) -> tuple[Meta, list[str]]:
    """Apply every rule; the metadata, and every distinct string of the file in file order.

    Raises:
        ModelFormatError: the first rule the file breaks, named.
    """
    _structure(model)
    meta = _meta(model)
    strings: dict[str, None] = {}
    walk_strings(model, strings)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise invalid("ONNX 检查器拒绝了它", f"the ONNX checker refuses it: {first}") from e
    types = _types(model)
    _inputs(model.graph, meta)
    _outputs(model.graph, meta)
    _no_made_text(model, types)
    strings.update(dict.fromkeys([*meta.features, *(meta.key or {}).values()]))  # JSON's parts
    return meta, list(strings)


def text_value(value: Any) -> str:
    """A value as text inputs compare it: whole floats lose their ``.0`` (an integer column that
    pandas read as floats still matches), missing values are :data:`MISSING`."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return MISSING
    if value is pd.NA or value is pd.NaT:
        return MISSING
    if type(value) is str:
        return value
    if isinstance(value, float | np.floating) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def text_column(series: pd.Series) -> np.ndarray:
    """:func:`text_value` of each value (vectorized for float columns)."""
    if pd.api.types.is_float_dtype(series):
        x = series.to_numpy(dtype=float, na_value=np.nan)
        text = pd.Series(x).astype(str).to_numpy(dtype=object)
        whole = np.isfinite(x) & (np.abs(x) < 2**53) & (x == np.trunc(x))
        text[whole] = pd.Series(x[whole].astype(np.int64)).astype(str).to_numpy(dtype=object)
        text[np.isnan(x)] = MISSING
        return text
    return np.array([text_value(v) for v in series.to_numpy(dtype=object)], dtype=object)
