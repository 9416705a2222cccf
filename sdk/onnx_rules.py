"""The rules of a ``shuyu-onnx/1`` file, and :func:`check`, which applies them.

A model file comes from tenant code, so every part of it is suspect: it is parsed under a size
limit and read field by field before anything runs it. What may appear is listed, not what may
not: the operators of :data:`ALLOWED_OPS`, numeric constants, text only where a category or class
label needs it (and every such label must then occur in the approved training columns, which the
hub checks), short names, the ``shuyu.*`` metadata and nothing else.
"""

from __future__ import annotations

import re
from typing import Any

import onnx
from google.protobuf.descriptor import FieldDescriptor
from onnx import AttributeProto, TensorProto, numpy_helper

from sdk.onnx_format import MAX_BYTES, MAX_FEATURES, Meta, invalid, read_meta, show

MAX_NODES = 50_000
MAX_TEXT = 1_024  # characters of any one string in the file, but the list of features
MAX_NAME = 128  # characters of a graph, node or value name
# shuyu.features lists every feature (each name checked on its own when the metadata is read)
MAX_FEATURES_TEXT = MAX_FEATURES * (MAX_NAME + 8)
_PRODUCER = re.compile(r"[A-Za-z0-9 ._+-]{0,64}")  # producer, its version, the model's domain
_OUTPUT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
DOMAINS = {"": "", "ai.onnx": "", "ai.onnx.ml": "ai.onnx.ml"}  # as imported → canonical

# The operators a model may use, by domain, each group with why it is harmless: none reads files,
# draws random numbers, loops, holds a subgraph or makes text, and none makes a tensor larger than
# its inputs by a factor that a constant chooses (Expand, Tile, ConstantOfShape, OneHot and Pad
# are left out: one small constant would let a model exhaust the memory of the process serving
# it).
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
            "Gather", "GatherElements", "Shape", "Size", "Identity",
        ),
        "constants and casts (numbers only, checked per node)": ("Constant", "Cast"),
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
LABEL_ATTRIBUTES = {  # the attributes whose text is data, on the operators that read it
    "OneHotEncoder": ("cats_strings",),
    "LabelEncoder": ("keys_strings",),
    "LinearClassifier": ("classlabels_strings",),
    "TreeEnsembleClassifier": ("classlabels_strings",),
}
_NUMERIC_ATTRIBUTES = {
    AttributeProto.FLOAT, AttributeProto.INT, AttributeProto.FLOATS, AttributeProto.INTS,
    AttributeProto.TENSOR, AttributeProto.TENSORS,
}  # fmt: skip
_TEXT_ATTRIBUTES = {AttributeProto.STRING, AttributeProto.STRINGS}
_TEXT_VALUED = {"values_strings", "default_string"}  # a LabelEncoder producing text
# Fields of the ONNX messages that a model of ours never needs (devices, overloads of functions,
# tensors in segments); the other unneeded ones are refused by name where they are checked.
_UNUSED_FIELDS = {"configuration", "device_configurations", "overload", "segment"}


def walk_strings(message: Any, out: dict[str, None], *, top: bool = True) -> None:
    """Every string and text bytes field of a protobuf message, recursively, into ``out`` (an
    ordered set); refuses doc strings, metadata below the model's, text that is not UTF-8 and
    overlong text."""
    for field, value in message.ListFields():
        if field.name in _UNUSED_FIELDS:
            raise invalid(f"使用了 ONNX 字段 {field.name}", f"it uses the ONNX field {field.name}")
        if field.name == "metadata_props" and not top:
            raise invalid("图内含有元数据", "it holds metadata inside the graph")
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if field.is_repeated else [value]
            for item in items:
                walk_strings(item, out, top=False)
        elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            if field.name == "raw_data":  # the bytes of a numeric tensor
                continue
            if field.name == "doc_string" and value:
                raise invalid(
                    "含有说明文字 doc_string", "it holds a doc_string (convert() strips them)"
                )
            items = value if field.is_repeated else [value]
            features = field.name == "value" and getattr(message, "key", "") == "shuyu.features"
            limit = MAX_FEATURES_TEXT if features else MAX_TEXT
            for item in items:
                if isinstance(item, bytes):
                    try:
                        item = item.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise invalid("有文字不是 UTF-8", "some text is not UTF-8") from e
                if len(item) > limit:
                    raise invalid(f"有文字超过 {limit} 个字符", f"text over {limit} characters")
                out[item] = None


def _tensor(tensor: TensorProto, where: str, *, text_ok: bool = False) -> None:
    if tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data):
        raise invalid(f"{where} 引用外部数据文件", f"{where} refers to external data")
    if tensor.data_type == TensorProto.STRING and not text_ok:
        raise invalid(f"{where} 是文字张量", f"{where} is a tensor of text")
    if len([f for f, _ in tensor.ListFields() if f.name.endswith("_data")]) > 1:
        raise invalid(f"{where} 的数据写了两份", f"{where} holds its data twice")
    try:  # every element its shape says, and not one byte more
        numpy_helper.to_array(tensor)
    except Exception as e:
        raise invalid(
            f"{where} 的数据与形状不符", f"{where} holds data that does not fit its shape"
        ) from e


def _node(node: onnx.NodeProto, domain: str) -> None:
    op = f"{domain + '.' if domain else ''}{node.op_type}"
    for attr in node.attribute:
        where = f"{show(op)}.{show(attr.name)}"
        graphs = attr.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) or attr.HasField("g")
        if graphs or len(attr.graphs):
            raise invalid(f"算子 {show(op)} 含有子图（不允许控制流）",
                          f"operator {show(op)} holds a subgraph (no control flow)")  # fmt: skip
        if attr.ref_attr_name:
            raise invalid(f"{where} 引用函数属性", f"{where} refers to a function attribute")
        odd = attr.HasField("sparse_tensor") or len(attr.sparse_tensors) or attr.HasField("tp")
        if attr.type not in _NUMERIC_ATTRIBUTES | _TEXT_ATTRIBUTES or odd or len(attr.type_protos):
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
        if attr.type in _TEXT_ATTRIBUTES and attr.name not in LABEL_ATTRIBUTES.get(
            node.op_type, ()
        ):
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


def _names(model: onnx.ModelProto) -> None:
    """Names are short and printable, and what a reviewer is shown of them is plain: the
    producer, the model's domain and the output names (feature names are checked as data)."""
    for text in (model.producer_name, model.producer_version, model.domain):
        if not _PRODUCER.fullmatch(text):
            raise invalid(f"producer 或 domain {show(text)} 不允许",
                          f"producer or domain {show(text)} is not allowed")  # fmt: skip
    graph = model.graph
    values = [*graph.input, *graph.output, *graph.value_info, *graph.initializer]
    names = [graph.name, *(v.name for v in values)]
    for node in graph.node:
        names.extend([node.name, *node.input, *node.output])
    for name in names:
        if len(name) > MAX_NAME or not name.isprintable():
            raise invalid(f"名称 {show(name)} 过长或含控制字符",
                          f"name {show(name)} is too long or holds control characters")  # fmt: skip
    for value in graph.output:
        if not _OUTPUT.fullmatch(value.name):
            raise invalid(f"输出名 {show(value.name)} 不允许", f"output name {show(value.name)} is not allowed")  # fmt: skip


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
    _names(model)
    if len(graph.node) > MAX_NODES:
        raise invalid(f"节点超过 {MAX_NODES} 个", f"over {MAX_NODES} nodes")
    if len(graph.quantization_annotation):
        raise invalid("含有量化注释", "it holds quantization annotations")
    if len(graph.sparse_initializer):
        raise invalid("含有稀疏初始值", "it holds sparse initializers")
    read = {name for node in graph.node for name in node.input}
    for tensor in graph.initializer:
        _tensor(tensor, f"initializer {show(tensor.name)}")
        if tensor.name not in read:
            raise invalid(f"初始值 {show(tensor.name)} 无人读取", f"initializer {show(tensor.name)} is read by nothing")  # fmt: skip
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
    if not inputs:
        raise invalid("没有输入", "it has no inputs")
    for value in inputs:
        shape = _shape(value)
        column = per_feature and _elem(value) in kinds and len(shape) == 2 and shape[1] == 1
        matrix = len(inputs) == 1 and _elem(value) == TensorProto.FLOAT and len(shape) == 2
        matrix = matrix and shape[1] == len(meta.features) and bool(_OUTPUT.fullmatch(value.name))
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


def too_large(size: int, limit: int = MAX_BYTES) -> None:
    if size > limit:
        raise invalid(f"超过 {limit / (1 << 20):g} MB", f"larger than {limit / (1 << 20):g} MB")


def parse(content: bytes, limit: int = MAX_BYTES) -> onnx.ModelProto:
    too_large(len(content), limit)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(content)
    except Exception as e:  # protobuf's DecodeError, or a recursion limit
        raise invalid("无法解析为 ONNX", "it does not parse as ONNX") from e
    size = model.ByteSize()
    model.DiscardUnknownFields()
    if model.ByteSize() != size:
        raise invalid("含有 ONNX 未定义的字段", "it holds fields ONNX does not define")
    if size != len(content):  # repeated or padded fields: bytes nothing reads or checks
        raise invalid("含有多余的字节", "it holds bytes beyond its fields")
    return model


def check(model: onnx.ModelProto) -> tuple[Meta, list[str]]:
    """Apply every rule; the metadata, and every distinct string of the file in file order.

    Raises:
        ModelFormatError: the first rule the file breaks, named.
    """
    _structure(model)
    meta = read_meta(model)
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
