"""A production job's own object-store identity rendered as a Kubernetes Secret.

With the domain store on S3 (``hub.store``), a job's inputs are staged and its outputs uploaded
with an identity of its own: read on exactly its approved inputs, write on exactly its output
prefix (``hub.store.iam``). On a cluster that identity reaches the staging step of the job's pod
as this Secret, in the production namespace (never the tenant's), immutable, labelled with the
job so it is deleted with it. The job's own container never mounts it: it has no network at all
(``spawner.kubernetes_job``); only the step that stages inputs and uploads outputs, allowed to
reach the store's endpoint alone, does. The platform's own keys are never in it.
"""

from __future__ import annotations

from spawner.kubernetes import COMPONENT_LABEL, JSON, TENANT_LABEL, dns_label, namespace_name

PRODUCTION_NAMESPACE = "shuyu-production"
JOB_LABEL = "shuyu.io/job"


def store_secret_name(job_id: int) -> str:
    return dns_label(f"shuyu-job-{job_id}-store")


def make_store_secret(
    job_id: int,
    tenant: str,
    *,
    endpoint: str,
    url: str,
    access_key: str,
    secret_key: str,
    namespace: str | None = None,
) -> JSON:
    """The Secret holding job ``job_id``'s store credentials.

    Args:
        job_id: the job (its request id).
        tenant: the job's tenant group, for the label only.
        endpoint: the store's S3 endpoint (``http(s)://host:port``).
        url: the domain store (``s3://bucket/prefix``).
        access_key: the job's own access key (``hub.store.Grant``), never the platform's.
        secret_key: its secret.
        namespace: the production namespace; never the tenant's.

    Raises:
        ValueError: the tenant's namespace.
    """
    namespace = namespace or PRODUCTION_NAMESPACE
    if namespace == namespace_name(tenant):
        raise ValueError(f"job {job_id}'s credentials must not live in its tenant's namespace")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": store_secret_name(job_id),
            "namespace": namespace,
            "labels": {
                JOB_LABEL: str(job_id),
                TENANT_LABEL: dns_label(tenant),
                COMPONENT_LABEL: "job-store-credentials",
            },
        },
        "type": "Opaque",
        "immutable": True,
        "stringData": {
            "SHUYU_DOMAIN_URL": url,
            "SHUYU_S3_ENDPOINT": endpoint,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
        },
    }
