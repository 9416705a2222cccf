"""ONNX models (``shuyu-onnx/1``): what a processor trains and the platform runs.

A model leaves the production sandbox as an ONNX file, never as a pickle: the platform evaluates
it with onnxruntime (CPU, one thread, sessions built on first use and sharing one memory arena
of :data:`MAX_RUN_BYTES`), so no tenant code runs in its processes, and a reviewer (and the PII
scan) can read every string and number it holds. :func:`convert` makes one from a fitted
scikit-learn pipeline, LightGBM or XGBoost model; :func:`load` refuses any file that breaks the
rules of :mod:`sdk.onnx_rules` (an operator allowlist, no custom domains, functions, subgraphs,
external data, hidden bytes or text-making operators, the ``shuyu.*`` metadata and input/output
conventions); :func:`from_legacy` migrates a ``shuyu-model/1`` JSON model.

Inputs are fed from a frame by the model's input types: text columns as text (whole floats lose
their ``.0``; missing values match nothing), numbers as float32 (double where the input is),
with NaN where missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, numpy_helper

from sdk.onnx_convert import to_onnx
from sdk.onnx_format import (
    FORMAT,
    MAX_BYTES,
    MISSING,
    ModelFormatError,
    invalid,
    show,
    text_column,
)
from sdk.onnx_inspect import categories, class_labels, trees
from sdk.onnx_legacy import from_legacy
from sdk.onnx_rules import check, parse, too_large

__all__ = [
    "FORMAT", "MAX_BYTES", "ModelFormatError", "OnnxModel", "Summary", "convert", "from_legacy",
    "load",
]  # fmt: skip

EPS = 1e-6  # log-loss clips probabilities to [EPS, 1 - EPS]
# What onnxruntime may hold at once for every model of the process: a model whose constants
# broadcast a few rows into gigabytes fails its run instead of exhausting the serving process.
MAX_RUN_BYTES = 512 << 20
_ARENA_LOCK = threading.Lock()
_arena: list[bool] = []  # registered once per process
_TRUE = {"1", "1.0", "true", "t", "yes", "y", "是"}
_FEED = {
    TensorProto.FLOAT: np.float32,
    TensorProto.DOUBLE: np.float64,
    TensorProto.INT64: np.int64,
}
_TYPE_NAMES = {v: k for k, v in TensorProto.DataType.items()}


@dataclass(frozen=True)
class Summary:
    """What a reviewer sees of a model (JSON-able through :func:`dataclasses.asdict`)."""

    task: str
    target: str
    features: list[str]
    inputs: list[dict]
    outputs: list[dict]
    operators: dict[str, int]
    trees: int
    max_depth: int
    categories: dict[str, list[str]]
    class_labels: list[str]
    opset: dict[str, int]
    producer: str
    bytes: int
    key: dict | None
    threshold: float


def _io(value: onnx.ValueInfoProto) -> dict:
    tensor = value.type.tensor_type
    kind = _TYPE_NAMES.get(tensor.elem_type, "UNDEFINED").lower()
    shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]  # fmt: skip
    return {"name": value.name, "type": f"tensor({kind})", "shape": shape}


def _numeric(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(series):
        series = series.astype(object)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _require(frame: pd.DataFrame, columns: Any) -> None:
    if missing := [c for c in columns if c not in frame.columns]:
        raise ModelFormatError(
            f"数据缺少模型需要的列：{', '.join(show(c) for c in missing[:5])}",
            f"the data lacks columns the model needs: {', '.join(show(c) for c in missing[:5])}",
        )


def _shared_arena(ort: Any) -> None:
    """One CPU arena of at most :data:`MAX_RUN_BYTES` for every session of the process."""
    with _ARENA_LOCK:
        if not _arena:
            cpu = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)  # fmt: skip
            ort.create_and_register_allocator(cpu, ort.OrtArenaCfg(MAX_RUN_BYTES, -1, -1, -1))
            _arena.append(True)


class OnnxModel:
    """A checked ``shuyu-onnx/1`` model; build one with :func:`load` or :func:`convert`."""

    def __init__(self, content: bytes, *, max_bytes: int = MAX_BYTES):
        proto = parse(content, min(max_bytes, MAX_BYTES))
        meta, self._strings = check(proto)
        self.content = bytes(content)
        self.sha256 = hashlib.sha256(self.content).hexdigest()
        self.proto = proto
        self.target, self.task, self.features = meta.target, meta.task, meta.features
        self.key, self.threshold = meta.key, meta.threshold
        self.probabilistic = self.task == "classification"
        self._lock = threading.Lock()
        self._session: Any = None

    def __repr__(self) -> str:
        return f"OnnxModel(task={self.task!r}, target={self.target!r}, sha256={self.sha256[:12]})"

    def _start(self) -> Any:
        with self._lock:  # built once, on first use: loading a model for review runs nothing
            if self._session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.add_session_config_entry("session.use_env_allocators", "1")
                _shared_arena(ort)
                self._session = ort.InferenceSession(
                    self.content, options, providers=["CPUExecutionProvider"]
                )
        return self._session

    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return self._start().run(None, feeds)
        except Exception as e:  # onnxruntime's errors: the model or the data it was given
            text = str(e).strip()
            if "BFCArena" in text or "allocate" in text.lower():
                reason = f"over {MAX_RUN_BYTES >> 20} MB of memory"
            else:  # onnxruntime's own source paths are no business of the user
                reason = re.sub(r"/\S+", "…", text.splitlines()[0] if text else type(e).__name__)[:200]  # fmt: skip
            raise ModelFormatError(
                f"模型无法处理这些数据（{reason}）", f"the model fails on this data ({reason})"
            ) from e

    def _feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        _require(frame, self.features)
        inputs = list(self.proto.graph.input)
        if sorted(v.name for v in inputs) != sorted(self.features):  # one matrix input
            matrix = np.column_stack([_numeric(frame[f]) for f in self.features])
            return {inputs[0].name: matrix.astype(np.float32).reshape(len(frame), -1)}
        feeds = {}
        for value in inputs:
            kind, column = value.type.tensor_type.elem_type, frame[value.name]
            if kind == TensorProto.STRING:
                feeds[value.name] = text_column(column).reshape(-1, 1)
                continue
            x = _numeric(column)
            if kind == TensorProto.INT64 and not np.isfinite(x).all():
                raise ModelFormatError(
                    f"列 {show(value.name)} 有缺失值，而模型要求整数",
                    f"column {show(value.name)} has missing values, the model takes integers",
                )
            feeds[value.name] = x.astype(_FEED[kind]).reshape(-1, 1)
        return feeds

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """One float per row: the probability of the positive (last) class, or the value.

        Raises:
            ModelFormatError: a feature column is missing, or an integer input has gaps.
        """
        if len(frame) == 0:
            return np.zeros(0)
        outputs = dict(zip([o.name for o in self.proto.graph.output], self._run(self._feeds(frame)), strict=True))  # fmt: skip
        name = "probabilities" if self.probabilistic else self.proto.graph.output[0].name
        values = np.asarray(outputs[name], dtype=float)
        if values.ndim not in (1, 2) or values.size == 0 or values.size % len(frame):
            raise ModelFormatError(
                f"模型输出的形状 {values.shape} 与 {len(frame)} 行不符",
                f"the model's output shape {values.shape} does not fit {len(frame)} rows",
            )
        return values.reshape(len(frame), -1)[:, -1]

    def answer(self, frame: pd.DataFrame) -> np.ndarray:
        """Yes/no per row: the prediction is at least the model's threshold (default 0.5)."""
        return self.predict(frame) >= self.threshold

    def _positive(self, series: pd.Series) -> np.ndarray:
        """0/1 (NaN where missing): the last class label, compared as text; where that label is
        itself a yes (or there are none), also non-zero numbers, True and yes/true/是."""
        labels = self.class_labels()
        text = text_column(series)
        y = text == labels[-1] if labels else np.zeros(len(series), dtype=bool)
        if not labels or labels[-1].strip().lower() in _TRUE:
            if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
                y = y | (np.nan_to_num(_numeric(series)) != 0)
            else:
                y = y | np.array([str(v).strip().lower() in _TRUE for v in text], dtype=bool)
        return np.where(series.isna().to_numpy(), np.nan, y.astype(float))

    def loss(self, frame: pd.DataFrame) -> np.ndarray:
        """Per-row loss against ``frame[target]`` (NaN where it is missing): log-loss with
        probabilities clipped to [1e-6, 1 - 1e-6], or squared error (values)."""
        _require(frame, [self.target])
        prediction = self.predict(frame)
        if not self.probabilistic:
            return (prediction - _numeric(frame[self.target])) ** 2
        y, p = self._positive(frame[self.target]), np.clip(prediction, EPS, 1 - EPS)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p))

    def strings(self) -> list[str]:
        """Every distinct string in the file (names, attributes, labels, metadata), for a scan."""
        return list(self._strings)

    def categories(self) -> dict[str, list[str]]:
        """Feature (or value name) → the text categories and keys the graph matches."""
        return {k: list(v) for k, v in self._categories.items()}

    @cached_property
    def _categories(self) -> dict[str, list[str]]:
        return categories(self.proto.graph, MISSING)

    def class_labels(self) -> list[str]:
        """The classifier's labels as text, the positive class last ([] for a regressor)."""
        return class_labels(self.proto.graph) if self.probabilistic else []

    def data_strings(self) -> list[str]:
        """Strings that name or carry data, each of which must occur in the approved training
        columns: features, target, categories, class labels, the key column."""
        out = [*self.features, self.target]
        for labels in self._categories.values():
            out.extend(labels)
        out.extend(self.class_labels())
        if self.key:
            out.append(self.key["column"])
        return list(dict.fromkeys(out))

    def numbers(self) -> list[int | float]:
        """Every numeric constant in file order: initializers, then each node's constants and
        numeric attributes (thresholds, leaf weights, coefficients, integer keys); the threshold."""
        out: list[int | float] = []

        def tensor(t: TensorProto) -> None:
            if t.data_type != TensorProto.STRING:
                out.extend(numpy_helper.to_array(t).ravel().tolist())

        for t in self.proto.graph.initializer:
            tensor(t)
        for node in self.proto.graph.node:
            for a in node.attribute:
                out.extend([a.f] if a.type == onnx.AttributeProto.FLOAT else [])
                out.extend([a.i] if a.type == onnx.AttributeProto.INT else [])
                out.extend(list(a.floats) + list(a.ints))
                for t in [a.t] if a.HasField("t") else list(a.tensors):
                    tensor(t)
        out.append(self.threshold)
        return out

    def summary(self) -> Summary:
        count, depth = trees(self.proto.graph)
        operators = Counter(
            f"{n.domain + '.' if n.domain not in ('', 'ai.onnx') else ''}{n.op_type}"
            for n in self.proto.graph.node
        )
        producer = f"{self.proto.producer_name} {self.proto.producer_version}".strip()
        return Summary(
            task=self.task,
            target=self.target,
            features=list(self.features),
            inputs=[_io(v) for v in self.proto.graph.input],
            outputs=[_io(v) for v in self.proto.graph.output],
            operators=dict(sorted(operators.items())),
            trees=count,
            max_depth=depth,
            categories=self.categories(),
            class_labels=self.class_labels(),
            opset={o.domain or "ai.onnx": o.version for o in self.proto.opset_import},
            producer=producer,
            bytes=len(self.content),
            key=dict(self.key) if self.key else None,
            threshold=self.threshold,
        )


def load(source: bytes | os.PathLike, *, max_bytes: int = MAX_BYTES) -> OnnxModel:
    """Read and check a model file.

    Args:
        source: the file's bytes, or its path (``os.PathLike``).
        max_bytes: a lower size limit than :data:`MAX_BYTES` (a hub setting, say).

    Raises:
        ModelFormatError: the file is too large, does not parse, fails the ONNX checker, or
            breaks a rule of ``shuyu-onnx/1`` (the message names the operator, domain or key).
    """
    limit = min(max_bytes, MAX_BYTES)
    if isinstance(source, os.PathLike):
        path = Path(source)
        too_large(path.stat().st_size, limit)
        source = path.read_bytes()
    if not isinstance(source, bytes | bytearray | memoryview):
        raise invalid("请以 bytes 或 pathlib.Path 传入", "pass bytes or a pathlib.Path")
    return OnnxModel(bytes(source), max_bytes=limit)


def convert(
    model: Any,
    sample: pd.DataFrame,
    *,
    target: str,
    key: dict | None = None,
    threshold: float | None = None,
    atol: float = 1e-4,
    rtol: float = 1e-5,
) -> OnnxModel:
    """Convert a fitted model to ``shuyu-onnx/1`` and check it predicts as the original does.

    Args:
        model: a scikit-learn estimator or Pipeline (per-column inputs from the frame), a
            LightGBM ``LGBMClassifier``/``LGBMRegressor``/``Booster`` or an XGBoost
            ``XGBClassifier``/``XGBRegressor`` (one float input ``input``).
        sample: rows like the training rows (the features; a ``target`` column is ignored).
        target: the name of the column the model predicts.
        key: ``{"dataset", "column"}`` for a model that answers by key.
        threshold: the probability at which :meth:`OnnxModel.answer` says yes (default 0.5).
        atol, rtol: the difference allowed between the original's and ONNX's predictions,
            ``atol + rtol * |original|`` (float32 trees sum large values to a few ulps).

    Raises:
        ModelFormatError: an unsupported model type, a conversion that fails, or predictions that
            differ beyond ``atol`` on ``sample`` (the largest difference is shown).
    """
    content, expected, frame = to_onnx(model, sample, target=target, key=key, threshold=threshold)
    onnx_model = load(content)
    got = onnx_model.predict(frame)
    gap = np.abs(got - expected)
    diff = float(np.nanmax(gap)) if len(got) and not np.isnan(gap).all() else 0.0
    if (np.isnan(got) != np.isnan(expected)).any() or (gap > atol + rtol * np.abs(expected)).any():
        raise ModelFormatError(
            f"ONNX 预测与原模型不一致（最大差 {diff:.3g}，容差 {atol:g}）",
            f"ONNX predictions differ from the original's (largest difference {diff:.3g}, "
            f"tolerance {atol:g})",
        )
    return onnx_model
