"""A real Spark job in the production sandbox: its own standalone cluster (master and two workers,
authenticated and encrypted) in its own network namespace, the same SQL answered as DuckDB answers
it, only the approved columns visible, and, from the attacker's side (the job's code), nothing of
the host reachable: not the hub's loopback port, not the host's addresses, no route out.

One run (Spark's JVMs take a while to start) feeds every assertion. Run under the e2e lock:
``flock /tmp/shuyu-e2e.lock .venv/bin/pytest tests/test_spark_job.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest

from hub import rawstore
from hub.production import jobs, sandbox, spark
from hub.production.executor import system_paths
from hub.production.rules import ProductionRules
from sdk import spark as sdk_spark
from sdk.spark_cluster import SECRET_ENV
from spawner import cgroups, seccomp
from spawner.job_policy import SPARK_PIDS, build_job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the production sandbox runs as root")

QUERY = (
    "SELECT department, count(*) AS n, sum(cost) AS total, min(age) AS youngest, "
    "max(age) AS oldest, count(DISTINCT gender) AS genders, max(visited) AS last_visit "
    "FROM visits WHERE age >= 18 "
    "GROUP BY department ORDER BY department"
)

JOB = """
import json, os, socket
from pathlib import Path
from sdk import job

params = job.params()
report = {}
report["duckdb"] = job.sql(params["query"]).astype({"last_visit": str}).to_dict("list")
spark = job.spark()
report["spark"] = spark.sql(params["query"]).toPandas().astype({"last_visit": str}).to_dict("list")
report["columns"] = spark.table("visits").columns
conf = spark.sparkContext.getConf()
report["conf"] = {k: conf.get(k, None) for k in (
    "spark.authenticate", "spark.network.crypto.enabled", "spark.io.encryption.enabled",
    "spark.ui.enabled", "spark.master", "spark.local.dir")}
report["executors"] = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
java, confined = [], []
for p in Path("/proc").iterdir():
    if p.name.isdigit():
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\\0")
        except OSError:
            continue
        names = [c.decode() for c in cmd if c.startswith(b"org.apache.spark.")]
        if names:
            status = dict(l.split(":", 1) for l in (p / "status").read_text().splitlines() if ":" in l)
            java += names
            confined.append([status["Seccomp"].strip(), status["NoNewPrivs"].strip(),
                             status["CapEff"].strip(), status["Uid"].split()[0]])
report["daemons"] = sorted(java)
report["confined"] = confined
report["secret_in_env"] = bool(os.environ.get(params["secret_env"]))
print("secret is", os.environ.get(params["secret_env"]))  # the released log must not show it

def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return "connected"
    except OSError as e:
        return type(e).__name__

report["own_master"] = reach("127.0.0.1", 7077)  # its own cluster, on its own loopback
report["hub_port"] = reach("127.0.0.1", params["hub_port"])
report["host_address"] = reach(params["host_ip"], params["any_port"])
report["outside"] = reach("169.254.213.1", 80)
report["interfaces"] = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:])
report["routes"] = Path("/proc/net/route").read_text().splitlines()[1:]
json.dump(report, open(job.output("report.json"), "w"))
"""


def _host_ip() -> str:
    """A non-loopback address of this host (nothing is sent: a UDP socket only picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, contextlib.suppress(OSError):
        s.connect(("192.0.2.1", 9))  # TEST-NET-1; connect() on UDP sends no packet
        return s.getsockname()[0]
    return "127.0.0.2"


def _listen(host: str):
    server = socket.create_server((host, 0))
    accepted: list = []

    def accept():
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    threading.Thread(target=accept, daemon=True).start()
    return server, accepted


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spark")
    raw = tmp / "domain" / "raw" / "visits.parquet"
    raw.parent.mkdir(parents=True)
    n = 6000
    frame = pd.DataFrame(
        {
            "resident_id": [f"11010519{i:010d}" for i in range(n)],  # never approved
            "department": [("内科", "外科", "儿科", "眼科")[i % 4] for i in range(n)],
            "gender": [("男", "女")[i % 2] for i in range(n)],
            "age": [(i * 7) % 90 for i in range(n)],
            "cost": [(i * 37) % 5000 for i in range(n)],
            # nanosecond timestamps, as pandas writes them (Spark reads them only as integers)
            "visited": (
                pd.Timestamp("2026-01-01 08:00") + pd.to_timedelta(range(n), unit="min")
            ).astype("datetime64[ns]"),
        }
    )
    frame.to_parquet(raw)
    folder = tmp / "domain" / "jobs" / "91101"
    (folder / "code").mkdir(parents=True)
    (folder / "output").mkdir()
    (folder / "inputs").mkdir()
    projected = folder / "inputs" / "visits.parquet"
    rawstore.project(raw, ["department", "gender", "age", "cost", "visited"], projected)
    part = next(projected.glob("*.parquet")) if projected.is_dir() else projected
    assert sdk_spark.nanosecond_columns(str(part)) == [("visited", False)]
    (folder / "code" / "main.py").write_text(textwrap.dedent(JOB))
    hub, hub_accepted = _listen("127.0.0.1")
    anyone, any_accepted = _listen("0.0.0.0")
    params = {
        "query": QUERY, "secret_env": SECRET_ENV, "hub_port": hub.getsockname()[1],
        "any_port": anyone.getsockname()[1], "host_ip": _host_ip(),
    }  # fmt: skip
    (folder / "params.json").write_text(json.dumps(params))
    # The limits the production zone derives from what the job asked for.
    resources = {"engine": "spark", "workers": 2, "cpus": 2, "memory_gb": 3.5, "seconds": 300}
    limits = jobs.limits(resources, ProductionRules(scratch_gb=2))
    assert limits.pids == SPARK_PIDS
    job = build_job(
        job_id=91_101, tenant="tenant-test", entrypoint="main.py", code_dir=str(folder / "code"),
        output_dir=str(folder / "output"), params_file=str(folder / "params.json"),
        inputs={"visits": str(projected)}, limits=limits, system_paths=system_paths() + spark.java_paths("spark"),
        python=sys.executable,
    )  # fmt: skip
    bpf = seccomp.write_filter(tmp / "job.bpf")
    result = sandbox.run(job, folder / "run", folder / "log.txt", bpf)
    hub.close()
    anyone.close()
    log = (folder / "log.txt").read_text(errors="replace")
    report_file = folder / "output" / "report.json"
    assert result.exit_code == 0 and report_file.exists(), log[-4000:]
    yield {
        "job": job, "folder": folder, "result": result, "log": log, "frame": frame,
        "report": json.loads(report_file.read_text()), "accepted": hub_accepted + any_accepted,
    }  # fmt: skip


def test_when_a_spark_job_runs_the_same_sql_then_spark_answers_as_duckdb_does(spark_run):
    report, frame = spark_run["report"], spark_run["frame"]
    adults = frame[frame.age >= 18]
    expected = adults.groupby("department").agg(n=("age", "size"), total=("cost", "sum"))
    assert report["spark"]["department"] == report["duckdb"]["department"] == sorted(expected.index)
    for column in ("n", "total", "youngest", "oldest", "genders"):
        spark = [int(v) for v in report["spark"][column]]
        assert spark == [int(v) for v in report["duckdb"][column]], column
    assert [int(v) for v in report["spark"]["n"]] == list(expected["n"])
    assert [int(v) for v in report["spark"]["total"]] == list(expected["total"])
    assert report["spark"]["last_visit"] == report["duckdb"]["last_visit"]
    assert report["spark"]["last_visit"][0].startswith("2026-01-0")


def test_when_a_spark_job_runs_then_its_cluster_is_its_own_with_two_workers(spark_run):
    report = spark_run["report"]
    assert report["executors"] == 2
    assert report["daemons"].count("org.apache.spark.deploy.worker.Worker") == 2
    assert report["daemons"].count("org.apache.spark.deploy.master.Master") == 1
    assert report["conf"]["spark.master"] == "spark://127.0.0.1:7077"
    assert report["own_master"] == "connected"


def test_when_a_spark_job_runs_then_every_jvm_is_under_the_jobs_seccomp_filter_and_uid(spark_run):
    # The JVMs (master, workers, executors) run under the one filter of every job, unchanged,
    # with no capability, no new privileges and the job's own uid.
    confined, uid = spark_run["report"]["confined"], str(spark_run["job"].uid)
    assert len(confined) >= 5  # master, two workers, two executors
    assert all(c == ["2", "1", "0000000000000000", uid] for c in confined), confined


def test_when_a_spark_job_runs_then_it_is_authenticated_encrypted_and_without_ui(spark_run):
    conf = spark_run["report"]["conf"]
    assert conf["spark.authenticate"] == "true" and conf["spark.network.crypto.enabled"] == "true"
    assert conf["spark.io.encryption.enabled"] == "true" and conf["spark.ui.enabled"] == "false"
    assert conf["spark.local.dir"].startswith("/job/scratch/")


def test_when_a_spark_job_reads_its_dataset_then_only_the_approved_columns_exist(spark_run):
    assert sorted(spark_run["report"]["columns"]) == [
        "age",
        "cost",
        "department",
        "gender",
        "visited",
    ]


def test_when_a_spark_job_tries_the_host_then_nothing_but_its_own_loopback_answers(spark_run):
    report = spark_run["report"]
    assert report["hub_port"] == "ConnectionRefusedError"  # another loopback: nobody listens
    assert report["host_address"] in {"OSError", "ConnectionRefusedError"}  # no route
    assert report["outside"] == "OSError"  # Network is unreachable
    assert report["interfaces"] == ["lo"] and report["routes"] == []
    assert spark_run["accepted"] == []


def test_when_a_spark_job_prints_its_secret_then_the_log_no_longer_holds_it(spark_run):
    assert spark_run["report"]["secret_in_env"]
    lines = [line for line in spark_run["log"].splitlines() if line.startswith("secret is")]
    assert lines == ["secret is [spark secret removed]"]


def test_when_a_spark_job_ends_then_no_process_scratch_or_cgroup_is_left(spark_run):
    job, folder = spark_run["job"], spark_run["folder"]
    assert sandbox.group_name(job) not in cgroups.stale_groups()
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _uid(p) == job.uid]
    assert left == []
    assert not (folder / "run" / "scratch").exists()
    assert not (folder / "run" / "scratch.img").exists()


def _uid(p: Path) -> int | None:
    try:
        return p.stat().st_uid
    except FileNotFoundError:
        return None
