"""A Spark job rendered for Kubernetes: a driver pod and executor pods confined to the job's own
pods in the production namespace. No cluster: validated offline (kubernetes-validate, strict)."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

import spawner.kubernetes_spark as ks
from spawner.job_policy import SPARK_PIDS, JobLimits, build_job
from spawner.kubernetes import namespace_name
from spawner.kubernetes_job import PRODUCTION_NAMESPACE

KUBERNETES_VERSIONS = ("1.33", "1.37")
STORE = "/srv/shuyu/domain"
TENANT = "tenant-91330106ma2h0a1b2t"
IMAGE = "registry.example/shuyu/job@sha256:" + "0" * 64
SECRET = "f" * 64
SPARK = JobLimits(cpus=3, memory_bytes=4 << 30, seconds=1800, pids=SPARK_PIDS,
                  scratch_bytes=4 << 30, engine="spark", workers=2)  # fmt: skip


def job(limits: JobLimits = SPARK):
    return build_job(
        job_id=42, tenant=TENANT, entrypoint="train.py", code_dir=f"{STORE}/jobs/42/code",
        output_dir=f"{STORE}/jobs/42/output", params_file=f"{STORE}/jobs/42/params.json",
        inputs={"visits": f"{STORE}/jobs/42/inputs/visits.parquet"}, limits=limits,
        system_paths=("/usr",), python="/opt/venv/bin/python",
    )  # fmt: skip


def render(j=None, **kwargs) -> list[dict]:
    return ks.render_spark_job(j or job(), image=IMAGE, store_root=STORE, secret=SECRET, **kwargs)


def named(manifests: list[dict], name: str) -> dict:
    (found,) = [m for m in manifests if m["metadata"]["name"] == name and m["kind"] == "Job"]
    return found


def driver() -> dict:
    return named(render(), "shuyu-spark-42")["spec"]["template"]["spec"]


def executors() -> dict:
    return named(render(), "shuyu-spark-42-executors")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_when_a_spark_job_is_rendered_then_every_manifest_validates_strictly(version):
    manifests = render()
    assert json.loads(json.dumps(manifests)) == manifests
    for manifest in manifests:
        assert kubernetes_validate.validate(manifest, version, strict=True) == version


def test_when_rendered_then_the_policy_and_the_service_come_before_the_pods():
    kinds = [(m["kind"], m["metadata"]["name"]) for m in render()]
    assert kinds == [
        ("NetworkPolicy", "shuyu-spark-42"), ("Secret", "shuyu-spark-42"),
        ("Service", "shuyu-spark-42"), ("Job", "shuyu-spark-42"),
        ("Job", "shuyu-spark-42-executors"),
    ]  # fmt: skip


def test_when_rendered_then_everything_is_in_the_production_namespace_never_the_tenants():
    assert {m["metadata"]["namespace"] for m in render()} == {PRODUCTION_NAMESPACE}
    with pytest.raises(ValueError, match="tenant"):
        render(namespace=namespace_name(TENANT))


def test_when_rendered_then_the_job_pods_reach_only_each_other():
    policy = render()[0]
    own = {"podSelector": {"matchLabels": policy["spec"]["podSelector"]["matchLabels"]}}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [{"from": [own]}]
    assert policy["spec"]["egress"] == [{"to": [own]}]  # no DNS, no namespace selector, no CIDR
    labels = policy["spec"]["podSelector"]["matchLabels"]
    assert labels["shuyu.io/job"] == "42"
    for manifest in (named(render(), "shuyu-spark-42"), executors()):
        pod_labels = manifest["spec"]["template"]["metadata"]["labels"]
        assert labels.items() <= pod_labels.items()  # the policy selects driver and executors


def test_when_rendered_then_the_secret_reaches_the_pods_only_by_reference():
    manifests = render()
    secret = manifests[1]
    assert secret["stringData"] == {"secret": SECRET}
    for manifest in manifests[3:]:
        text = json.dumps(manifest)
        assert SECRET not in text
        (container,) = manifest["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["SHUYU_SPARK_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "shuyu-spark-42"
    with pytest.raises(ValueError, match="secret"):
        ks.render_spark_job(job(), image=IMAGE, store_root=STORE, secret="short")


def test_when_rendered_then_the_driver_runs_the_master_and_the_code_and_executors_run_workers():
    (driver_container,) = driver()["containers"]
    assert driver_container["command"] == [
        "python3",
        "-m",
        "sdk.spark_cluster",
        "/job/code/train.py",
    ]
    env = {e["name"]: e for e in driver_container["env"]}
    assert env["SHUYU_SPARK_LOCAL_WORKERS"]["value"] == "0"
    assert env["SHUYU_SPARK_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    spec = executors()["spec"]
    assert spec["parallelism"] == spec["completions"] == 2 and spec["backoffLimit"] == 0
    (executor,) = spec["template"]["spec"]["containers"]
    assert executor["command"] == ["python3", "-m", "sdk.spark_cluster", "--worker"]
    executor_env = {e["name"]: e for e in executor["env"]}
    assert executor_env["SHUYU_SPARK_MASTER_SERVICE"]["value"] == "SHUYU_SPARK_42"
    service = render()[2]
    assert (
        service["spec"]["selector"]
        == named(render(), "shuyu-spark-42")["spec"]["template"]["metadata"]["labels"]
    )


def test_when_rendered_then_every_pod_is_as_confined_as_a_duckdb_job():
    for pod in (driver(), executors()["spec"]["template"]["spec"]):
        assert pod["automountServiceAccountToken"] is False
        assert pod["hostNetwork"] is False and pod["hostPID"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["dnsPolicy"] == "None"
        assert not [v for v in pod["volumes"] if "hostPath" in v]
        (container,) = pod["containers"]
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_when_rendered_then_executors_see_the_projected_inputs_read_only_and_no_parameters():
    (executor,) = executors()["spec"]["template"]["spec"]["containers"]
    mounts = {m["mountPath"]: m for m in executor["volumeMounts"]}
    assert mounts["/data/visits.parquet"]["readOnly"] is True
    assert mounts["/data/visits.parquet"]["subPath"] == "jobs/42/inputs/visits.parquet"
    assert "/job/params.json" not in mounts and mounts["/job/scratch"]["readOnly"] is False


def test_when_rendered_then_the_pods_together_stay_within_the_jobs_memory_and_cpus():
    total_memory, total_cpu = 0, 0.0
    for manifest in (named(render(), "shuyu-spark-42"), executors()):
        (container,) = manifest["spec"]["template"]["spec"]["containers"]
        count = manifest["spec"].get("parallelism", 1)
        total_memory += count * int(container["resources"]["limits"]["memory"])
        total_cpu += count * int(container["resources"]["limits"]["cpu"][:-1]) / 1000
    assert total_memory <= SPARK.memory_bytes and total_cpu <= SPARK.cpus


@pytest.mark.parametrize(
    "limits, match",
    [
        (JobLimits(), "not a Spark job"),
        (JobLimits(memory_bytes=2 << 30, scratch_bytes=1 << 30, engine="spark", workers=2),
         "too little"),
    ],
    ids=["duckdb", "too-little-memory"],
)  # fmt: skip
def test_when_the_job_does_not_fit_a_spark_cluster_then_nothing_is_rendered(limits, match):
    with pytest.raises(ValueError, match=match):
        render(job(limits))


def test_the_production_role_may_create_every_manifest_and_never_reads_a_secret():
    from spawner.kubernetes_rbac import PRODUCTION_RULES

    allowed = {
        (rule.group, resource)
        for rule in PRODUCTION_RULES
        for resource in rule.resources
        if "create" in rule.verbs and "delete" in rule.verbs
    }
    plural = {"NetworkPolicy": "networkpolicies", "Secret": "secrets", "Service": "services",
              "Job": "jobs"}  # fmt: skip
    for manifest in render():
        group = manifest["apiVersion"].rpartition("/")[0]
        assert (group, plural[manifest["kind"]]) in allowed, manifest["kind"]
    secrets = [r for r in PRODUCTION_RULES if "secrets" in r.resources]
    assert secrets and not [r for r in secrets if {"get", "list", "watch"} & set(r.verbs)]
