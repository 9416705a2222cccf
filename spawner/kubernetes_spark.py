"""A Spark job (``engine="spark"``) rendered for Kubernetes: a driver pod and executor pods,
confined to the job's own pods in the production namespace.

On one machine the job's cluster runs inside its bubblewrap sandbox on its own loopback
(:mod:`sdk.spark_cluster`). On a cluster the same ``Job`` becomes, in this order:

* NetworkPolicy ``shuyu-spark-<id>``: the job's pods (driver and executors, selected by the job's
  labels) may talk to each other and to nothing else; no other pod may reach them; no DNS.
* Secret ``shuyu-spark-<id>``: the run's ``spark.authenticate`` secret, read by the pods from
  their environment (``secretKeyRef``), never written into a manifest's env in clear.
* Service ``shuyu-spark-<id>``: the master's port on the driver pod, so executors find it by
  the ``*_SERVICE_HOST`` variable Kubernetes sets (no DNS needed; rendered before the pods).
* Job ``shuyu-spark-<id>``: the driver pod, rendered by :func:`spawner.kubernetes_job.make_job`
  (uid, no capabilities, read-only root, no service-account token, its mounts, deadline) with
  the launcher starting the master and no local worker, listening on the pod's IP.
* Job ``shuyu-spark-<id>-executors``: ``workers`` executor pods (``parallelism``), each running
  one Spark worker (``python -m sdk.spark_cluster --worker``) under the same pod security, with
  the job's inputs read-only, its code, output and a scratch disk of its own.

Resources: each executor pod gets ``EXECUTOR_POD_MB`` of memory (its executor's heap and the
worker daemon) and an equal share of the job's CPUs; the driver pod the rest of the job's memory
(at least ``MIN_DRIVER_MB``), so the job's pods together stay within its limits.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from spawner import kubernetes_job
from spawner.job_policy import JOB_CODE, SPARK_EXECUTOR_MB, Job, JobLimits
from spawner.kubernetes import JSON, _cpu, dns_label, namespace_name
from spawner.kubernetes_job import (
    IMAGE_PYTHON,
    JOB_TTL_SECONDS,
    PRODUCTION_NAMESPACE,
    _volumes,
    job_labels,
    make_job,
)

ROLE_LABEL = "shuyu.io/spark-role"
MASTER_PORT = 7077
EXECUTOR_POD_MB = SPARK_EXECUTOR_MB + 512  # the executor's heap, its overhead, the worker
MIN_DRIVER_MB = 1536  # the master, the driver's JVM and the job's Python
SECRET_KEY = "secret"
_EXECUTOR_MOUNTS = ("data", "code", "output", "scratch", "tmpfs")  # no parameters


def spark_name(job: Job) -> str:
    """The name shared by the job's NetworkPolicy, Secret, Service and driver Job."""
    return dns_label(f"shuyu-spark-{job.job_id}")


def service_env_prefix(job: Job) -> str:
    """The prefix of the variables Kubernetes sets for the job's Service in later pods."""
    return spark_name(job).upper().replace("-", "_")


def _labels(job: Job, role: str | None = None) -> dict[str, str]:
    return {**job_labels(job), **({ROLE_LABEL: role} if role else {})}


def _split(job: Job) -> tuple[JobLimits, JobLimits]:
    """The driver pod's and each executor pod's share of the job's limits."""
    limits = job.limits
    pods = limits.workers + 1
    driver_mb = (limits.memory_bytes >> 20) - limits.workers * EXECUTOR_POD_MB
    if driver_mb < MIN_DRIVER_MB:
        raise ValueError(
            f"job {job.job_id}: {limits.memory_bytes >> 20} MiB is too little for a driver and "
            f"{limits.workers} executor pods"
        )
    cpus = round(limits.cpus / pods, 3)
    driver = replace(limits, memory_bytes=driver_mb << 20, cpus=cpus)
    executor = replace(limits, memory_bytes=EXECUTOR_POD_MB << 20, cpus=cpus)
    return driver, executor


def _secret_env(job: Job) -> JSON:
    return {
        "name": "SHUYU_SPARK_SECRET",
        "valueFrom": {"secretKeyRef": {"name": spark_name(job), "key": SECRET_KEY}},
    }


_POD_IP = {"name": "SHUYU_SPARK_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


def make_network_policy(job: Job, *, namespace: str) -> JSON:
    """The job's deny-all policy (:func:`spawner.kubernetes_job.make_network_policy`) under the
    run's name, with one allowance: ingress from and egress to the job's own pods."""
    own = {"podSelector": {"matchLabels": job_labels(job)}}
    policy = kubernetes_job.make_network_policy(job, namespace=namespace)
    policy["metadata"]["name"] = spark_name(job)
    policy["spec"].update(ingress=[{"from": [own]}], egress=[{"to": [own]}])
    return policy


def make_secret(job: Job, secret: str, *, namespace: str) -> JSON:
    if len(secret) < 32:
        raise ValueError("the Spark secret must be at least 32 characters")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": spark_name(job), "namespace": namespace, "labels": job_labels(job)},
        "stringData": {SECRET_KEY: secret},
    }


def make_service(job: Job, *, namespace: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spark_name(job), "namespace": namespace, "labels": job_labels(job)},
        "spec": {
            "selector": _labels(job, "driver"),
            "ports": [{"name": "master", "port": MASTER_PORT, "targetPort": MASTER_PORT}],
        },
    }


def make_driver(job: Job, *, image: str, store_root: str, store_claim: str, namespace: str) -> JSON:  # fmt: skip
    """The driver Job: the job's own Job rendering, as the driver of its cluster."""
    driver_limits, _ = _split(job)
    manifest = make_job(
        replace(job, limits=driver_limits), image=image, store_root=store_root,
        store_claim=store_claim, namespace=namespace,
    )  # fmt: skip
    manifest["metadata"]["name"] = spark_name(job)
    manifest["metadata"]["labels"] = _labels(job, "driver")
    template = manifest["spec"]["template"]
    template["metadata"]["labels"] = _labels(job, "driver")
    (container,) = template["spec"]["containers"]
    container["env"] += [
        _secret_env(job), _POD_IP, {"name": "SHUYU_SPARK_LOCAL_WORKERS", "value": "0"},
    ]  # fmt: skip
    container["ports"] = [{"name": "master", "containerPort": MASTER_PORT}]
    return manifest


def make_executors(job: Job, *, image: str, store_root: str, store_claim: str, namespace: str) -> JSON:  # fmt: skip
    """The executors' Job: ``workers`` pods, each one worker of the job's cluster."""
    driver = make_job(
        job, image=image, store_root=store_root, store_claim=store_claim, namespace=namespace
    )
    _, executor_limits = _split(job)
    mounts = tuple(m for m in job.mounts if m.kind in _EXECUTOR_MOUNTS)
    volumes, volume_mounts = _volumes(replace(job, mounts=mounts), store_root, store_claim)
    pod = copy.deepcopy(driver["spec"]["template"]["spec"])
    (container,) = pod["containers"]
    resources = {"memory": str(executor_limits.memory_bytes), "cpu": _cpu(executor_limits.cpus)}
    keep = ("PATH", "LANG", "HOME", "PYTHONNOUSERSITE", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH",
            "SHUYU_JOB_ID", "SHUYU_JOB_SCRATCH", "SHUYU_JOB_DATA", "SHUYU_SPARK_WORKERS",
            "SHUYU_SPARK_EXECUTOR_MB")  # fmt: skip
    container.update(
        name="executor",
        command=[IMAGE_PYTHON, "-m", "sdk.spark_cluster", "--worker"],
        workingDir=JOB_CODE,
        env=[{"name": k, "value": job.env[k]} for k in sorted(job.env) if k in keep]
        + [
            _secret_env(job),
            _POD_IP,
            {"name": "SHUYU_SPARK_MASTER_SERVICE", "value": service_env_prefix(job)},
        ],  # fmt: skip
        resources={"requests": dict(resources), "limits": dict(resources)},
        volumeMounts=volume_mounts,
    )
    # The master's address comes from the Service's variables: the only links these pods get.
    pod.update(volumes=volumes, enableServiceLinks=True)
    labels = _labels(job, "executor")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{spark_name(job)}-executors",
            "namespace": namespace,
            "labels": labels,
        },  # fmt: skip
        "spec": {
            "parallelism": job.limits.workers,
            "completions": job.limits.workers,
            "backoffLimit": 0,
            "activeDeadlineSeconds": job.limits.seconds,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }


def render_spark_job(
    job: Job,
    *,
    image: str,
    store_root: str,
    secret: str,
    store_claim: str = "shuyu-domain-store",
    namespace: str | None = None,
) -> list[JSON]:
    """The manifests running a Spark ``job`` on a cluster, in the order to apply them.

    Args:
        job: a job built with ``engine="spark"`` (:func:`spawner.job_policy.build_job`).
        image: the job image (Python, the science set with pyspark, and a JVM).
        store_root: the host path of the domain store the claim holds.
        secret: the run's ``spark.authenticate`` secret (draw one per run).
        store_claim: the domain store's PersistentVolumeClaim in ``namespace``.
        namespace: the production namespace; never the tenant's.

    Raises:
        ValueError: not a Spark job, the tenant's namespace, too little memory for its pods, a
            short secret, or a path outside the store.
    """
    if job.limits.engine != "spark" or job.limits.workers < 1:
        raise ValueError(f"job {job.job_id} is not a Spark job")
    namespace = namespace or PRODUCTION_NAMESPACE
    if namespace == namespace_name(job.tenant):
        raise ValueError(f"job {job.job_id} must not run in its tenant's namespace {namespace!r}")
    store = {"image": image, "store_root": store_root, "store_claim": store_claim,
             "namespace": namespace}  # fmt: skip
    return [
        make_network_policy(job, namespace=namespace),
        make_secret(job, secret, namespace=namespace),
        make_service(job, namespace=namespace),
        make_driver(job, **store),
        make_executors(job, **store),
    ]
