"""Declarative model files (``shuyu-model/1``): what a processor trains and the platform runs.

A model trained in the production sandbox leaves it as JSON, never as a pickle: the platform
evaluates it with numpy, so no tenant code runs in its processes, and a reviewer (and the PII
scan) can read every number and string it holds. Three kinds:

- ``logistic`` and ``linear``: one encoder per feature (``standard`` or ``onehot``), weights over
  the encoded vector in feature order, an intercept;
- ``lookup``: a table from the tuple of a row's feature values (compared as strings) to a
  probability, and a default for unknown tuples; with ``"output": "value"`` the table holds
  values (a mean cost, say) and is scored like a linear model.

:func:`fit_logistic`, :func:`fit_linear` and :func:`memorize` build models from a frame;
:func:`load` refuses anything malformed with a :class:`ModelFormatError`.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sdk.errors import ShuyuError

FORMAT = "shuyu-model/1"
KINDS = ("logistic", "linear", "lookup")
MAX_WEIGHTS = 2_000  # encoded features of a logistic or linear model
MAX_LOOKUP_ROWS = 1_000_000
MAX_BYTES = 50 << 20
EPS = 1e-6  # log-loss clips probabilities to [EPS, 1 - EPS]
OUTPUTS = ("probability", "value")  # what a lookup table's values are
_COMMON = {"format", "kind", "target", "features"}
_FIELDS = {
    "logistic": _COMMON | {"encoders", "weights", "intercept"},
    "linear": _COMMON | {"encoders", "weights", "intercept"},
    "lookup": _COMMON | {"table", "default"},
}
_OPTIONAL = {"logistic": {"threshold", "key"}, "linear": {"threshold", "key"}}
_OPTIONAL["lookup"] = {"threshold", "key", "output"}
_TRUE = {"1", "1.0", "true", "t", "yes", "y", "是"}
_MISSING, _SEP = "\x00", "\x1f"  # a missing value, and the separator of a joined lookup key


class ModelFormatError(ShuyuError, ValueError):
    """A model file, or data given to a model, that cannot be used (``中文 / English``)."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(message_zh, message_en, code="invalid_model")


def _invalid(zh: str, en: str) -> ModelFormatError:
    return ModelFormatError(
        f"模型文件不是有效的 {FORMAT} 格式：{zh}", f"the model file is not valid {FORMAT}: {en}"
    )


def _show(names: Iterable[Any]) -> str:
    """Up to five names, each cut to 40 characters: tenant text in a message stays short."""
    return ", ".join(str(n)[:40] for n in list(names)[:5])


def _finite(values: Any, what: str) -> np.ndarray:
    """A number, or a list of them, as finite floats (booleans are not numbers here)."""
    items = values if isinstance(values, list) else [values]
    try:
        ok = all(type(v) in (int, float) for v in items) and np.isfinite(np.asarray(items, float))
    except OverflowError:  # an integer too large for a float
        ok = False
    if not np.all(ok):
        many = isinstance(values, list)
        raise _invalid(
            f"{what} {'须为有限数值的列表' if many else '须为有限数值'}",
            f"{what} must be {'a list of finite numbers' if many else 'a finite number'}",
        )
    return np.asarray(items, dtype=float)


def _names(values: Any, what: str, *, empty_ok: bool = False) -> list[str]:
    """A list of distinct strings without control characters (``empty_ok``: ``[]`` and ``""``)."""
    if not isinstance(values, list) or not (values or empty_ok):
        raise _invalid(f"{what} 须为字符串列表", f"{what} must be a list of strings")
    if not all(isinstance(v, str) and (v or empty_ok) for v in values):
        raise _invalid(f"{what} 须为非空字符串", f"{what} must hold non-empty strings")
    if len(set(values)) != len(values) or any(_MISSING in v or _SEP in v for v in values):
        raise _invalid(f"{what} 有重复项或控制字符", f"{what} has duplicates or control characters")
    return values


def _check_encoders(spec: dict, features: list[str]) -> None:
    encoders = spec["encoders"]
    if not isinstance(encoders, dict) or set(encoders) != set(features):
        raise _invalid("encoders 须为每个特征各有一个编码器", "encoders must hold one per feature")
    width = 0
    for name in features:
        enc = encoders[name]
        kind = enc.get("type") if isinstance(enc, dict) else None
        if kind == "standard" and set(enc) == {"type", "mean", "std"}:
            _finite(enc["mean"], f"{name}.mean")
            if _finite(enc["std"], f"{name}.std")[0] <= 0:
                raise _invalid(f"{name}.std 须大于 0", f"{name}.std must be positive")
            width += 1
        elif kind == "onehot" and set(enc) == {"type", "categories"}:
            width += len(_names(enc["categories"], f"{name}.categories", empty_ok=True))
        else:
            raise _invalid(f"特征 {_show([name])} 的编码器无效", f"bad encoder for {_show([name])}")
    if width > MAX_WEIGHTS:
        raise _invalid(f"编码后特征超过 {MAX_WEIGHTS} 个", f"over {MAX_WEIGHTS} encoded features")
    weights = spec["weights"]
    if not isinstance(weights, list) or len(weights) != width:
        count = len(weights) if isinstance(weights, list) else 0
        raise _invalid(
            f"weights 有 {count} 个，编码后的特征有 {width} 个",
            f"{count} weights for {width} encoded features",
        )
    _finite(weights, "weights")
    _finite(spec["intercept"], "intercept")


def _key_text(key: Any, width: int) -> str:
    """A lookup key as one string: its values as :func:`_str` gives them, joined."""
    if type(key) is not list or len(key) != width:
        raise _invalid(f"查找表的键须含 {width} 个值", f"each lookup key must hold {width} values")
    for v in key:
        if type(v) is str:
            ok = _MISSING not in v and _SEP not in v
        else:
            ok = v is None or type(v) in (int, bool) or (type(v) is float and math.isfinite(v))
        if not ok:
            raise _invalid("查找表的键含无效值", "a lookup key holds an invalid value")
    return _SEP.join([_MISSING if v is None else _str(v) for v in key])


def _check_table(spec: dict, width: int) -> tuple[pd.Index, np.ndarray]:
    """The joined keys, and the values with the default appended (index -1 reads it)."""
    table = spec["table"]
    if not isinstance(table, dict) or set(table) != {"keys", "values"}:
        raise _invalid("table 须只含 keys 与 values", "table must hold keys and values only")
    keys, values = table["keys"], table["values"]
    if not isinstance(keys, list) or not isinstance(values, list) or len(keys) != len(values):
        raise _invalid(
            "table 的 keys 与 values 长度不一致", "table keys and values differ in length"
        )
    if len(keys) > MAX_LOOKUP_ROWS:
        raise _invalid(f"查找表超过 {MAX_LOOKUP_ROWS} 行", f"over {MAX_LOOKUP_ROWS} lookup rows")
    probs = np.append(_finite(values, "table.values"), _finite(spec["default"], "default"))
    if spec.get("output", "probability") == "probability" and ((probs < 0) | (probs > 1)).any():
        raise _invalid("查找表的概率须在 0 与 1 之间", "lookup probabilities must lie in [0, 1]")
    index = pd.Index([_key_text(k, width) for k in keys], dtype=object)
    if index.has_duplicates:
        raise _invalid("查找表有重复的键", "the lookup table has duplicate keys")
    return index, probs


def _validate(spec: Any) -> tuple[pd.Index, np.ndarray] | None:
    """Refuse an invalid spec; for a lookup, return what :func:`_check_table` builds."""
    if not isinstance(spec, dict):
        raise _invalid("顶层不是 JSON 对象", "the top level is not a JSON object")
    if spec.get("format") != FORMAT:
        raise _invalid("格式标记不是 shuyu-model/1", "the format tag is not shuyu-model/1")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise _invalid(f"kind 须为 {' | '.join(KINDS)}", f"kind must be {' | '.join(KINDS)}")
    if unknown := sorted(set(spec) - _FIELDS[kind] - _OPTIONAL[kind]):
        raise _invalid(f"未知字段 {_show(unknown)}", f"unknown keys {_show(unknown)}")
    if missing := sorted(_FIELDS[kind] - set(spec)):
        raise _invalid(f"缺少 {_show(missing)}", f"{_show(missing)} missing")
    _names([spec["target"]], "target")
    features = _names(spec["features"], "features")
    if spec.get("output", "probability") not in OUTPUTS:
        raise _invalid(
            f"output 须为 {' | '.join(OUTPUTS)}", f"output must be {' | '.join(OUTPUTS)}"
        )
    if "threshold" in spec:
        _finite(spec["threshold"], "threshold")
    key = spec.get("key", {"dataset": "-", "column": "-"})
    if not isinstance(key, dict) or set(key) != {"dataset", "column"}:
        raise _invalid("key 须只含 dataset 与 column", "key must hold dataset and column only")
    for value in key.values():
        _names([value], "key")
    if kind == "lookup":
        return _check_table(spec, len(features))
    _check_encoders(spec, features)
    return None


def _str(value: Any) -> str:
    """A value as lookup keys and categories compare it: whole floats lose their ``.0``, so an
    integer column that pandas read as floats (it has a gap) still matches."""
    if type(value) is str:
        return value
    if isinstance(value, float | np.floating) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def _text(series: pd.Series) -> np.ndarray:
    """The values as :func:`_str` gives them (vectorized but for mixed object columns); missing
    ones as a marker."""
    if series.dtype == object:
        text = np.array([_str(v) for v in series.to_numpy()], dtype=object)
    elif pd.api.types.is_float_dtype(series):
        x = series.to_numpy(dtype=float, na_value=np.nan)
        text = pd.Series(x).astype(str).to_numpy(dtype=object)
        whole = np.isfinite(x) & (np.abs(x) < 2**53) & (x == np.trunc(x))
        text[whole] = pd.Series(x[whole].astype(np.int64)).astype(str).to_numpy(dtype=object)
    else:
        text = series.astype(str).to_numpy(dtype=object)
    text[series.isna().to_numpy()] = _MISSING
    return text


def _joined(columns: list[np.ndarray]) -> np.ndarray:
    out = columns[0]
    for column in columns[1:]:
        out = out + _SEP + column
    return out


def _binary(series: pd.Series) -> np.ndarray:
    """0/1 (NaN where missing): non-zero numbers, True and "1"/"true"/"yes"/"是" are 1."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(series):
        y = pd.to_numeric(series).to_numpy(dtype=float, na_value=np.nan) != 0
    else:
        y = series.astype(object).map(lambda v: str(v).strip().lower() in _TRUE).to_numpy()
    return np.where(missing, np.nan, y.astype(float))


def _numeric(series: pd.Series) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(series):
        series = series.astype(object)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _require(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    if missing := [c for c in columns if c not in frame.columns]:
        raise ModelFormatError(
            f"数据缺少模型需要的列：{_show(missing)}",
            f"the data lacks columns the model needs: {_show(missing)}",
        )


def _design(spec: dict, frame: pd.DataFrame) -> np.ndarray:
    """The encoded matrix (rows × encoded features) of a logistic or linear model."""
    blocks = [np.zeros((len(frame), 0))]
    for name in spec["features"]:
        enc = spec["encoders"][name]
        if enc["type"] == "standard":
            x = _numeric(frame[name])
            x = np.where(np.isfinite(x), x, enc["mean"])  # missing numeric → the mean
            blocks.append(((x - enc["mean"]) / enc["std"])[:, None])
        else:  # unseen or missing category → all zeros
            codes = pd.Index(enc["categories"], dtype=object).get_indexer(_text(frame[name]))
            onehot = np.zeros((len(frame), len(enc["categories"])))
            rows = np.flatnonzero(codes >= 0)
            onehot[rows, codes[rows]] = 1.0
            blocks.append(onehot)
    return np.hstack(blocks)


@dataclass(frozen=True)
class Model:
    """A validated model file; build one with :func:`load` or a ``fit_*`` function."""

    kind: str
    target: str
    features: tuple[str, ...]
    spec: dict

    @property
    def threshold(self) -> float:
        return float(self.spec.get("threshold", 0.5))

    @property
    def probabilistic(self) -> bool:
        """Whether :meth:`predict` gives probabilities (scored by log-loss) rather than values."""
        output = self.spec.get("output", "probability")
        return self.kind == "logistic" or (self.kind == "lookup" and output == "probability")

    @cached_property
    def _lookup(self) -> tuple[pd.Index, np.ndarray]:
        return _check_table(self.spec, len(self.features))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities in [0, 1] (logistic, lookup) or values (linear, a lookup of values).

        Raises:
            ModelFormatError: a feature column is missing from ``frame``.
        """
        _require(frame, self.features)
        if self.kind == "lookup":
            keys, values = self._lookup
            return values[keys.get_indexer(_joined([_text(frame[f]) for f in self.features]))]
        z = _design(self.spec, frame) @ np.asarray(self.spec["weights"], dtype=float)
        z = z + self.spec["intercept"]
        return _sigmoid(z) if self.kind == "logistic" else z

    def answer(self, frame: pd.DataFrame) -> np.ndarray:
        """Yes/no per row: the prediction is at least the model's threshold (default 0.5)."""
        return self.predict(frame) >= self.threshold

    def loss(self, frame: pd.DataFrame) -> np.ndarray:
        """Per-row loss against ``frame[target]`` (NaN where it is missing): log-loss with
        probabilities clipped to [1e-6, 1 - 1e-6] and a 0/1 target, or squared error (values)."""
        _require(frame, [self.target])
        prediction = self.predict(frame)
        if not self.probabilistic:
            return (prediction - _numeric(frame[self.target])) ** 2
        y, p = _binary(frame[self.target]), np.clip(prediction, EPS, 1 - EPS)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p))

    def strings(self) -> list[str]:
        """Every distinct string in the file (names, categories, lookup keys, key), for a scan."""
        out = [self.target, *self.features]
        for enc in self.spec.get("encoders", {}).values():
            out.extend(enc.get("categories", ()))
        for key in self.spec.get("table", {}).get("keys", ()):
            out.extend(_str(v) for v in key if v is not None)
        out.extend(self.spec.get("key", {}).values())
        return list(dict.fromkeys(out))

    def to_dict(self) -> dict:
        return copy.deepcopy(self.spec)

    def save(self, path: str | os.PathLike) -> None:
        """Write the model as UTF-8 JSON (non-ASCII text kept as is)."""
        text = json.dumps(self.spec, ensure_ascii=False, allow_nan=False)
        Path(path).write_text(text, encoding="utf-8")


def _model(spec: Any) -> Model:
    lookup = _validate(spec)
    model = Model(spec["kind"], spec["target"], tuple(spec["features"]), spec)
    if lookup is not None:  # validation built the lookup index: seed the cached property
        vars(model)["_lookup"] = lookup
    return model


def load(source: dict | str | bytes | os.PathLike) -> Model:
    """Read and validate a model file.

    Args:
        source: the model as a dict (copied), as JSON text (``str`` or ``bytes``), or the path
            of a JSON file (``os.PathLike``; a plain ``str`` is read as JSON text).

    Raises:
        ModelFormatError: the file is not valid ``shuyu-model/1``: wrong tag or kind, unknown or
            missing keys, lengths that differ, numbers that are not finite, limits exceeded.
    """
    if isinstance(source, os.PathLike):
        if Path(source).stat().st_size > MAX_BYTES:
            raise _invalid(f"超过 {MAX_BYTES >> 20} MB", f"larger than {MAX_BYTES >> 20} MB")
        source = Path(source).read_bytes()
    try:
        if isinstance(source, dict):
            source = json.dumps(source, ensure_ascii=False)  # NaN is refused when validated
        if isinstance(source, str):
            source = source.encode("utf-8")
        if not isinstance(source, bytes | bytearray):
            raise TypeError(type(source).__name__)
        if len(source) > MAX_BYTES:
            raise _invalid(f"超过 {MAX_BYTES >> 20} MB", f"larger than {MAX_BYTES >> 20} MB")
        spec = json.loads(source)
    except ModelFormatError:
        raise
    except (TypeError, ValueError, RecursionError) as e:  # JSON and Unicode errors are ValueErrors
        raise _invalid(
            "不是 JSON（文件请以 pathlib.Path 传入）",
            "it is not JSON (pass a file as a pathlib.Path)",
        ) from e
    return _model(spec)


def _training(frame: pd.DataFrame, features: list[str], target: str, binary: bool) -> tuple:
    """The rows with a target value, and the target (0/1 when ``binary``)."""
    _require(frame, [*features, target])
    y = _binary(frame[target]) if binary else _numeric(frame[target])
    keep = np.isfinite(y)
    if not keep.any():
        raise ModelFormatError("没有带目标值的行", "no row has a target value")
    return frame[keep], y[keep]


def _encoders(frame: pd.DataFrame, features: list[str], max_categories: int) -> dict:
    """Numbers standardized; anything else (text, categories, booleans) one-hot, top by count."""
    out = {}
    for name in features:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            x = _numeric(column)
            x = x[np.isfinite(x)]
            mean, std = (float(x.mean()), float(x.std())) if len(x) else (0.0, 1.0)
            out[name] = {"type": "standard", "mean": mean, "std": std if std > 0 else 1.0}
        else:
            text = pd.Series(_text(column))
            counts = text[text != _MISSING].value_counts().sort_index()
            top = counts.sort_values(ascending=False, kind="stable").index[:max_categories]
            out[name] = {"type": "onehot", "categories": [str(c) for c in top]}
    return out


def _solve(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.linalg.solve(lhs + 1e-9 * np.eye(len(lhs)), rhs)


def _fit(kind: str, frame, features, target, *, l2: float, max_iter: int, max_categories: int):
    features = list(features)
    frame, y = _training(frame, features, target, binary=kind == "logistic")
    encoders = _encoders(frame, features, max_categories)
    spec = {"format": FORMAT, "kind": kind, "target": target, "features": features}
    spec["encoders"] = encoders
    x = np.hstack([_design(spec, frame), np.ones((len(frame), 1))])
    penalty = np.diag([*[float(l2)] * (x.shape[1] - 1), 0.0])  # the intercept is not shrunk
    if kind == "linear":
        beta = _solve(x.T @ x + penalty, x.T @ y)
    else:  # Newton's method (IRLS) on the L2-penalized log-likelihood
        beta = np.zeros(x.shape[1])
        for _ in range(max_iter):
            p = _sigmoid(x @ beta)
            step = _solve(
                (x * (p * (1 - p))[:, None]).T @ x + penalty, x.T @ (p - y) + penalty @ beta
            )
            beta = beta - step
            if not np.isfinite(beta).all() or np.abs(step).max() < 1e-8:
                break
    if not np.isfinite(beta).all():
        raise ModelFormatError(
            "模型无法拟合（请加大 l2）", "the model could not be fitted (raise l2)"
        )
    return _model(spec | {"weights": beta[:-1].tolist(), "intercept": float(beta[-1])})


def fit_logistic(
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    *,
    l2: float = 1.0,
    max_iter: int = 50,
    max_categories: int = 50,
) -> Model:
    """Fit an L2-regularized logistic regression (Newton/IRLS) of a 0/1 target.

    Numeric features are standardized (missing → mean); text, category and boolean features are
    one-hot over their ``max_categories`` most frequent values. Rows without a target are dropped.
    """
    return _fit("logistic", frame, features, target, l2=l2, max_iter=max_iter,
                max_categories=max_categories)  # fmt: skip


def fit_linear(frame: pd.DataFrame, features: list[str], target: str, *, l2: float = 1.0) -> Model:
    """Fit a ridge regression in closed form, with the encoders of :func:`fit_logistic`."""
    return _fit("linear", frame, features, target, l2=l2, max_iter=0, max_categories=50)


def _is_binary(series: pd.Series) -> bool:
    """Booleans, text (yes/no) and numbers that are all 0 or 1."""
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return True
    return bool(series.dropna().isin([0, 1]).all())


def memorize(frame: pd.DataFrame, features: list[str], target: str) -> Model:
    """A lookup table of the mean target per distinct feature tuple (default: the overall mean).

    A 0/1 target (booleans, yes/no, numbers all 0 or 1) gives probabilities; any other numeric
    target gives values (``"output": "value"``). Fine for a few coarse features; with features
    unique per row it memorizes the training rows, which the membership-inference check catches.
    """
    features = list(features)
    binary = _is_binary(frame[target]) if target in frame.columns else True
    frame, y = _training(frame, features, target, binary=binary)
    columns = [_text(frame[f]) for f in features]
    codes, _ = pd.factorize(_joined(columns))
    means = np.bincount(codes, weights=y) / np.bincount(codes)
    first = np.unique(codes, return_index=True)[1]  # codes number tuples by first appearance
    keys = [
        [None if v == _MISSING else v for v in row]
        for row in zip(*(c[first] for c in columns), strict=True)
    ]
    spec = {"format": FORMAT, "kind": "lookup", "target": target, "features": features}
    if not binary:
        spec["output"] = "value"
    return _model(
        spec | {"table": {"keys": keys, "values": means.tolist()}, "default": float(y.mean())}
    )
