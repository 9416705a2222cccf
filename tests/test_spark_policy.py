"""Spark jobs as data: the engine a job asks for, its sandbox's command and environment, the
cluster's and the driver's settings, the per-run secret. No JVM starts here (the real run is
tests/test_spark_job.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.production import jobs, spark
from hub.production.rules import ProductionRules
from hub.refusals import BadRequest
from sdk import spark as sdk_spark
from sdk import spark_cluster
from sdk.errors import InvalidRequest
from spawner.job_policy import SPARK_PIDS, Job, JobLimits, build_job

RULES = ProductionRules()


def job(limits: JobLimits) -> Job:
    return build_job(
        job_id=7, tenant="tenant-a", entrypoint="train.py", code_dir="/s/jobs/7/code",
        output_dir="/s/jobs/7/output", params_file="/s/jobs/7/params.json",
        inputs={"visits": "/s/jobs/7/inputs/visits.parquet"}, limits=limits,
        system_paths=("/usr",), python="/venv/bin/python",
    )  # fmt: skip


SPARK = JobLimits(scratch_bytes=1 << 30, engine="spark", workers=2, pids=SPARK_PIDS)


@pytest.mark.parametrize(
    "resources, engine, workers",
    [
        ({}, "duckdb", 0),
        ({"engine": "duckdb"}, "duckdb", 0),
        ({"engine": "spark", "memory_gb": 4}, "spark", 2),
        ({"engine": "spark", "memory_gb": 3, "workers": 1}, "spark", 1),
    ],
    ids=["default", "duckdb", "spark-default-workers", "spark-one-worker"],
)
def test_when_a_job_names_an_engine_then_its_limits_carry_it(resources, engine, workers):
    limits = jobs.limits(resources, RULES)
    assert (limits.engine, limits.workers) == (engine, workers)
    assert limits.pids == (SPARK_PIDS if engine == "spark" else JobLimits().pids)


@pytest.mark.parametrize(
    "resources, zh, en",
    [
        ({"engine": "hadoop"}, "未知的计算引擎", "unknown engine 'hadoop'"),
        ({"engine": ["spark"]}, "未知的计算引擎", "unknown engine 'list'"),
        ({"engine": "spark", "memory_gb": 4, "workers": 3}, "工作节点数", "Spark workers"),
        ({"engine": "spark", "memory_gb": 4, "workers": "2"}, "工作节点数", "Spark workers"),
        ({"engine": "spark", "memory_gb": 2}, "至少需要 3.0 GB", "at least 3.0 GB"),
        ({"workers": 2}, "只有 Spark 作业", "only a Spark job"),
    ],
    ids=["unknown", "not-a-name", "too-many-workers", "workers-as-text", "too-little-memory",
         "workers-without-spark"],
)  # fmt: skip
def test_when_a_job_asks_for_an_engine_wrongly_then_it_is_told_why_in_both_languages(
    resources, zh, en
):
    with pytest.raises(BadRequest) as refused:
        jobs.limits(resources, RULES)
    assert zh in refused.value.msg.zh and en in refused.value.msg.en


def test_when_the_checks_meet_an_unknown_engine_then_the_resources_check_fails_with_a_reason():
    found = jobs.checks(b"", {"resources": {"engine": "hadoop"}}, {}, RULES)
    resources = next(f for f in found if f.name == "resources")
    assert resources.verdict == "fail" and "unknown engine" in resources.reason.en
    assert "未知的计算引擎" in resources.reason.zh


def test_when_a_spark_job_is_built_then_the_launcher_runs_its_code_with_the_clusters_size():
    built = job(SPARK)
    assert built.argv == ("/venv/bin/python", "-m", "sdk.spark_cluster", "/job/code/train.py")
    assert built.env["SHUYU_JOB_ENGINE"] == "spark" and built.env["SHUYU_SPARK_WORKERS"] == "2"
    assert built.env["SHUYU_JOB_SCRATCH"] == "/job/scratch"
    assert spark_cluster.SECRET_ENV not in built.env  # drawn by the runner at each run only


def test_when_a_duckdb_job_is_built_then_nothing_of_spark_is_in_it():
    built = job(JobLimits())
    assert built.argv == ("/venv/bin/python", "/job/code/train.py")
    assert not [k for k in built.env if "SPARK" in k or k == "SHUYU_JOB_ENGINE"]
    assert spark.java_paths("duckdb") == ()


@pytest.mark.parametrize(
    "limits",
    [
        JobLimits(engine="hadoop"),
        JobLimits(engine="spark", workers=2),  # no scratch folder
        JobLimits(engine="spark", workers=0, scratch_bytes=1 << 30),
    ],
    ids=["unknown", "no-scratch", "no-worker"],
)
def test_when_a_job_policy_is_inconsistent_then_no_job_is_built(limits):
    with pytest.raises(ValueError):
        job(limits)


def test_when_the_runner_draws_a_secret_then_each_run_gets_a_fresh_one():
    first, second = spark.secret_env(job(SPARK)), spark.secret_env(job(SPARK))
    assert re.fullmatch(r"[0-9a-f]{64}", first[spark_cluster.SECRET_ENV])
    assert first != second
    assert spark.secret_env(job(JobLimits())) == {}


def test_when_a_log_holds_the_secret_then_it_is_cut_out(tmp_path: Path):
    env = {spark_cluster.SECRET_ENV: "ab" * 32}
    log = tmp_path / "log.txt"
    log.write_text(f"start\nsecret {'ab' * 32} end\n")
    spark.redact(log, env)
    assert log.read_text() == "start\nsecret [spark secret removed] end\n"


def test_when_the_jvm_keeps_its_configuration_in_etc_then_the_spark_sandbox_mounts_it(
    tmp_path: Path,
):
    home = tmp_path / "usr-jvm"
    (home / "lib").mkdir(parents=True)
    (tmp_path / "etc-java").mkdir()
    (tmp_path / "etc-java" / "jvm.cfg").write_text("-server KNOWN\n")
    (home / "lib" / "jvm.cfg").symlink_to(tmp_path / "etc-java" / "jvm.cfg")
    assert spark.java_paths("spark", home) == (str(tmp_path / "etc-java"),)


ENV = {
    "SHUYU_JOB_ID": "7", "SHUYU_JOB_SCRATCH": "/job/scratch", "SHUYU_SPARK_WORKERS": "2",
    "SHUYU_SPARK_MASTER": "spark://127.0.0.1:7077", spark_cluster.SECRET_ENV: "s" * 64,
}  # fmt: skip


def test_when_the_driver_is_configured_then_it_is_authenticated_encrypted_and_local():
    conf = sdk_spark.session_config(ENV)
    assert conf["spark.master"] == "spark://127.0.0.1:7077"
    assert conf["spark.authenticate"] == "true" and conf["spark.authenticate.secret"] == "s" * 64
    assert conf["spark.network.crypto.enabled"] == "true"
    assert conf["spark.io.encryption.enabled"] == "true"
    assert conf["spark.ui.enabled"] == "false" and conf["spark.eventLog.enabled"] == "false"
    assert conf["spark.driver.bindAddress"] == conf["spark.driver.host"] == "127.0.0.1"
    assert conf["spark.local.dir"].startswith("/job/scratch/")
    assert conf["spark.cores.max"] == "2" and conf["spark.executor.memory"] == "512m"


def test_when_spark_is_asked_for_outside_a_spark_job_then_the_message_says_so_in_both_languages():
    for missing in ("SHUYU_SPARK_MASTER", spark_cluster.SECRET_ENV, "SHUYU_JOB_SCRATCH"):
        env = {k: v for k, v in ENV.items() if k != missing}
        with pytest.raises(RuntimeError, match='只能在生产区的 Spark 作业中使用.*engine="spark"'):
            sdk_spark.session_config(env)


def test_when_the_cluster_starts_then_the_secret_reaches_the_daemons_by_environment_only():
    config = spark_cluster.read_config(ENV)
    env = spark_cluster.daemon_env(config, {**ENV, "PATH": "/usr/bin"})
    assert env["_SPARK_AUTH_SECRET"] == "s" * 64 and spark_cluster.SECRET_ENV not in env
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    options = env["SPARK_DAEMON_JAVA_OPTS"]
    assert "-Dspark.authenticate=true" in options
    assert "-Dspark.network.crypto.enabled=true" in options and "s" * 64 not in options
    assert env["SPARK_LOCAL_DIRS"].startswith("/job/scratch/")
    commands = [spark_cluster.master_command(config)] + [
        spark_cluster.worker_command(config, i) for i in range(config.workers)
    ]
    assert all("s" * 64 not in " ".join(c) for c in commands)
    assert [c[1] for c in commands] == ["org.apache.spark.deploy.master.Master"] + [
        "org.apache.spark.deploy.worker.Worker"
    ] * 2
    assert all(c[c.index("--host") + 1] == "127.0.0.1" for c in commands)


def test_when_a_dry_run_asks_for_spark_then_sql_runs_on_duckdb_and_other_calls_are_refused():
    import pandas as pd

    session = sdk_spark.DryRunSession(lambda text: pd.DataFrame({"q": [text]}))
    assert session.sql("SELECT 1").toPandas()["q"].tolist() == ["SELECT 1"]
    with pytest.raises(InvalidRequest, match="dry_run=False"):
        session.read.parquet("/x")


def test_when_spark_job_code_uses_only_the_session_then_the_code_scan_passes_it():
    from hub.production import codescan

    code = (
        "from sdk import job\n"
        "spark = job.spark()\n"
        "frame = spark.sql('SELECT department, count(*) AS n FROM visits GROUP BY 1').toPandas()\n"
        "job.save_metrics(groups=len(frame))\n"
    )
    assert codescan.scan_bundle({"train.py": code.encode()}) == []


@pytest.mark.parametrize(
    "line",
    [
        "job.spark()._jvm.java.lang.Runtime.getRuntime()",
        "job.spark().sparkContext.textFile('/etc/passwd')",
        "s = job.spark(); s._jsparkSession.sessionState()",
    ],
    ids=["jvm", "context", "java-session"],
)
def test_when_spark_job_code_reaches_into_the_jvm_then_a_person_reviews_it(line):
    from hub.production import codescan

    found = codescan.scan_bundle({"train.py": f"from sdk import job\n{line}\n".encode()})
    assert [p.kind for p in found] == ["reflection"]


def test_when_a_job_with_an_unknown_engine_is_submitted_then_it_is_refused_at_once():
    meta = {"entrypoint": "train.py", "datasets": ["visits"], "resources": {"engine": "hadoop"}}
    with pytest.raises(BadRequest) as refused:
        jobs.validate(meta, {"visits": object()}, RULES)
    assert "未知的计算引擎" in refused.value.msg.zh and "unknown engine" in refused.value.msg.en


def test_when_a_dry_run_asks_the_same_sql_of_both_engines_then_both_answer_on_the_samples(
    tmp_path: Path, monkeypatch
):
    import pandas as pd

    from sdk import job as job_api

    data, out = tmp_path / "data", tmp_path / "output"
    data.mkdir()
    out.mkdir()
    pd.DataFrame({"department": ["内科", "外科", "内科"]}).to_parquet(data / "visits.parquet")
    for key, value in {"SHUYU_JOB_DATA": data, "SHUYU_JOB_OUTPUT": out,
                       "SHUYU_JOB_SCRATCH": tmp_path, "SHUYU_JOB_READS": tmp_path / "reads"}.items():  # fmt: skip
        monkeypatch.setenv(key, str(value))
    query = "SELECT department, count(*) AS n FROM visits GROUP BY 1 ORDER BY 1"
    try:
        duck = job_api.sql(query)
        spark_answer = job_api.spark().sql(query).toPandas()  # twice on one connection
    finally:
        job_api.close()
    assert duck.equals(spark_answer) and duck["n"].tolist() == [2, 1]  # 内科 sorts first


def test_when_a_table_holds_nanosecond_timestamps_then_they_are_found_with_their_zone(
    tmp_path: Path,
):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "naive": pd.to_datetime(["2026-01-01 08:00"]).astype("datetime64[ns]"),
            "zoned": pd.to_datetime(["2026-01-01 08:00"])
            .tz_localize("Asia/Shanghai")
            .astype("datetime64[ns, Asia/Shanghai]"),
            "micros": pd.to_datetime(["2026-01-01"]).astype("datetime64[us]"),
            "n": [1],
        }
    )
    frame.to_parquet(tmp_path / "t.parquet")
    assert sdk_spark.nanosecond_columns(str(tmp_path / "t.parquet")) == [
        ("naive", False),
        ("zoned", True),
    ]


def test_when_the_launcher_runs_in_kubernetes_pods_then_it_listens_on_the_pod_and_finds_the_master():
    pod = {**ENV, "SHUYU_SPARK_HOST": "10.1.1.2", "SHUYU_SPARK_LOCAL_WORKERS": "0"}
    driver = spark_cluster.read_config(pod)
    assert driver.local_workers == 0 and driver.master_url == "spark://10.1.1.2:7077"
    assert spark_cluster.master_command(driver)[3] == "10.1.1.2"
    executor_pod = {
        **ENV, "SHUYU_SPARK_HOST": "10.1.1.3", "SHUYU_SPARK_MASTER_SERVICE": "SHUYU_SPARK_42",
        "SHUYU_SPARK_42_SERVICE_HOST": "10.96.0.42",
    }  # fmt: skip
    worker = spark_cluster.read_config(executor_pod)
    command = spark_cluster.worker_command(worker, 0)
    assert (
        command[-1] == "spark://10.96.0.42:7077"
        and command[command.index("--host") + 1] == "10.1.1.3"
    )
    assert sdk_spark.session_config(pod)["spark.driver.bindAddress"] == "10.1.1.2"
