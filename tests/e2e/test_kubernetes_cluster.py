"""Shuyu's Kubernetes renderings against a real control plane (tests/e2e/kube_cluster.py).

Real etcd, kube-apiserver (RBAC), controller manager (job, service-account, token, volume
binding and node lifecycle controllers) and scheduler; the node agent is the one stand-in, for the kubelet. Skipped,
with the reason, only where the binaries are absent (scripts/kubernetes-build.sh builds them).
No hub and no firewall rules are started: the suite needs no lock shared with the hub e2e tests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import kubespawner.clients
import pytest
import yaml
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.rest import ApiException
from kubernetes_asyncio.config import kube_config

import spawner.kubernetes as k8s
import spawner.kubernetes_job as kj
from spawner.job_policy import Job, JobLimits, build_job
from spawner.kubernetes_rbac import (
    HUB_RULES,
    hub_cluster_role,
    hub_cluster_role_binding,
    production_role,
    production_role_binding,
)
from spawner.policy import Endpoint, Limits, build_workspace
from tests.e2e.kube_cluster import REPO, Cluster, missing_binaries, running_cluster
from tests.e2e.kube_node_agent import HOLD_LABEL

pytestmark = pytest.mark.e2e

# Names of their own, so the platform manifests (deploy/kubernetes, applied by the last test with
# their real names) and these objects never meet.
PLATFORM = "shuyu-e2e-system"
JOBS = "shuyu-e2e-production"
HUB_ACCOUNT = "shuyu-hub"
HUB_ROLE = "shuyu-hub-e2e"
PRODUCTION_ACCOUNT = "shuyu-production"
PRODUCTION_ROLE = "shuyu-production-e2e"
TENANT = "tenant-91330106ma2h0a1b2t"
TOKEN = "tok-alice-0123456789abcdef"
STORE_ROOT = "/srv/shuyu/domain"
IMAGE = "registry.example/shuyu/notebook:1"
STORE_CLAIM = "shuyu-domain-store"  # render_job's default claim of the domain store


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"no Kubernetes control plane on this machine (missing: {', '.join(missing)}); "
            "scripts/kubernetes-build.sh builds it"
        )
    with running_cluster() as running:
        setup(running)
        yield running
        print(running.tail())  # shown by pytest when a test of the module failed


def apply(cluster: Cluster, manifests: list[dict]) -> None:
    """Create ``manifests`` as the cluster admin (kubectl), failing on any refusal."""
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})
    done = cluster.kubectl("create", "-f", "-", stdin=text)
    assert done.returncode == 0, done.stderr


def persistent_volume(
    name: str, size: str, mode: str, claim: tuple[str, str], cluster: Cluster
) -> dict:
    """A volume for the volume binder to bind ``claim`` (namespace, name) to, whichever test runs
    first (nothing mounts it)."""
    namespace, claim_name = claim
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": [mode],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": namespace, "name": claim_name},
            "hostPath": {"path": str(cluster.root / "volumes" / name), "type": ""},
        },
    }


def workspace_volumes(tenant: str, home: str, share: str, cluster: Cluster) -> list[dict]:
    """Volumes for alice's home and the shared folder of ``tenant``."""
    ns = k8s.namespace_name(tenant)
    return [
        persistent_volume(home, "10Gi", "ReadWriteOnce", (ns, "home-alice"), cluster),
        persistent_volume(share, "100Gi", "ReadWriteMany", (ns, k8s.SHARED_CLAIM_NAME), cluster),
    ]


def labelled_namespace(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
    }


def setup(cluster: Cluster) -> None:
    """The platform's accounts and roles, from spawner/kubernetes_rbac.py, and the volumes."""
    apply(
        cluster,
        [
            labelled_namespace(PLATFORM),
            labelled_namespace(JOBS),
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": HUB_ACCOUNT, "namespace": PLATFORM},
            },
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": PRODUCTION_ACCOUNT, "namespace": PLATFORM},
            },
            hub_cluster_role(HUB_ROLE),
            hub_cluster_role_binding(HUB_ACCOUNT, PLATFORM, name=HUB_ROLE),
            production_role(JOBS, PRODUCTION_ROLE),
            production_role_binding(PRODUCTION_ACCOUNT, PLATFORM, JOBS, name=PRODUCTION_ROLE),
            *workspace_volumes(TENANT, "home-alice", "tenant-share", cluster),
            persistent_volume("domain-store", "1Ti", "ReadWriteMany", (JOBS, STORE_CLAIM), cluster),
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": STORE_CLAIM, "namespace": JOBS},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "resources": {"requests": {"storage": "1Ti"}},
                },
            },
        ],
    )


def account_token(cluster: Cluster, account: str, timeout: float = 60) -> str:
    """The token the service-account token controller minted for ``account``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cluster.kubectl("get", "serviceaccount", account, "-n", PLATFORM, "-o", "json")
        secrets = json.loads(got.stdout or "{}").get("secrets") or []
        if secrets:
            secret = cluster.kubectl(
                "get", "secret", secrets[0]["name"], "-n", PLATFORM, "-o", "json"
            )
            data = json.loads(secret.stdout)["data"]
            return base64.b64decode(data["token"]).decode()
        time.sleep(0.2)
    raise TimeoutError(f"no token for {account}\n{cluster.tail()}")


async def api_client(kubeconfig: Path) -> client.ApiClient:
    return await config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture
async def admin(cluster: Cluster) -> AsyncIterator[client.ApiClient]:
    api = await api_client(cluster.admin)
    yield api
    await api.close()


@contextlib.asynccontextmanager
async def account_api(cluster: Cluster, name: str, account: str) -> AsyncIterator[client.ApiClient]:  # fmt: skip
    """An API client holding ``account``'s service-account token, and nothing else."""
    api = await api_client(cluster.token_kubeconfig(name, account_token(cluster, account)))
    try:
        yield api
    finally:
        await api.close()


@pytest.fixture
async def hub_api(cluster: Cluster) -> AsyncIterator[client.ApiClient]:
    """The hub's account: its documented ClusterRole, nothing else."""
    async with account_api(cluster, "hub", HUB_ACCOUNT) as api:
        yield api


async def eventually(check, what: str, cluster: Cluster, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{what} within {timeout:.0f} s\n{cluster.tail()}")


# --- the tenant workspace through TenantKubeSpawner ----------------------------------------------


def workspace_factory(tenant: str = TENANT, tenant_id: int = 5):
    """The hub config's ``workspace_factory``: alice of ``tenant``, half a CPU, 1 GiB."""

    def factory(spawner, hub_env):
        return build_workspace(
            tenant=tenant,
            tenant_id=tenant_id,
            username="alice",
            workspaces_root="/srv/shuyu/workspaces",
            system_paths=("/usr",),
            hub_env=hub_env,
            hub=Endpoint("hub", "10.0.0.10", 8081),
            gateway=Endpoint("gateway", "10.0.0.20", 8090),
            limits=Limits(memory_bytes=1024**3, cpus=0.5),
            port=spawner.port,
        )

    return factory


@pytest.fixture
async def make_spawner(cluster: Cluster, monkeypatch):
    """TenantKubeSpawners configured as in the hub's pod: the hub account's token only."""
    path = cluster.token_kubeconfig("hub-spawner", account_token(cluster, HUB_ACCOUNT))
    # What $KUBECONFIG names when the hub starts (the client reads it once, at import).
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    kubespawner.clients.load_config.cache_clear()  # KubeSpawner loads its config once per process

    def make(tenant: str = TENANT) -> k8s.TenantKubeSpawner:
        spawner = k8s.TenantKubeSpawner(
            _mock=True,
            image=IMAGE,
            cmd=["jupyterhub-singleuser"],
            workspace_factory=workspace_factory(tenant),
            platform_namespace=PLATFORM,
            start_timeout=60,
            k8s_api_request_retry_timeout=30,
        )
        spawner.api_token = TOKEN
        return spawner

    try:
        yield make
    finally:
        await k8s.TenantKubeSpawner._stop_all_reflectors()
        kubespawner.clients.load_config.cache_clear()
        client.Configuration.set_default(client.Configuration())


@pytest.fixture
async def hub_spawner(make_spawner) -> k8s.TenantKubeSpawner:
    return make_spawner()


async def test_when_the_hub_spawns_a_workspace_then_the_cluster_runs_the_policys_pod_and_stop_removes_its_token(
    cluster, hub_spawner, admin
):
    core = client.CoreV1Api(admin)
    url = await asyncio.wait_for(hub_spawner.start(), 120)
    ns, name = hub_spawner.namespace, hub_spawner.pod_name
    assert ns == k8s.namespace_name(TENANT)

    pod = await core.read_namespaced_pod(name, ns)
    assert pod.spec.node_name == cluster.node  # bound by the real scheduler, not by the agent
    assert pod.status.phase == "Running"
    assert url == f"http://{pod.status.pod_ip}:{hub_spawner.port}"
    sent = admin.sanitize_for_serialization(pod)
    expected = hub_spawner.pod_manifest()
    assert sent["spec"]["securityContext"] == expected["spec"]["securityContext"]
    (container,) = sent["spec"]["containers"]
    assert container["securityContext"] == expected["spec"]["containers"][0]["securityContext"]
    assert container["resources"] == {
        "limits": {"cpu": "500m", "memory": str(1024**3)},
        "requests": {"cpu": "500m", "memory": str(1024**3)},
    }
    assert sent["spec"]["automountServiceAccountToken"] is False
    assert not [v for v in sent["spec"]["volumes"] if "hostPath" in v]
    # The token reaches the pod through its Secret (the agent, like a kubelet, resolved it).
    token_env = {e["name"]: e for e in container["env"]}["JUPYTERHUB_API_TOKEN"]
    assert "value" not in token_env
    secret = await core.read_namespaced_secret(k8s.token_secret_name(name), ns)
    assert base64.b64decode(secret.data["JUPYTERHUB_API_TOKEN"]).decode() == TOKEN

    claims = {
        c.metadata.name: c for c in (await core.list_namespaced_persistent_volume_claim(ns)).items
    }
    assert {c.status.phase for c in claims.values()} == {"Bound"}
    assert claims[k8s.SHARED_CLAIM_NAME].spec.volume_name == "tenant-share"
    assert claims[k8s.home_claim_name(hub_spawner.workspace)].spec.volume_name == "home-alice"

    namespace = await core.read_namespace(ns)
    assert namespace.metadata.labels["kubernetes.io/metadata.name"] == ns
    policies = await client.NetworkingV1Api(admin).list_namespaced_network_policy(ns)
    assert {p.metadata.name for p in policies.items} == {
        k8s.DEFAULT_DENY_NAME,
        k8s.WORKSPACE_POLICY_NAME,
    }

    await asyncio.wait_for(hub_spawner.stop(), 120)
    for read, obj in (
        (core.read_namespaced_pod, name),
        (core.read_namespaced_secret, secret.metadata.name),
    ):
        with pytest.raises(ApiException) as gone:
            await read(obj, ns)
        assert gone.value.status == 404
    # Claims hold data: they outlive the server.
    assert len((await core.list_namespaced_persistent_volume_claim(ns)).items) == 2


async def test_when_the_hub_lost_its_state_then_a_respawn_replaces_the_stale_pod_and_its_token(
    cluster, make_spawner, admin
):
    tenant = "tenant-restart"
    ns = k8s.namespace_name(tenant)
    apply(cluster, workspace_volumes(tenant, "home-restart", "share-restart", cluster))
    first = make_spawner(tenant)
    await asyncio.wait_for(first.start(), 120)
    # A new spawner (the hub restarted without its state) meets the running pod and its objects.
    second = make_spawner(tenant)
    url = await asyncio.wait_for(second.start(), 120)
    core = client.CoreV1Api(admin)
    pod = await core.read_namespaced_pod(second.pod_name, ns)
    assert pod.metadata.uid != first.pod_id  # the stale pod was replaced
    assert (pod.status.phase, url) == ("Running", f"http://{pod.status.pod_ip}:{second.port}")
    secret = await core.read_namespaced_secret(k8s.token_secret_name(second.pod_name), ns)
    assert base64.b64decode(secret.data["JUPYTERHUB_API_TOKEN"]).decode() == TOKEN
    await asyncio.wait_for(second.stop(), 120)

    # Least privilege, measured: every right of HUB_RULES was used, and only those.
    granted = {(r.group, res, verb) for r in HUB_RULES for res in r.resources for verb in r.verbs}

    def used() -> set[tuple[str, str, str]]:
        found = set()
        for event in cluster.audit(f"system:serviceaccount:{PLATFORM}:{HUB_ACCOUNT}"):
            ref = event.get("objectRef", {})
            ours = ref.get("namespace") == ns or (
                ref.get("resource") == "namespaces" and ref.get("name") == ns
            )
            if ours and event["responseStatus"]["code"] < 400:
                found.add((ref.get("apiGroup", ""), ref["resource"], event["verb"]))
        return found

    async def all_logged():
        return used() == granted or None

    with contextlib.suppress(TimeoutError):
        await eventually(all_logged, "audit log complete", cluster, timeout=10)
    assert used() == granted


# --- the hub's account holds only its documented role --------------------------------------------


async def forbidden(call) -> int:
    try:
        await call
    except ApiException as e:
        return e.status
    return 200


async def test_when_the_hub_account_reaches_beyond_its_role_then_the_api_server_refuses_it(
    cluster, hub_api, admin
):
    core, rbac = client.CoreV1Api(hub_api), client.RbacAuthorizationV1Api(hub_api)
    ns = "shuyu-rbac-probe"
    # Within its role: it creates a namespace and a secret there (the token is authenticated).
    await core.create_namespace(k8s.make_namespace(factory_ws(ns)))
    secret = {"metadata": {"name": "probe"}, "stringData": {"k": "v"}}
    await core.create_namespaced_secret(k8s.namespace_name(ns), secret)
    listed = await core.list_namespaced_pod(k8s.namespace_name(ns))
    assert listed.items == []

    escalate = {
        "metadata": {"name": "shuyu-hub-escalates"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": HUB_ACCOUNT, "namespace": PLATFORM}],
    }
    attempts = {
        "read a secret it wrote": core.read_namespaced_secret("probe", k8s.namespace_name(ns)),
        "list kube-system secrets": core.list_namespaced_secret("kube-system"),
        "read the production account's token": core.list_namespaced_secret(PLATFORM),
        "bind itself cluster-admin": rbac.create_cluster_role_binding(escalate),
        "widen its own role": rbac.patch_cluster_role(
            HUB_ROLE, {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
        ),
        "list nodes": core.list_node(),
        "delete a namespace": core.delete_namespace(k8s.namespace_name(ns)),
        "read a pod's log": core.read_namespaced_pod_log("any", k8s.namespace_name(ns)),
        "exec into a pod": core.connect_post_namespaced_pod_exec(
            "any", k8s.namespace_name(ns), command="id", stdout=True
        ),
        "create a Job": client.BatchV1Api(hub_api).create_namespaced_job(
            JOBS, {"metadata": {"name": "x"}}
        ),
    }
    refused = {what: await forbidden(call) for what, call in attempts.items()}
    assert refused == dict.fromkeys(attempts, 403)
    # And the escalation really did not happen.
    bindings = await client.RbacAuthorizationV1Api(admin).list_cluster_role_binding()
    assert "shuyu-hub-escalates" not in {b.metadata.name for b in bindings.items}


def factory_ws(tenant: str):
    return build_workspace(
        tenant=tenant,
        tenant_id=9,
        username="probe",
        workspaces_root="/srv/shuyu/workspaces",
        system_paths=("/usr",),
        hub_env={"JUPYTERHUB_API_TOKEN": TOKEN},
        hub=Endpoint("hub", "10.0.0.10", 8081),
        gateway=Endpoint("gateway", "10.0.0.20", 8090),
        limits=Limits(),
    )


# --- the production job through the real job controller ----------------------------------------


def production_job(job_id: int, seconds: int) -> tuple[Job, list[dict]]:
    """A job of the policy (``build_job``) and its manifests (``render_job``), in ``JOBS``."""
    job = build_job(
        job_id=job_id,
        tenant=TENANT,
        entrypoint="train/main.py",
        code_dir=f"{STORE_ROOT}/jobs/{job_id}/code",
        output_dir=f"{STORE_ROOT}/jobs/{job_id}/output",
        params_file=f"{STORE_ROOT}/jobs/{job_id}/params.json",
        inputs={"claims": f"{STORE_ROOT}/raw/{TENANT}/claims.parquet"},
        limits=JobLimits(cpus=1.0, memory_bytes=2 * 1024**3, seconds=seconds),
        system_paths=("/usr",),
        python="/usr/bin/python3",
    )
    return job, kj.render_job(job, image=IMAGE, store_root=STORE_ROOT, namespace=JOBS)


@pytest.fixture
async def production(cluster: Cluster) -> AsyncIterator[client.ApiClient]:
    """The production service's account: its documented Role in ``JOBS``, nothing else."""
    async with account_api(cluster, "production", PRODUCTION_ACCOUNT) as api:
        yield api


async def submit(production: client.ApiClient, manifests: list[dict]) -> None:
    policy, job = manifests
    await client.NetworkingV1Api(production).create_namespaced_network_policy(JOBS, policy)
    await client.BatchV1Api(production).create_namespaced_job(JOBS, job)


async def finished(production: client.ApiClient, name: str, cluster: Cluster):
    batch = client.BatchV1Api(production)

    async def done():
        status = (await batch.read_namespaced_job(name, JOBS)).status
        ended = {c.type for c in status.conditions or [] if c.status == "True"}
        return status if ended & {"Complete", "Failed"} else None

    return await eventually(done, f"job {name} finished", cluster, timeout=90)


async def test_when_the_production_service_submits_a_job_then_the_job_controller_runs_it_to_completion(
    cluster, admin, production
):
    job, manifests = production_job(42, seconds=600)
    await submit(production, manifests)
    name = kj.job_name(job)

    status = await finished(production, name, cluster)
    assert [c.type for c in status.conditions if c.status == "True"] == ["Complete"]
    assert (status.succeeded, status.failed) == (1, None)

    pods = await client.CoreV1Api(production).list_namespaced_pod(
        JOBS, label_selector=f"{kj.JOB_LABEL}={job.job_id}"
    )
    (pod,) = pods.items
    assert [(o.kind, o.name) for o in pod.metadata.owner_references] == [("Job", name)]
    assert pod.spec.node_name == cluster.node
    assert pod.status.phase == "Succeeded"
    sent = admin.sanitize_for_serialization(pod)
    template = manifests[1]["spec"]["template"]["spec"]
    assert sent["spec"]["securityContext"] == template["securityContext"]
    # Every store subPath and read-only flag as rendered (the API omits readOnly: false).
    mounts = sent["spec"]["containers"][0]["volumeMounts"]
    assert [{"readOnly": False, **m} for m in mounts] == template["containers"][0]["volumeMounts"]
    claim = await client.CoreV1Api(admin).read_namespaced_persistent_volume_claim(STORE_CLAIM, JOBS)
    assert (claim.status.phase, claim.spec.volume_name) == ("Bound", "domain-store")

    # The production account reaches nothing outside its namespace.
    elsewhere = client.BatchV1Api(production).create_namespaced_job(PLATFORM, manifests[1])
    assert await forbidden(elsewhere) == 403


async def test_when_a_job_overruns_its_wall_time_then_the_job_controller_kills_and_fails_it(
    cluster, production
):
    job, manifests = production_job(43, seconds=2)
    # The node agent keeps this pod running, as a job that never ends would.
    manifests[1]["spec"]["template"]["metadata"]["labels"][HOLD_LABEL] = "true"
    await submit(production, manifests)

    status = await finished(production, kj.job_name(job), cluster)
    failed = [c for c in status.conditions if c.status == "True"]
    assert [(c.type, c.reason) for c in failed] == [("Failed", "DeadlineExceeded")]
    assert status.succeeded is None

    async def pod_gone():
        pods = await client.CoreV1Api(production).list_namespaced_pod(
            JOBS, label_selector=f"{kj.JOB_LABEL}={job.job_id}"
        )
        return not pods.items

    await eventually(pod_gone, "the overrunning pod deleted", cluster)


# --- the platform's manifests -------------------------------------------------------------------


def test_when_the_platform_overlay_is_built_and_created_then_the_api_server_accepts_every_object(
    cluster,
):
    built = cluster.kubectl(
        "kustomize", str(REPO / "deploy" / "kubernetes" / "overlays" / "example")
    )
    assert built.returncode == 0, built.stderr
    objects = [d for d in yaml.safe_load_all(built.stdout) if d]
    kinds = {o["kind"] for o in objects}
    assert {
        "Namespace",
        "Deployment",
        "Service",
        "Secret",
        "ConfigMap",
        "PersistentVolumeClaim",
        "NetworkPolicy",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    } <= kinds

    created = cluster.kubectl("create", "-f", "-", stdin=built.stdout)
    assert created.returncode == 0, created.stderr
    for obj in objects:
        meta = obj["metadata"]
        where = ["-n", meta["namespace"]] if "namespace" in meta else []
        got = cluster.kubectl("get", obj["kind"], meta["name"], *where, "-o", "json")
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["metadata"]["name"] == meta["name"]
    for ns in ("shuyu-system", "shuyu-production"):
        got = cluster.kubectl("get", "namespace", ns, "-o", "json")
        labels = json.loads(got.stdout)["metadata"]["labels"]
        assert labels["kubernetes.io/metadata.name"] == ns
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
