"""The data-science set (issue 15) as the tests see it: each distribution of pyproject's
``science`` extra with the module it is imported as, and the code a kernel or a job runs to show
the set works there."""

from __future__ import annotations

# Distribution → module.
SCIENCE_MODULES = {
    "numpy": "numpy",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "scipy": "scipy",
    "scikit-learn": "sklearn",
    "statsmodels": "statsmodels",
    "lightgbm": "lightgbm",
    "xgboost-cpu": "xgboost",
    "duckdb": "duckdb",
    "polars": "polars",
    "matplotlib": "matplotlib",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "skl2onnx": "skl2onnx",
    "onnxmltools": "onnxmltools",
    "pyspark": "pyspark",  # imported only: its JVM runs in Spark jobs (tests/test_spark_job.py)
}

# Imports every module (and the submodules the models need); prints ``IMPORTED a,b,...``.
IMPORT_ALL = f"""
import importlib
for _name in {sorted(SCIENCE_MODULES.values())!r}:
    importlib.import_module(_name)
import duckdb, polars, scipy.stats, statsmodels.api, onnx, onnxruntime, skl2onnx, onnxmltools
assert duckdb.sql("SELECT 41 + 1").fetchall() == [(42,)]
assert polars.DataFrame({{"a": [1, 2]}})["a"].sum() == 3
print("IMPORTED", ",".join({sorted(SCIENCE_MODULES.values())!r}))
"""

# Fits a tiny model with each of scikit-learn, LightGBM and XGBoost; prints ``FITTED`` and the
# three training accuracies.
FIT_TINY = """
import numpy as np, lightgbm, xgboost
from sklearn.linear_model import LogisticRegression
_rng = np.random.default_rng(0)
_x = _rng.normal(size=(200, 4))
_y = (_x[:, 0] + _x[:, 1] > 0).astype(int)
_scores = [
    LogisticRegression().fit(_x, _y).score(_x, _y),
    lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(_x, _y).score(_x, _y),
    xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(_x, _y).score(_x, _y),
]
# what scikit-learn asks before it starts a process pool (KMeans, n_jobs=...): told, it stays quiet
from joblib import cpu_count
cpu_count(only_physical_cores=True)
print("FITTED", *(f"{s:.2f}" for s in _scores))
"""
QUIET = "physical cores"  # loky's warning when it cannot count cores in a sandbox
