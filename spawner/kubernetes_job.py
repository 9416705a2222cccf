"""The production-zone policy of one training job rendered as Kubernetes manifests.

`spawner.job_policy` decides the sandbox of an approved job; the bubblewrap runner renders it on
one machine, this module renders the same ``Job`` for a cluster, as plain JSON-able manifests
validated offline against the Kubernetes OpenAPI schemas (like :mod:`spawner.kubernetes`).

Objects, per job, in the production namespace (never a tenant's):

* Job ``shuyu-job-<id>``: one pod, no retry, killed at the wall-time limit, under the job's own
  uid and the production gid, non-root, read-only root, no capabilities, no service-account
  token, no host namespaces, no hostPath, no DNS.
* NetworkPolicy selecting that pod with no rule at all: no traffic in or out, not even DNS.

Storage: the domain store is one PersistentVolumeClaim (ReadWriteMany, as concurrent jobs on
several nodes mount it) holding ``store_root`` of the host. Each host path of the ``Job`` becomes
a ``subPath`` of it: raw inputs, code and parameters read-only, the output folder writable. The
kubelet resolves a subPath inside its volume, so a symlink in the store cannot reach out of it.

What of ``JobLimits`` the manifests enforce:

* ``seconds``: ``activeDeadlineSeconds`` (the Job controller kills the pod, and fails the Job).
* ``cpus``, ``memory_bytes``: container ``resources`` (requests = limits; Guaranteed QoS). The
  RAM-backed ``/tmp`` is capped at a quarter of the memory and counts against the same limit.
* ``pids``: NOT enforceable from a manifest; nodes running jobs must set the kubelet's
  ``podPidsLimit`` (see :mod:`spawner.kubernetes`).
* ``output_bytes``: NOT enforceable from a manifest: a subPath has no size of its own. The
  store needs a per-directory quota (XFS/CephFS project quota) on the output folder.

Not rendered: ``system`` mounts (the image provides the system; the root stays read-only).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from spawner.job_policy import JOB_CODE, Job
from spawner.kubernetes import (
    COMPONENT_LABEL,
    JSON,
    TENANT_LABEL,
    _cpu,
    dns_label,
    namespace_name,
)

JOB_LABEL = "shuyu.io/job"
PRODUCTION_NAMESPACE = "shuyu-production"
IMAGE_PYTHON = "python3"  # the job's interpreter, found on the job's PATH inside the image
JOB_TTL_SECONDS = 24 * 3600  # how long a finished Job (and its pod's logs) stays for review
STORE_VOLUME = "store"
TMP_VOLUME = "tmp"
SCRATCH_VOLUME = "scratch"
_STORE_KINDS = ("code", "params", "data", "output")  # Mount.kind rendered as a store subPath


def job_name(job: Job) -> str:
    """The Job's (and its NetworkPolicy's) name: one per job id."""
    return dns_label(f"shuyu-job-{job.job_id}")


def job_labels(job: Job) -> dict[str, str]:
    """Labels of the job's pod; its NetworkPolicy selects exactly these."""
    return {
        COMPONENT_LABEL: "job",
        TENANT_LABEL: dns_label(job.tenant),
        JOB_LABEL: str(job.job_id),
    }


def store_subpath(path: str, store_root: str) -> str:
    """``path`` relative to ``store_root``; ValueError if it is not strictly inside it.

    The check is lexical (no filesystem access): ``..`` is refused outright rather than
    normalised, and the store root itself is refused, as an empty subPath mounts the whole store.
    """
    root, target = PurePosixPath(store_root), PurePosixPath(path)
    if not root.is_absolute() or ".." in root.parts:
        raise ValueError(f"the store root must be an absolute path: {store_root!r}")
    if not target.is_absolute() or ".." in target.parts or not target.is_relative_to(root):
        raise ValueError(f"{path!r} is outside the domain store {store_root!r}")
    if target == root:
        raise ValueError(f"{path!r} is the whole domain store, not a path inside it")
    return str(target.relative_to(root))


def _volumes(job: Job, store_root: str, store_claim: str) -> tuple[list[JSON], list[JSON]]:
    """One store volume with a subPath mount per store mount of the policy; a RAM /tmp; a disk
    scratch folder of ``scratch_bytes`` when the job has one."""
    tmp = {"medium": "Memory", "sizeLimit": str(job.limits.memory_bytes // 4)}
    volumes = [
        {"name": STORE_VOLUME, "persistentVolumeClaim": {"claimName": store_claim}},
        {"name": TMP_VOLUME, "emptyDir": tmp},
    ]
    mounts: list[JSON] = []
    for mount in job.mounts:
        if mount.kind == "system":
            continue  # the image provides the system; the read-only root keeps it read-only
        if mount.kind == "tmpfs":
            mounts.append({"name": TMP_VOLUME, "mountPath": mount.target, "readOnly": False})
        elif mount.kind == "scratch":
            size = str(job.limits.scratch_bytes)
            volumes.append({"name": SCRATCH_VOLUME, "emptyDir": {"sizeLimit": size}})
            mounts.append({"name": SCRATCH_VOLUME, "mountPath": mount.target, "readOnly": False})
        elif mount.kind in _STORE_KINDS:
            sub = store_subpath(mount.source, store_root)
            mounts.append(
                {
                    "name": STORE_VOLUME,
                    "mountPath": mount.target,
                    "subPath": sub,
                    "readOnly": mount.read_only,
                }
            )
        else:
            raise ValueError(f"no Kubernetes rendering for mount kind {mount.kind!r}")
    return volumes, mounts


def _command(job: Job) -> list[str]:
    """``job.argv`` for the image: the host's interpreter path becomes the image's python."""
    if not job.argv:
        raise ValueError(f"job {job.job_id} has no command")
    return [IMAGE_PYTHON, *job.argv[1:]]


def make_job(job: Job, *, image: str, store_root: str, store_claim: str, namespace: str) -> JSON:
    """The ``batch/v1`` Job running ``job`` once, confined by the policy."""
    resources = {"memory": str(job.limits.memory_bytes), "cpu": _cpu(job.limits.cpus)}
    volumes, volume_mounts = _volumes(job, store_root, store_claim)
    labels = job_labels(job)
    container = {
        "name": "job",
        "image": image,
        "command": _command(job),
        "workingDir": JOB_CODE,
        "env": [{"name": key, "value": job.env[key]} for key in sorted(job.env)],
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "volumeMounts": volume_mounts,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(job), "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "backoffLimit": 0,  # a failed run is reported, never silently retried
            "activeDeadlineSeconds": job.limits.seconds,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "securityContext": {
                        "runAsUser": job.uid,
                        "runAsGroup": job.gid,
                        # No fsGroup: the kubelet would chown (and make group-writable) the whole
                        # domain store. Owners are prepared as the bubblewrap runner does: the
                        # output folder the job's uid's, raw inputs readable by the production gid.
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": volumes,
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "hostNetwork": False,
                    "hostPID": False,
                    "hostIPC": False,
                    # No resolver either, should the CNI not enforce the NetworkPolicy.
                    "dnsPolicy": "None",
                    "dnsConfig": {"nameservers": ["127.0.0.1"], "searches": []},
                },
            },
        },
    }


def make_network_policy(job: Job, *, namespace: str) -> JSON:
    """Deny the job's pod every ingress and egress: both policy types, and no rule allowing any.

    NetworkPolicies only add allowances, so no other policy in the namespace may select job pods
    with rules; the production namespace holds jobs only.
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": job_name(job), "namespace": namespace, "labels": job_labels(job)},
        "spec": {
            "podSelector": {"matchLabels": job_labels(job)},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


def render_job(
    job: Job,
    *,
    image: str,
    store_root: str,
    store_claim: str = "shuyu-domain-store",
    namespace: str | None = None,
) -> list[JSON]:
    """The manifests running ``job`` on a cluster: its NetworkPolicy first, then its Job.

    The policy comes first so that applying the list in order never leaves the pod a moment
    with the network open.

    Args:
        job: the decided sandbox, from :func:`spawner.job_policy.build_job`.
        image: the image with the job's Python and libraries (pin it by digest).
        store_root: the host path of the domain store that ``store_claim`` holds; every host
            path of ``job`` (code, parameters, output, raw inputs) must be inside it.
        store_claim: the PersistentVolumeClaim of the domain store, in ``namespace``.
        namespace: the production namespace; never the tenant's namespace.

    Returns:
        Plain-JSON manifests: a ``NetworkPolicy`` and a ``batch/v1`` ``Job``.

    Raises:
        ValueError: a path outside the store, the tenant's namespace, or an unknown mount kind.
    """
    namespace = namespace or PRODUCTION_NAMESPACE
    if namespace == namespace_name(job.tenant):
        raise ValueError(f"job {job.job_id} must not run in its tenant's namespace {namespace!r}")
    return [
        make_network_policy(job, namespace=namespace),
        make_job(
            job, image=image, store_root=store_root, store_claim=store_claim, namespace=namespace
        ),
    ]
