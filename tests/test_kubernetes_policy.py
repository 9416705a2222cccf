"""The Kubernetes rendering of the workspace policy, tested as data and against the API schemas.

No cluster: manifests are validated offline (kubernetes-validate, strict: unknown fields fail)
and the spawner runs against a recording fake of the Kubernetes API.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re

import kubernetes_validate
import pytest
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.rest import ApiException
from kubespawner import KubeSpawner

import spawner.kubernetes as k8s
from spawner.policy import (
    SANDBOX_HOME,
    SANDBOX_SHARED,
    Endpoint,
    Limits,
    Mount,
    Workspace,
    build_workspace,
    workspace_env,
)

KUBERNETES_VERSIONS = ("1.33", "1.37")
TENANT = "tenant-91330106ma2h0a1b2t"
HUB = Endpoint("hub", "10.96.0.10", 8081)
GATEWAY = Endpoint("gateway", "10.96.0.20", 8090)
PLATFORM = "shuyu-system"
SELECTORS = {
    "hub_selector": {"component": "hub"},
    "gateway_selector": {"component": "shuyu-gateway"},
    "proxy_selector": {"component": "proxy"},
}
TOKEN = "tok-alice-0123456789abcdef"
HUB_SECRETS = {
    "JUPYTERHUB_CRYPT_KEY": "crypt-key-ffffffffffffffffffffffffffff",
    "JUPYTERHUB_COOKIE_SECRET": "cookie-secret-eeeeeeeeeeeeeeeeeeeeeeee",
    "JUPYTERHUB_DB_URL": "sqlite:///hub-db-path.sqlite",
    "CONFIGPROXY_AUTH_TOKEN": "proxy-token-dddddddddddddddddddddddd",
    "SHUYU_DB_URL": "postgresql://shuyu:pw-cccccccc@db/shuyu",
    "SHUYU_PEPPER": "pepper-bbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
}
HUB_ENV = {
    **HUB_SECRETS,
    "JUPYTERHUB_API_TOKEN": TOKEN,
    "JPY_API_TOKEN": TOKEN,
    "JUPYTERHUB_USER": "alice",
    "JUPYTERHUB_ACTIVITY_URL": "http://hub:8081/hub/api/users/alice/activity",
}


def workspace(
    tenant: str = TENANT,
    tenant_id: int = 1,
    username: str = "alice",
    limits: Limits | None = None,
    port: int = 8888,
    hub_env: dict[str, str] | None = None,
    hub: Endpoint = HUB,
) -> Workspace:
    return build_workspace(
        tenant=tenant,
        tenant_id=tenant_id,
        username=username,
        workspaces_root="/srv/shuyu/workspaces",
        system_paths=("/usr", "/opt/conda"),
        hub_env=HUB_ENV if hub_env is None else hub_env,
        hub=hub,
        gateway=GATEWAY,
        limits=limits or Limits(),
        port=port,
    )


def pod_of(ws: Workspace) -> dict:
    return k8s.make_pod(ws, "registry.example/shuyu/notebook:1", ["jupyterhub-singleuser"])


def network_policy_of(ws: Workspace) -> dict:
    return k8s.make_network_policy(ws, **SELECTORS, platform_namespace=PLATFORM)


def container_of(pod: dict) -> dict:
    (container,) = pod["spec"]["containers"]
    return container


def every_manifest(ws: Workspace) -> list[dict]:
    return [
        k8s.make_namespace(ws),
        pod_of(ws),
        *k8s.make_pvcs(ws, storage_class="fast", shared_storage_class="nfs"),
        k8s.make_token_secret(ws),
        network_policy_of(ws),
        k8s.make_default_deny(k8s.namespace_name(ws.tenant)),
    ]


# --- schema -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "index, kind",
    list(enumerate(m["kind"] for m in every_manifest(workspace()))),
    ids=lambda v: str(v),
)
def test_when_manifest_is_rendered_then_it_validates_strictly_against_the_kubernetes_schema(
    index, kind, version
):
    manifest = every_manifest(workspace())[index]
    assert manifest["kind"] == kind
    assert kubernetes_validate.validate(manifest, version, strict=True) == version


def test_when_a_manifest_has_an_unknown_field_then_strict_validation_rejects_it():
    pod = pod_of(workspace())
    container_of(pod)["securityContext"]["noNewPrivs"] = True  # a plausible misspelling
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSIONS[-1], strict=True)


def test_when_manifests_are_rendered_then_they_are_plain_json():
    manifests = every_manifest(workspace())
    assert json.loads(json.dumps(manifests)) == manifests


# --- pod --------------------------------------------------------------------------------------


def test_when_pod_is_rendered_then_every_capability_is_dropped():
    sc = container_of(pod_of(workspace()))["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]}


def test_when_pod_is_rendered_then_no_volume_is_a_host_path():
    pod = pod_of(workspace())
    assert "hostPath" not in json.dumps(pod)
    for volume in pod["spec"]["volumes"]:
        assert set(volume) - {"name"} <= {"persistentVolumeClaim", "emptyDir"}


def test_when_pod_is_rendered_then_the_root_filesystem_is_read_only():
    assert container_of(pod_of(workspace()))["securityContext"]["readOnlyRootFilesystem"] is True


def test_when_pod_is_rendered_then_privileges_cannot_be_gained():
    sc = container_of(pod_of(workspace()))["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False


@pytest.mark.parametrize("tenant_id", [1, 42, 99_999])
def test_when_pod_is_rendered_then_it_runs_as_the_tenant_uid_and_never_as_root(tenant_id):
    ws = workspace(tenant_id=tenant_id)
    psc = pod_of(ws)["spec"]["securityContext"]
    assert psc["runAsUser"] == psc["runAsGroup"] == psc["fsGroup"] == ws.uid
    assert ws.uid > 0
    assert psc["runAsNonRoot"] is True
    assert "runAsUser" not in container_of(pod_of(ws))["securityContext"]  # nothing overrides


def test_when_pod_is_rendered_then_seccomp_is_the_runtime_default():
    assert pod_of(workspace())["spec"]["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"
    }


def test_when_pod_is_rendered_then_no_service_account_token_is_mounted():
    assert pod_of(workspace())["spec"]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC", "enableServiceLinks"])
def test_when_pod_is_rendered_then_host_namespaces_and_service_links_are_off(field):
    assert pod_of(workspace())["spec"][field] is False


def test_when_pod_is_rendered_then_dns_lookups_never_leave_the_pod():
    spec = pod_of(workspace())["spec"]
    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"]["nameservers"] == ["127.0.0.1"]
    assert spec["dnsConfig"]["searches"] == []


def test_when_an_endpoint_is_a_host_name_then_the_pod_is_refused_as_it_could_not_resolve_it():
    ws = workspace(hub=Endpoint("hub", "hub.shuyu-system.svc", 8081))
    with pytest.raises(ValueError, match="must be an IP"):
        pod_of(ws)


@pytest.mark.parametrize(
    "limits, memory, cpu",
    [
        (Limits(), "2147483648", "1000m"),
        (Limits(memory_bytes=512 * 1024**2, cpus=0.5), "536870912", "500m"),
        (Limits(memory_bytes=8 * 1024**3, cpus=2.25, pids=64), "8589934592", "2250m"),
    ],
)
def test_when_pod_is_rendered_then_requests_and_limits_are_the_policy_limits(limits, memory, cpu):
    resources = container_of(pod_of(workspace(limits=limits)))["resources"]
    assert resources["limits"] == resources["requests"] == {"memory": memory, "cpu": cpu}


def test_when_cpu_limit_is_not_positive_then_the_pod_is_refused():
    with pytest.raises(ValueError, match="cpu"):
        pod_of(workspace(limits=Limits(cpus=0)))


@pytest.mark.parametrize(
    ("limits", "size"),
    [(Limits(8 * 1024**3, 1, 256, tmp_bytes=256 * 1024**2), 256 * 1024**2),  # the /tmp quota
     (Limits(512 * 1024**2, 1, 256, tmp_bytes=256 * 1024**2), 128 * 1024**2)],  # a quarter
    ids=["quota", "quarter-of-memory"],
)  # fmt: skip
def test_when_pod_is_rendered_then_tmp_is_ram_bounded_by_its_quota(limits, size):
    ws = workspace(limits=limits)
    pod = pod_of(ws)
    (tmp,) = [v for v in pod["spec"]["volumes"] if v["name"] == "tmp"]
    assert tmp["emptyDir"] == {"medium": "Memory", "sizeLimit": str(size)}
    assert {"name": "tmp", "mountPath": "/tmp", "readOnly": False} in container_of(pod)[
        "volumeMounts"
    ]


def test_when_pod_is_rendered_then_home_and_shared_are_the_tenant_claims():
    ws = workspace()
    pod = pod_of(ws)
    claims = {c["metadata"]["name"] for c in k8s.make_pvcs(ws)}
    by_name = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container_of(pod)["volumeMounts"]}
    assert mounts == {SANDBOX_HOME: "home", SANDBOX_SHARED: "shared", "/tmp": "tmp"}
    used = {by_name[n]["persistentVolumeClaim"]["claimName"] for n in ("home", "shared")}
    assert used == claims
    assert container_of(pod)["workingDir"] == SANDBOX_HOME


def test_when_pod_is_rendered_then_system_paths_of_the_host_are_not_mounted():
    mounts = {m["mountPath"] for m in container_of(pod_of(workspace()))["volumeMounts"]}
    assert not mounts & {"/usr", "/opt/conda"}


def test_when_a_mount_kind_is_unknown_then_rendering_fails_closed():
    ws = workspace()
    ws = dataclasses.replace(
        ws, mounts=(*ws.mounts, Mount("/var/run/docker.sock", "/d", False, "bind"))
    )
    with pytest.raises(ValueError, match="bind"):
        pod_of(ws)


@pytest.mark.parametrize("port", [8888, 9999])
def test_when_pod_is_rendered_then_it_listens_on_the_workspace_port(port):
    ports = container_of(pod_of(workspace(port=port)))["ports"]
    assert ports == [{"name": "notebook-port", "containerPort": port, "protocol": "TCP"}]


@pytest.mark.parametrize("key", ["JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"])
def test_when_pod_is_rendered_then_the_api_token_is_read_from_the_secret_not_written_in_clear(key):
    ws = workspace()
    pod, secret = pod_of(ws), k8s.make_token_secret(ws)
    assert TOKEN not in json.dumps(pod)
    (var,) = [e for e in container_of(pod)["env"] if e["name"] == key]
    ref = var["valueFrom"]["secretKeyRef"]
    assert ref["name"] == secret["metadata"]["name"]
    assert base64.b64decode(secret["data"][ref["key"]]).decode() == TOKEN


@pytest.mark.parametrize("name", sorted(HUB_SECRETS))
def test_when_pod_is_rendered_then_the_hubs_secrets_never_appear(name):
    ws = workspace()
    rendered = json.dumps(every_manifest(ws))
    assert name not in {e["name"] for e in container_of(pod_of(ws))["env"]}
    assert name not in rendered
    assert HUB_SECRETS[name] not in rendered


def test_when_pod_is_rendered_then_its_env_is_exactly_the_policy_env():
    ws = workspace()
    names = [e["name"] for e in container_of(pod_of(ws))["env"]]
    assert names == sorted(ws.env)


def test_when_caller_labels_claim_another_tenant_then_the_policy_labels_win():
    ws = workspace()
    spoof = {k8s.TENANT_LABEL: "tenant-other", k8s.COMPONENT_LABEL: "hub", "component": "x"}
    labels = k8s.make_pod(ws, "img", [], labels=spoof)["metadata"]["labels"]
    assert labels[k8s.TENANT_LABEL] == TENANT
    assert labels[k8s.COMPONENT_LABEL] == "workspace"
    assert labels["component"] == "x"  # other labels (KubeSpawner's) are kept


def test_when_cmd_is_empty_then_the_image_cmd_is_kept():
    assert "args" not in container_of(k8s.make_pod(workspace(), "img", []))


# --- namespace, tenants, names ----------------------------------------------------------------


def test_when_namespace_is_rendered_then_pod_security_restricted_is_enforced():
    ws = workspace()
    ns = k8s.make_namespace(ws)
    labels = ns["metadata"]["labels"]
    assert ns["metadata"]["name"] == f"shuyu-{TENANT}"
    assert labels["shuyu.io/tenant"] == TENANT
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_when_namespace_is_rendered_then_it_carries_its_name_label_as_selectors_expect():
    # Kubernetes sets kubernetes.io/metadata.name itself only from 1.21; the label is explicit so
    # the NetworkPolicies' namespace selectors match on every version.
    ns = k8s.make_namespace(workspace())
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == ns["metadata"]["name"]


def test_when_two_tenants_are_rendered_then_they_get_different_namespaces_and_uids():
    a = workspace(tenant="tenant-a", tenant_id=1)
    b = workspace(tenant="tenant-b", tenant_id=2)
    pod_a, pod_b = pod_of(a), pod_of(b)
    assert pod_a["metadata"]["namespace"] != pod_b["metadata"]["namespace"]
    uid = lambda pod: pod["spec"]["securityContext"]["runAsUser"]  # noqa: E731
    assert uid(pod_a) != uid(pod_b)
    selector_a = network_policy_of(a)["spec"]["podSelector"]["matchLabels"]
    assert not selector_a.items() <= pod_b["metadata"]["labels"].items()


def test_when_every_object_is_rendered_then_it_lives_in_the_tenant_namespace():
    ws = workspace()
    for manifest in every_manifest(ws):
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == k8s.namespace_name(TENANT)


@pytest.mark.parametrize(
    "tenant",
    [
        "tenant-" + "9" * 80,
        "Tenant_With.Upper",
        "tenant-a.b",
        "-tenant-",
        "租户",
    ],
)
def test_when_a_tenant_name_is_long_or_unusual_then_its_namespace_is_a_valid_dns_label(tenant):
    name = k8s.namespace_name(tenant)
    assert len(name) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)


def test_when_tenant_names_slug_alike_then_their_namespaces_still_differ():
    names = {k8s.namespace_name(t) for t in ("tenant-a.b", "tenant-a_b", "tenant-a-b")}
    assert len(names) == 3


def test_when_claims_are_rendered_then_home_is_per_staff_member_and_shared_is_per_tenant():
    alice, bob = workspace(username="alice"), workspace(username="bob")
    (home_a, shared_a), (home_b, shared_b) = k8s.make_pvcs(alice), k8s.make_pvcs(bob)
    assert home_a["metadata"]["name"] != home_b["metadata"]["name"]
    assert shared_a == shared_b
    assert home_a["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert shared_a["spec"]["accessModes"] == ["ReadWriteMany"]


# --- network ----------------------------------------------------------------------------------


def test_when_network_policy_is_rendered_then_egress_goes_only_to_hub_and_gateway_ports():
    rules = network_policy_of(workspace())["spec"]["egress"]
    allowed = {
        (tuple(peer["podSelector"]["matchLabels"].items()), port["protocol"], port["port"])
        for rule in rules
        for peer in rule["to"]
        for port in rule["ports"]
    }
    assert allowed == {
        ((("component", "hub"),), "TCP", HUB.port),
        ((("component", "shuyu-gateway"),), "TCP", GATEWAY.port),
    }


def test_when_network_policy_is_rendered_then_no_dns_and_no_open_rule_is_allowed():
    spec = network_policy_of(workspace())["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    for rule in spec["egress"] + spec["ingress"]:
        peers = rule.get("to", rule.get("from"))
        assert peers and rule["ports"]  # an empty list would mean "everywhere" / "every port"
        assert all("ipBlock" not in p for p in peers)
        assert all(p["port"] != 53 for p in rule["ports"])


def test_when_network_policy_is_rendered_then_ingress_is_only_from_proxy_and_hub_on_the_port():
    (rule,) = network_policy_of(workspace(port=9999))["spec"]["ingress"]
    sources = [p["podSelector"]["matchLabels"] for p in rule["from"]]
    assert sources == [{"component": "proxy"}, {"component": "hub"}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9999}]


def test_when_network_policy_is_rendered_then_every_peer_is_in_the_platform_namespace():
    spec = network_policy_of(workspace())["spec"]
    for peer in [p for r in spec["egress"] for p in r["to"]] + spec["ingress"][0]["from"]:
        assert peer["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": PLATFORM}
        }


def test_when_network_policy_is_rendered_then_it_selects_the_rendered_pod():
    ws = workspace()
    selector = network_policy_of(ws)["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pod_of(ws)["metadata"]["labels"].items()


def test_when_default_deny_is_rendered_then_every_pod_is_denied_both_ways():
    deny = k8s.make_default_deny("shuyu-tenant-x")
    assert deny["metadata"]["namespace"] == "shuyu-tenant-x"
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_when_platform_namespace_is_missing_then_the_network_policy_is_refused():
    with pytest.raises(ValueError, match="platform_namespace"):
        k8s.make_network_policy(workspace(), **SELECTORS, platform_namespace="")


def test_when_the_gateway_endpoint_is_missing_then_the_network_policy_is_refused():
    ws = dataclasses.replace(workspace(), endpoints=(HUB,))
    with pytest.raises(ValueError, match="gateway"):
        network_policy_of(ws)


# --- TenantKubeSpawner (no cluster: a recording fake of the API) ------------------------------


class FakeApi:
    """Records every API call; ``conflicts`` name the calls that answer 409 Already Exists."""

    def __init__(self, api_client: ApiClient, conflicts: set[str]):
        self.api_client = api_client
        self.conflicts = conflicts
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):
        async def call(*args):
            self.calls.append((name, args))
            if name in self.conflicts:
                raise ApiException(status=409, reason="AlreadyExists")

        return call


def factory(spawner, hub_env):
    return build_workspace(
        tenant=TENANT,
        tenant_id=5,
        username="alice",
        workspaces_root="/srv/shuyu/workspaces",
        system_paths=("/usr",),
        hub_env=hub_env,
        hub=HUB,
        gateway=GATEWAY,
        limits=Limits(memory_bytes=1024**3, cpus=0.5),
        port=spawner.port,
    )


@pytest.fixture
async def make_spawner(monkeypatch):
    """Build TenantKubeSpawners without a cluster: no kube config, a recording fake API."""
    import kubespawner.spawner

    client = ApiClient(Configuration())
    fakes: list[FakeApi] = []

    def fake_client(*args, conflicts=frozenset(), **kwargs):
        fakes.append(FakeApi(client, set(conflicts)))
        return fakes[-1]

    monkeypatch.setattr(kubespawner.spawner, "load_config", lambda **kwargs: None)

    def make(conflicts=frozenset(), **config):
        shared = lambda *a, **kw: fake_client(conflicts=conflicts)  # noqa: E731
        monkeypatch.setattr(kubespawner.spawner, "shared_client", shared)
        monkeypatch.setattr(k8s, "shared_client", shared)
        config.setdefault("workspace_factory", factory)
        config.setdefault("platform_namespace", PLATFORM)
        spawner = k8s.TenantKubeSpawner(_mock=True, image="img:1", **config)
        spawner.api_token = TOKEN
        return spawner

    yield make
    await client.close()


async def test_when_spawner_loads_the_workspace_then_get_env_is_the_policy_filter_of_kubespawners(
    make_spawner,
):
    spawner = make_spawner(environment=HUB_SECRETS)
    await spawner.load_user_options()
    raw = KubeSpawner.get_env(spawner)
    assert HUB_SECRETS.items() <= raw.items()  # KubeSpawner alone would hand them over
    expected = workspace_env(
        raw,
        hub_api_url=f"http://{HUB.host}:{HUB.port}/hub/api",
        gateway_url=f"http://{GATEWAY.host}:{GATEWAY.port}",
        tenant=TENANT,
    )
    env = spawner.get_env()
    assert env == expected
    assert not set(HUB_SECRETS) & set(env)
    assert env["JUPYTERHUB_API_TOKEN"] == TOKEN


async def test_when_the_factory_adds_hub_env_then_the_spawner_still_filters_it_out(make_spawner):
    def leaky(spawner, hub_env):
        ws = factory(spawner, hub_env)
        return dataclasses.replace(ws, env={**ws.env, **HUB_SECRETS})

    spawner = make_spawner(workspace_factory=leaky)
    await spawner.load_user_options()
    assert not set(HUB_SECRETS) & set(spawner.get_env())
    assert not set(HUB_SECRETS) & {e["name"] for e in container_of(spawner.pod_manifest())["env"]}


async def test_when_spawner_loads_the_workspace_then_it_runs_in_the_tenant_namespace(make_spawner):
    spawner = make_spawner(namespace="default")
    await spawner.load_user_options()
    assert spawner.namespace == k8s.namespace_name(TENANT)


async def test_when_spawner_builds_the_pod_then_it_is_exactly_make_pod_of_the_workspace(
    make_spawner,
):
    spawner = make_spawner(cmd=["jupyterhub-singleuser"], args=["--debug"])
    await spawner.load_user_options()
    model = await spawner.get_pod_manifest()
    sent = spawner.api.api_client.sanitize_for_serialization(model)
    assert sent == spawner.pod_manifest()  # nothing lost converting to kubernetes_asyncio models
    assert kubernetes_validate.validate(sent, KUBERNETES_VERSIONS[-1], strict=True)
    expected = k8s.make_pod(
        spawner.workspace,
        "img:1",
        ["jupyterhub-singleuser", "--debug"],
        name=spawner.pod_name,
        labels=sent["metadata"]["labels"],
        annotations=sent["metadata"]["annotations"],
    )
    assert sent == expected
    assert sent["metadata"]["labels"]["component"] == spawner.component_label  # KubeSpawner watch


async def test_when_config_asks_for_root_or_host_access_then_the_pod_still_follows_the_policy(
    make_spawner,
):
    spawner = make_spawner(
        uid=0,
        gid=0,
        privileged=True,
        allow_privilege_escalation=True,
        automount_service_account_token=True,
        container_security_context={"readOnlyRootFilesystem": False},
        extra_pod_config={"hostNetwork": True},
        volumes=[{"name": "host", "hostPath": {"path": "/"}}],
        volume_mounts=[{"name": "host", "mountPath": "/host"}],
        cpu_limit=64.0,
        mem_limit="1T",
    )
    await spawner.load_user_options()
    sent = spawner.api.api_client.sanitize_for_serialization(await spawner.get_pod_manifest())
    assert sent == spawner.pod_manifest()
    assert sent["spec"]["securityContext"]["runAsUser"] == spawner.workspace.uid
    assert "hostPath" not in json.dumps(sent)
    assert sent["spec"]["hostNetwork"] is False
    assert container_of(sent)["resources"]["limits"] == {"memory": str(1024**3), "cpu": "500m"}


async def test_when_spawner_starts_then_it_creates_the_tenant_objects_in_its_namespace(
    make_spawner,
):
    spawner = make_spawner()
    await spawner.load_user_options()  # first in KubeSpawner's start, before it watches pods
    calls = spawner.api.calls + spawner.networking_api.calls
    made = sorted(name for name, _ in calls)
    assert made == sorted(
        ["create_namespace"]
        + ["create_namespaced_network_policy"] * 2
        + ["create_namespaced_persistent_volume_claim"] * 2
    )
    for name, args in calls:
        body = args[-1]
        assert kubernetes_validate.validate(body, KUBERNETES_VERSIONS[-1], strict=True)
        if name != "create_namespace":
            assert args[0] == spawner.namespace == body["metadata"]["namespace"]


async def test_when_the_pod_is_created_then_its_token_secret_is_made_first_at_every_attempt(
    make_spawner,
):
    # KubeSpawner retries the pod after stopping a stale one of the same name, and stop deletes
    # the token Secret: each attempt must make it again, or the new pod could never start.
    spawner = make_spawner()
    await spawner.load_user_options()
    pod = await spawner.get_pod_manifest()
    before = len(spawner.api.calls)
    for _ in range(2):
        assert await spawner._make_create_pod_request(pod, 5) is True
    made = spawner.api.calls[before:]
    assert [name for name, _ in made] == ["create_namespaced_secret", "create_namespaced_pod"] * 2
    secret = made[0][1][-1]
    assert kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[-1], strict=True)
    assert made[0][1][0] == spawner.namespace == secret["metadata"]["namespace"]
    assert secret["metadata"]["name"] == k8s.token_secret_name(spawner.pod_name)


async def test_when_tenant_objects_exist_then_policies_and_token_are_replaced_and_claims_kept(
    make_spawner,
):
    creates = {
        "create_namespace",
        "create_namespaced_network_policy",
        "create_namespaced_persistent_volume_claim",
        "create_namespaced_secret",
    }
    spawner = make_spawner(conflicts=creates)
    await spawner.load_user_options()
    followups = [
        name for name, _ in spawner.api.calls + spawner.networking_api.calls if name not in creates
    ]
    assert sorted(followups) == sorted(
        ["patch_namespace"] + ["replace_namespaced_network_policy"] * 2
    )
    await spawner.ensure_token_secret()
    assert [name for name, _ in spawner.api.calls[-2:]] == [
        "create_namespaced_secret",
        "replace_namespaced_secret",
    ]


async def test_when_the_token_secret_times_out_then_the_attempt_is_retried_without_a_pod(
    make_spawner, monkeypatch
):
    spawner = make_spawner()
    await spawner.load_user_options()

    async def slow():
        raise TimeoutError

    monkeypatch.setattr(spawner, "ensure_token_secret", slow)
    before = len(spawner.api.calls)
    assert await spawner._make_create_pod_request(await spawner.get_pod_manifest(), 5) is False
    assert spawner.api.calls[before:] == []  # no pod without its token Secret


async def test_when_workspace_port_differs_from_the_spawners_then_the_spawn_is_refused(
    make_spawner,
):
    spawner = make_spawner(workspace_factory=lambda sp, env: workspace(port=9999))
    with pytest.raises(ValueError, match="port"):
        await spawner.load_user_options()


async def test_when_workspace_is_not_loaded_then_the_spawner_refuses_to_render(make_spawner):
    spawner = make_spawner()
    with pytest.raises(RuntimeError, match="not loaded"):
        spawner.get_env()
    with pytest.raises(RuntimeError, match="not loaded"):
        spawner.pod_manifest()


async def test_when_no_workspace_factory_is_configured_then_the_spawn_is_refused(make_spawner):
    spawner = make_spawner(workspace_factory=None)
    with pytest.raises(RuntimeError, match="workspace_factory"):
        await spawner.load_user_options()


async def test_when_spawner_stops_then_the_token_secret_is_deleted(make_spawner, monkeypatch):
    stopped = []

    async def kube_stop(self, now=False):
        stopped.append(now)

    monkeypatch.setattr(KubeSpawner, "stop", kube_stop)
    spawner = make_spawner()
    await spawner.load_user_options()
    await spawner.stop(now=True)
    assert stopped == [True]
    assert spawner.api.calls[-1] == (
        "delete_namespaced_secret",
        (k8s.token_secret_name(spawner.pod_name), spawner.namespace),
    )
