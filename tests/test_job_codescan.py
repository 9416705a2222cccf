"""The allow-list scan of a job's code, from the attacker's side: every spelling that hides a
forbidden call from a keyword search still sends the job to a person; ordinary training code
stays within the list (and a public-governance job of it is approved by policy)."""

from __future__ import annotations

import pytest

from hub.production import codescan
from tests.test_production_lifecycle import TRAIN

ORDINARY = {
    "ridge": TRAIN,  # the production tests' training job
    "lightgbm_with_sql_file": """
from pathlib import Path

import lightgbm as lgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sdk import job

frame = job.sql(Path(__file__).with_name("training.sql").read_text())
features = [c for c in frame.columns if c != "credit_grade"]
X, y = frame[features].astype("float32"), frame["credit_grade"]
X_fit, X_test, y_fit, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
model = lgb.LGBMClassifier(**job.params()).fit(X_fit, y_fit)
auc = roc_auc_score(y_test == "D", model.predict_proba(X_test)[:, -1])
job.save_model(model, sample=X_test.head(200), target="credit_grade")
job.save_metrics(auc=round(float(auc), 4), returns=len(frame))
""",
    "outputs_and_plots": """
import json, math, re
from collections import Counter
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import statsmodels.api as sm
from sdk import job

class Summary:
    def __init__(self, frame):
        self.frame = frame
    def __repr__(self):
        return f"Summary({len(self.frame)})"

frame = job.dataset("transit_trips").df()
by_day = frame.groupby("day").size().rename("n").reset_index()
by_day.to_parquet(job.output("by_day.parquet"))
out = job.output("plots")
fig, ax = plt.subplots()
ax.plot(by_day["n"])
fig.savefig(out / "daily.png")
job.output("notes.json").write_text(json.dumps({"k": math.pi}))
pattern = re.compile(r"[0-9]+")
best = getattr(sm, "OLS", None)
if __name__ == "__main__":
    job.save_metrics(days=len(by_day), top=Counter(frame["line"]).most_common(1)[0][1])
""",
}

EVASIONS = {
    "getattr_builtins_concat": "getattr(__builtins__, 'ex' + 'ec')('print(1)')",
    "chr_joined_name": "f = getattr(__import__('o' 's'), ''.join(map(chr, [115, 121, 115, 116, 101, 109])))",
    "chr_joined_getattr_only": (
        "import pandas as pd\n"
        "g = getattr(pd, ''.join(chr(c) for c in [114, 101, 97, 100, 95, 99, 115, 118]))\n"
        "g('/etc/passwd')"
    ),
    "importlib": "import importlib\nm = importlib.import_module('sub' + 'process')",
    "from_importlib": "from importlib import import_module as im\nim('so' + 'cket')",
    "mro_walk": "subs = ().__class__.__mro__[1].__subclasses__()",
    "base_walk": "x = ''.__class__.__base__",
    "lambda_globals": "g = (lambda: 0).__globals__['__builtins__']",
    "lambda_eval_alias": "run = (lambda f: f)(eval)\nrun('1+1')",
    "builtin_alias": "e = exec\ne('import os')",
    "globals_lookup": "globals()['ev' + 'al']('1')",
    "vars_lookup": "vars(__builtins__)",
    "compile_code": "code = compile('1', 'x', 'eval')",
    "dunder_import": "__import__('socket')",
    "open_a_file": "data = open('/etc/passwd').read()",
    "path_read": "from pathlib import Path\nPath('/etc/shadow').read_text()",
    "path_climbs": "from pathlib import Path\n(Path(__file__).parent / '../../data/raw.parquet').read_bytes()",
    "pandas_reads_path": "import pandas as pd\npd.read_parquet('/data/medical_visits.parquet')",
    "numpy_pickle": "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
    "os_module": "import os\nos.listdir('/')",
    "subprocess": "import subprocess\nsubprocess.run(['id'])",
    "socket": "import socket\nsocket.create_connection(('127.0.0.1', 9))",
    "ctypes": "import ctypes",
    "sys_modules": "import sys\nsys.modules['os']",
    "pickle": "import pickle\npickle.loads(b'')",
    "sdk_client": "from sdk import client",
    "job_private": "from sdk import job\njob._env('SHUYU_JOB_DATA')",
    "own_duckdb": "import duckdb\nduckdb.sql(\"select * from read_csv('/etc/passwd')\")",
    "pandas_eval": "import pandas as pd\npd.eval('1+1')",
    "setattr_computed": "import numpy as np\nname = 'x'\nsetattr(np, name, 1)",
    "getattr_dunder_literal": "getattr(object, '__subclasses__')()",
    "unparsable": "def (:",
}


def problems(code: str, files: dict[str, bytes] | None = None) -> list[codescan.Problem]:
    return codescan.scan_bundle({"train.py": code.encode(), **(files or {})})


@pytest.mark.parametrize("name", sorted(ORDINARY))
def test_when_a_job_is_ordinary_training_code_then_it_stays_within_the_allow_list(name):
    assert problems(ORDINARY[name]) == []


@pytest.mark.parametrize("name", sorted(EVASIONS))
def test_when_code_hides_a_call_from_a_keyword_scan_then_the_allow_list_reports_it(name):
    found = problems(EVASIONS[name])
    assert found, name
    reason = codescan.reason(found)
    assert "审核员" in reason.zh and "reviewer" in reason.en
    assert f"train.py:{found[0].line}" in reason.en


def test_when_a_bundle_imports_its_own_module_then_that_module_is_scanned_too():
    helper = b"import os\nos.system('id')\n"
    found = problems("import helpers\nhelpers.run()", {"helpers.py": helper})
    assert [(p.file, p.kind) for p in found][0] == ("helpers.py", "import")
    assert problems("import helpers", {"helpers.py": b"X = 1\n"}) == []


def test_when_a_keyword_scan_would_pass_obfuscated_code_then_the_allow_list_still_fails_it():
    from hub.production import jobs

    code = "getattr(__builtins__, 'ex' + 'ec')('imp' + 'ort so' + 'cket')"
    assert not any(w in code for w in ("socket", "subprocess", "os.system"))  # the old scan's words
    found = problems(code)
    assert {p.kind for p in found} >= {"reflection", "dynamic"}
    assert not hasattr(jobs, "NETWORK_CODE")


def test_when_the_leaky_job_of_the_lifecycle_tests_is_scanned_then_policy_may_approve_it():
    """The release gate, not the code scan, is what stands between that job and its tenant:
    its code is ordinary (prints and writes through the job API), so policy approves it."""
    from tests import leaky_job

    assert problems(leaky_job.CODE) == []
