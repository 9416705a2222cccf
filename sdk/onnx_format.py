"""The ``shuyu-onnx/1`` file format: constants, the ``shuyu.*`` metadata, the error, and how a
value is fed to a text input.

The rules a file must follow are in :mod:`sdk.onnx_rules`; :mod:`sdk.onnxmodel` is the public
surface.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import pandas as pd

from sdk.errors import ShuyuError

FORMAT = "shuyu-onnx/1"
MAX_BYTES = 50 << 20
TASKS = ("classification", "regression")
MAX_FEATURES = 2_000  # columns a model reads
MAX_FEATURE_NAME = 128
REQUIRED_META = ("shuyu.format", "shuyu.target", "shuyu.task", "shuyu.features")
OPTIONAL_META = ("shuyu.key", "shuyu.threshold")
MISSING = "\x00"  # a missing value fed to a text input (no category or key matches it)


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


def read_meta(model: onnx.ModelProto) -> Meta:
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
    if len(features) > MAX_FEATURES:
        raise invalid(f"特征超过 {MAX_FEATURES} 个", f"over {MAX_FEATURES} features")
    for name in features:
        if len(_name(name, "shuyu.features")) > MAX_FEATURE_NAME:
            raise invalid(f"特征名超过 {MAX_FEATURE_NAME} 个字符",
                          f"a feature name is over {MAX_FEATURE_NAME} characters")  # fmt: skip
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
