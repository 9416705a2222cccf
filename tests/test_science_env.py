"""The data-science set (issue 15): declared once, installed the same everywhere, and working.

pyproject.toml's ``science`` extra is the only declaration: ``make deps`` installs it into the
venv the sandbox and production jobs mount, and ``kernels/Dockerfile`` installs that very list.
The end-to-end checks (a real sandboxed kernel, a real production job) are in
tests/e2e/test_sandbox_attacks.py and tests/e2e/test_production.py.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.science_set import SCIENCE_MODULES

ROOT = Path(__file__).resolve().parents[1]


def science_pins() -> dict[str, str]:
    """pyproject's ``science`` extra as distribution → exact version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for spec in project["optional-dependencies"]["science"]:
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([0-9][A-Za-z0-9.]*)", spec)
        assert m, f"not an exact pin: {spec!r}"
        pins[m.group(1).lower()] = m.group(2)
    return pins


def test_when_the_science_set_is_declared_then_every_named_package_is_pinned_exactly():
    assert set(science_pins()) == set(SCIENCE_MODULES)


def test_when_the_image_is_built_then_it_installs_the_same_pins_and_pins_none_of_them_again():
    dockerfile = (ROOT / "kernels" / "Dockerfile").read_text()
    assert "COPY pyproject.toml " in dockerfile
    assert "['project']['optional-dependencies']['science']" in dockerfile
    assert re.search(r"pip install -r /tmp/science\.txt -c /tmp/science\.lock", dockerfile)
    assert "COPY science.lock " in dockerfile
    names = {n for n in SCIENCE_MODULES} | {"xgboost"}
    for quoted in re.findall(r'"([A-Za-z0-9._-]+)\s*[<>=!~]', dockerfile):
        assert quoted.lower() not in names, f"{quoted} is pinned in the Dockerfile too"


def test_when_make_builds_the_venv_then_it_installs_the_science_extra():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q -e '.[test,science]' -c science.lock" in makefile
    assert re.search(r"^\$\(STAMP\)/venv: .*science\.lock", makefile, re.M)


def test_when_the_set_pulls_in_dependencies_then_the_lock_holds_each_at_its_installed_version():
    """science.lock is the solver's answer for the whole closure of the extra: the venv holds
    exactly it (rerun scripts/lock_science.py after changing a pin), and pip finds no conflict."""
    done = subprocess.run([sys.executable, "scripts/lock_science.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {"threadpoolctl", "joblib", "protobuf", "scipy"} <= set(lock_science().read())
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def lock_science():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "lock_science", ROOT / "scripts" / "lock_science.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_when_lightgbm_is_installed_then_the_system_openmp_runtime_it_links_is_too():
    assert re.search(
        r"^PACKAGES=\(.* libgomp1[ )]", (ROOT / "scripts" / "debian-deps.sh").read_text(), re.M
    )
    assert (
        "apt-get install -y --no-install-recommends libgomp1"
        in (ROOT / "kernels" / "Dockerfile").read_text()
    )


def test_when_the_venv_is_built_then_it_holds_exactly_the_pinned_versions():
    for dist, version in science_pins().items():
        assert importlib.metadata.version(dist) == version, dist


@pytest.mark.parametrize("module", sorted(SCIENCE_MODULES.values()))
def test_when_a_package_of_the_set_is_imported_then_it_loads(module):
    importlib.import_module(module)


def test_when_models_of_each_library_are_converted_to_onnx_then_onnxruntime_predicts_the_same():
    """The converters' opsets and the runtime agree: skl2onnx up to its own maximum, onnxmltools
    at its default (it supports lower opsets than onnx itself)."""
    import lightgbm
    import numpy as np
    import onnx
    import onnxmltools
    import onnxruntime as ort
    import skl2onnx
    import xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)

    def predicted(model_proto) -> np.ndarray:
        onnx.checker.check_model(model_proto)
        session = ort.InferenceSession(
            model_proto.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        return session.run(None, {session.get_inputs()[0].name: x})[0]

    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    proto = skl2onnx.to_onnx(pipe, x[:1], target_opset=skl2onnx.__max_supported_opset__)
    assert (predicted(proto) == pipe.predict(x)).all()
    types = [("x", FloatTensorType([None, 4]))]
    gbm = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(x, y)
    assert (
        predicted(onnxmltools.convert_lightgbm(gbm, initial_types=types)) == gbm.predict(x)
    ).all()
    xgb = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(x, y)
    assert (
        predicted(onnxmltools.convert_xgboost(xgb, initial_types=types)) == xgb.predict(x)
    ).all()


def _python(code: str) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_when_the_zygote_preloads_then_the_heavy_science_libraries_stay_lazy():
    found = _python("""
import sys
from spawner import zygote
zygote.preload()
heavy = ["sklearn", "statsmodels", "lightgbm", "xgboost", "matplotlib", "onnx", "onnxruntime",
         "skl2onnx", "onnxmltools", "polars"]
print(" ".join(sorted(m for m in heavy if m in sys.modules)) or "-")
""")  # fmt: skip
    assert found == ["-"]


def test_when_the_zygote_preloads_science_modules_then_their_import_starts_no_thread():
    """A fork copies only the forking thread: a thread pool started at import would be missing
    from every server."""
    from spawner import zygote

    for name in zygote.SCIENCE_PRELOAD:
        found = _python(f"""
import os, numpy, pandas, pyarrow
before = len(os.listdir("/proc/self/task"))
import {name}
print(len(os.listdir("/proc/self/task")) - before)
""")  # fmt: skip
        assert found == ["0"], name
