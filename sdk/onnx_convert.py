"""Fitted scikit-learn, LightGBM and XGBoost models as ``shuyu-onnx/1`` files.

scikit-learn goes through skl2onnx with one input per column of the sample (text columns as
text, numbers as float32); LightGBM and XGBoost through onnxmltools with one float input named
``input`` (onnxmltools supports opsets up to 15). Classifiers give their probabilities as a tensor
(no ZipMap). The result carries the ``shuyu.*`` metadata and no doc strings;
:func:`sdk.onnxmodel.convert` checks it and compares its predictions with the original's.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import onnx
import pandas as pd

from sdk.onnx_format import ModelFormatError, metadata

SKLEARN_OPSET = {"": 18, "ai.onnx.ml": 3}
ONNXMLTOOLS_OPSET = 15
SUPPORTED = (
    "scikit-learn 估计器与 Pipeline、LightGBM（LGBMClassifier、LGBMRegressor、Booster）、"
    "XGBoost（XGBClassifier、XGBRegressor）",
    "scikit-learn estimators and Pipelines, LightGBM (LGBMClassifier, LGBMRegressor, Booster), "
    "XGBoost (XGBClassifier, XGBRegressor)",
)
_CLASSIFYING_OBJECTIVES = ("binary", "multiclass", "multiclassova", "cross_entropy", "xentropy")


def _library(model: Any) -> str:
    module = type(model).__module__.split(".")[0]
    name = type(model).__name__
    if module == "sklearn" and hasattr(model, "predict"):
        return "sklearn"
    if module == "lightgbm" and name in ("LGBMClassifier", "LGBMRegressor", "Booster"):
        return "lightgbm"
    if module == "xgboost" and name in ("XGBClassifier", "XGBRegressor"):
        return "xgboost"
    raise ModelFormatError(
        f"不支持的模型类型 {name[:40]}；支持：{SUPPORTED[0]}",
        f"unsupported model type {name[:40]}; supported: {SUPPORTED[1]}",
    )


def _features(model: Any, library: str, sample: pd.DataFrame) -> list[str]:
    names: Any = None
    if library == "lightgbm":
        names = model.feature_name() if type(model).__name__ == "Booster" else model.feature_name_
    elif library == "xgboost":
        names = model.get_booster().feature_names
    if names is None:
        names = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in (list(sample.columns) if names is None else list(names))]
    if missing := [n for n in names if n not in sample.columns]:
        raise ModelFormatError(
            f"样本缺少模型的特征列 {', '.join(m[:40] for m in missing[:5])}",
            f"the sample lacks the model's feature columns {', '.join(m[:40] for m in missing[:5])}",
        )
    return names


def _frame(sample: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The sample's features as the ONNX model sees them: numbers (and booleans) as float32,
    categoricals as their values."""
    frame = sample[features].copy()
    for name in features:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            frame[name] = column.astype(object)
        elif pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            frame[name] = column.astype(np.float32)
    return frame.reset_index(drop=True)


def _classifies(model: Any, library: str) -> bool:
    if library == "lightgbm" and type(model).__name__ == "Booster":
        return str(model.params.get("objective", "")) in _CLASSIFYING_OBJECTIVES
    from sklearn.base import is_classifier

    return bool(is_classifier(model))


def _expected(model: Any, frame: pd.DataFrame, classifies: bool) -> np.ndarray:
    if type(model).__name__ == "Booster":
        out = np.asarray(model.predict(frame), dtype=float)
        return out.reshape(len(frame), -1)[:, -1]
    if classifies:
        return np.asarray(model.predict_proba(frame), dtype=float)[:, -1]
    return np.asarray(model.predict(frame), dtype=float).reshape(len(frame))


def _one_matrix(model: Any, frame: pd.DataFrame) -> bool:
    """A scikit-learn estimator that is not a Pipeline or ColumnTransformer, fed numbers only."""
    composite = hasattr(model, "steps") or hasattr(model, "transformers")
    return not composite and all(dtype == np.float32 for dtype in frame.dtypes)


_REGISTERED: list[bool] = []


def _lightgbm_in_pipelines() -> None:
    """Let skl2onnx convert a Pipeline that ends in LightGBM (a ColumnTransformer in front of an
    LGBMClassifier is a credit team's usual scorecard), with onnxmltools' converter. XGBoost is
    not registered: inside a pipeline its conversion disagrees with the original."""
    if _REGISTERED:
        return
    _REGISTERED.append(True)
    try:
        import lightgbm
    except ImportError:
        return
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        lightgbm.LGBMClassifier, "LightGbmLGBMClassifier", calculate_linear_classifier_output_shapes,
        convert_lightgbm, options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )  # fmt: skip
    update_registered_converter(
        lightgbm.LGBMRegressor, "LightGbmLGBMRegressor", calculate_linear_regressor_output_shapes,
        convert_lightgbm, options={"split": None},
    )  # fmt: skip


def _proto(model: Any, library: str, frame: pd.DataFrame, classifies: bool) -> onnx.ModelProto:
    if library == "sklearn":
        import skl2onnx

        _lightgbm_in_pipelines()
        from skl2onnx.common.data_types import FloatTensorType as SklFloat

        types = [("input", SklFloat([None, frame.shape[1]]))]
        options = {id(model): {"zipmap": False}} if classifies else None
        if _one_matrix(model, frame):  # a bare estimator takes one input, not one per column
            return skl2onnx.to_onnx(model, initial_types=types, target_opset=SKLEARN_OPSET, options=options)  # fmt: skip
        return skl2onnx.to_onnx(model, frame, target_opset=SKLEARN_OPSET, options=options)
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [("input", FloatTensorType([None, frame.shape[1]]))]

    if library == "lightgbm":
        return onnxmltools.convert_lightgbm(
            model, initial_types=types, target_opset=ONNXMLTOOLS_OPSET, zipmap=False
        )
    plain = copy.deepcopy(model)  # onnxmltools takes only the names f0..fN
    booster = plain.get_booster()
    booster.feature_names = None
    booster.feature_types = None
    return onnxmltools.convert_xgboost(plain, initial_types=types, target_opset=ONNXMLTOOLS_OPSET)


def _strip(proto: onnx.ModelProto, meta: dict[str, str]) -> None:
    """No doc strings anywhere, any batch size, the ``shuyu.*`` metadata and nothing else."""
    graph = proto.graph
    items = [proto, graph, *graph.node, *graph.input, *graph.output, *graph.value_info]
    items += [*graph.initializer, *(a for node in graph.node for a in node.attribute)]
    for item in items:
        item.ClearField("doc_string")
    for value in graph.output:  # some converters declare a batch of one for the label
        dims = value.type.tensor_type.shape.dim
        if len(dims) and dims[0].HasField("dim_value"):
            dims[0].dim_param = "N"
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)


def to_onnx(
    model: Any,
    sample: pd.DataFrame,
    *,
    target: str,
    key: dict | None = None,
    threshold: float | None = None,
) -> tuple[bytes, np.ndarray, pd.DataFrame]:
    """The file's bytes, the original's predictions on the converted sample, and that sample.

    Raises:
        ModelFormatError: an unsupported model, a sample without rows or features, or a
            converter that fails.
    """
    library = _library(model)
    if not isinstance(sample, pd.DataFrame) or sample.empty:
        raise ModelFormatError(
            "sample 须为有数据行的 DataFrame", "sample must be a DataFrame with rows"
        )
    features = _features(model, library, sample.drop(columns=[target], errors="ignore"))
    frame = _frame(sample, features)
    classifies = _classifies(model, library)
    final = model.steps[-1][1] if hasattr(model, "steps") else model  # a pipeline's estimator
    boosted = type(final).__module__.split(".")[0] in ("lightgbm", "xgboost")
    labels = getattr(model, "classes_", None) if classifies and boosted else None
    if labels is not None and np.asarray(labels).dtype == bool:
        raise ModelFormatError(
            "类别标签为 True/False，ONNX 转换器无法处理：请以 0/1 训练（y.astype(int)）",
            "the class labels are True/False, which the ONNX converters cannot take: "
            "train on 0/1 (y.astype(int))",
        )
    try:
        expected = _expected(model, frame, classifies)
        proto = _proto(model, library, frame, classifies)
    except ModelFormatError:
        raise
    except Exception as e:  # the converters raise many kinds; the user needs the reason
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        reason = f"{type(e).__name__}: {first}"
        raise ModelFormatError(f"模型无法转换为 ONNX（{reason}）",
                               f"the model could not be converted to ONNX ({reason})") from e  # fmt: skip
    task = "classification" if classifies else "regression"
    _strip(proto, metadata(target, task, features, key, threshold))
    return proto.SerializeToString(), expected, frame
