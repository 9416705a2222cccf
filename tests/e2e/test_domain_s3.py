"""The domain store on S3, end to end: a real hub whose ``SHUYU_DOMAIN_URL`` points to a
SeaweedFS this module starts and stops. A department registers a dataset (the CLI), alice samples
it through the gateway and submits an export, trains on the raw medical visits in a production
job and publishes the model; every raw table, frozen request and job output lives in the object
store (none in the domain's working folder), and each job reads and writes with an identity of
its own that is gone when the job ends.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest

from hub.db.models import Request
from hub.demo import world
from hub.store import StoreConfig, iam
from sdk import Workspace
from tests.e2e.conftest import api_tokens, gateway_url, running_hub
from tests.e2e.hub_process import CHECKOUT
from tests.e2e.test_production import CARD, TRAIN, approve, until
from tests.seaweed import SeaweedFS

pytestmark = pytest.mark.e2e
PREFIX = "e2e-domain"
SCENARIO = "普惠健康险定价"
DEPARTMENT = "市卫生健康委员会"
PROVIDER = "paul"  # approves the department's data-list items in the demo world


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    server = SeaweedFS(tmp_path_factory.mktemp("seaweed")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def hub(request, tmp_path_factory, seaweed):
    """The demo world built and the hub run with the store on S3 (the test process too: the
    world's raw tables go to the object store as the hub's would)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in seaweed.env(PREFIX).items():
            patch.setenv(name, value)
        with running_hub(request, tmp_path_factory, "sqlite") as running:
            yield running


# Appended to the training code: what of the store a running job could reach.
PROBE = """
import json, os, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    reached = True
except OSError:
    reached = False
names = sorted(k for k in os.environ if any(w in k for w in ("S3", "AWS", "DOMAIN")))
with open(job.output("probe.json"), "w") as f:
    json.dump({{"reached": reached, "env": names}}, f)
"""


def objects(seaweed: SeaweedFS, under: str) -> dict[str, int]:
    listed = seaweed.client().keys(f"{PREFIX}/{under}")
    return {key[len(PREFIX) + 1 :]: size for key, size in listed.items()}


def shuyu(hub, *argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "hub.cli", *argv], env=hub[0].env,
                          cwd=CHECKOUT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_register_sample_export_train_and_publish_with_the_store_on_s3(
    hub, seaweed, tmp_path, monkeypatch
):
    proc, db, _ = hub
    domain = proc.home / "domain"
    started = time.monotonic()
    assert "raw/medical_visits.parquet" in objects(seaweed, "raw/")
    assert not list((domain / "raw").glob("*.parquet"))  # the object store holds the raw data

    # A department registers a dataset: it goes to the object store, not the working folder.
    frame = pd.DataFrame({
        "clinic": [f"社区卫生服务中心{i % 6}" for i in range(240)],
        "visits": [(i * 37) % 90 + 10 for i in range(240)],
        "cost": [float((i * 53) % 700 + 50) for i in range(240)],
    })  # fmt: skip
    csv = tmp_path / "clinic_costs.csv"
    frame.to_csv(csv, index=False)
    shuyu(hub, "dataset", "add", "--name", "clinic_costs", "--department", DEPARTMENT,
          "--level", "2", "--file", str(csv))  # fmt: skip
    assert "raw/clinic_costs.parquet" in objects(seaweed, "raw/")
    assert not (domain / "raw" / "clinic_costs.parquet").exists()
    out = shuyu(hub, "datalist", "request", "--scenario", SCENARIO, "--tenant",
                world.TENANTS[0]["name"], "--dataset", "clinic_costs", "--columns", "clinic,visits,cost")  # fmt: skip
    item = re.search(r"#(\d+)", out).group(1)
    shuyu(hub, "datalist", "approve", item, "--by", PROVIDER, "--reason", "场景所需 / needed")

    # alice samples it through the gateway: read from the object store.
    ws = Workspace(gateway_url(hub), api_tokens(hub, ["alice"])["alice"], scenario=SCENARIO)
    sample = ws.datasets.get("clinic_costs").sample()
    assert list(sample.columns) == ["clinic", "visits", "cost"] and 0 < len(sample) < 240

    # An export is frozen into the object store, hashed; its checks read the raw data there.
    result = frame.groupby("clinic", as_index=False)["visits"].count()
    export = ws.exports.create(result, purpose="各中心就诊数 / visits per clinic", preflight=False)
    until(db, export.id, {"in_review"})
    with db.session() as s:
        frozen = s.get(Request, export.id)
        sha, checks = frozen.content_sha256, {c.name: c.verdict for c in frozen.checks}
    body = seaweed.client().get(f"{PREFIX}/requests/{export.id}/{sha}.parquet").content
    assert hashlib.sha256(body).hexdigest() == sha
    assert checks and "error" not in checks.values()

    # A training job: approved, run on the whole raw table staged with its own identity.
    (tmp_path / "costmodel").mkdir()
    port = seaweed.ports["s3"]
    (tmp_path / "costmodel" / "train.py").write_text(TRAIN + PROBE.format(port=port))
    monkeypatch.chdir(tmp_path)
    job = ws.jobs.submit("costmodel/train.py", datasets=["medical_visits"], params={"l2": 1.0},
                         resources={"cpus": 1, "memory_gb": 1, "seconds": 120},
                         purpose="费用模型训练 / cost model", dry_run=False)  # fmt: skip
    until(db, job.id, {"in_review"})
    approve(db, job.id, "rita", "ryan")
    assert until(db, job.id, {"succeeded", "failed"}) == "succeeded"
    assert ws.jobs.get(job.id).metrics["rows"] == 300  # every raw row of the demo world
    stored = objects(seaweed, f"jobs/{job.id}/")
    assert {f"jobs/{job.id}/output/model.onnx", f"jobs/{job.id}/output/cost_by_gender.parquet",
            f"jobs/{job.id}/released.log"} <= set(stored)  # fmt: skip
    probe = seaweed.client().get(f"{PREFIX}/jobs/{job.id}/output/probe.json").json()
    assert probe == {"reached": False, "env": []}  # the job reaches neither the store nor keys
    users = iam.users(StoreConfig.from_env(seaweed.env(PREFIX)))
    assert not [u for u in users if u.startswith(f"shuyu-job-{job.id}-")]
    assert not (domain / "staging" / str(job.id)).exists()

    # The tenant's view of the log is the store's once this machine's copy is gone.
    shown = ws.jobs.get(job.id).log()
    (domain / "jobs" / str(job.id) / "released.log").unlink()
    assert "first patient" in shown and ws.jobs.get(job.id).log() == shown

    # The model is read from the job's outputs in the store (not the working folder) and published.
    shutil.rmtree(domain / "jobs" / str(job.id) / "output")
    model = ws.models.publish(job.id, product="visit-cost-s3", card=CARD, purpose="发布 / publish")
    until(db, model.id, {"in_review"})
    with db.session() as s:
        found = {c.name: (c.verdict, c.details) for c in s.get(Request, model.id).checks}
    assert found["membership_inference"][0] == "pass"  # members and held-out rows from S3
    assert found["membership_inference"][1]["holdout"] >= 50
    approve(db, model.id, "rita", "ryan")
    assert until(db, model.id, {"published"}) == "published"
    print(f"data path on S3: {time.monotonic() - started:.1f}s")
