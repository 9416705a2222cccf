"""The workspace policy rendered as Kubernetes manifests, and the KubeSpawner that applies them.

`spawner.policy` decides what a workspace sees, reaches, uses and knows; this module only renders
that decision as plain, JSON-able manifests (modelled on kubespawner's ``objects.py``), so the
rendering is tested as data and validated offline against the Kubernetes OpenAPI schemas.

Objects, per tenant and per staff member:

* Namespace ``shuyu-<tenant>`` with Pod Security Admission ``restricted`` enforced, so the API
  server itself rejects a pod that would weaken the security context rendered here.
* NetworkPolicies: a default deny of all traffic, plus an allow-list: egress only to the hub and
  the data gateway on their ports, ingress only from the proxy and the hub on the server's port.
* PersistentVolumeClaims: one home per staff member, one shared folder per tenant.
* Secret holding the hub API token, so the token is not written in clear into the pod spec.
* Pod: the tenant's uid, non-root, read-only root, no capabilities, no service-account token,
  no host namespaces, no hostPath, no DNS.

What of ``Limits`` each rendering enforces:

* ``memory_bytes``: Pod ``resources`` (requests = limits, the cgroup memory.max; Guaranteed QoS).
  The RAM-backed ``/tmp`` is capped at the policy's /tmp quota (``tmp_bytes``, as bwrap and
  Docker bound it), at most a quarter of the memory, and counts against the same limit.
* ``cpus``: Pod ``resources`` (requests = limits, the CFS quota).
* ``pids``: NOT enforceable from a manifest. Kubernetes has no per-pod pids field; the only
  limit is the kubelet's node-wide ``podPidsLimit`` (KubeletConfiguration). Nodes that run
  workspaces must set ``podPidsLimit`` to ``Limits.pids``; the Namespace, NetworkPolicies,
  PVCs and Secret enforce no part of ``Limits``.

What of ``Workspace`` is deliberately not rendered:

* ``system`` mounts: host paths never enter a pod (no hostPath at all); the image provides the
  system, and the read-only root filesystem keeps it read-only.
* ``home`` / ``shared`` host paths: on Kubernetes they are PVCs, named from the tenant and user.
* ``extra``: no Kubernetes meaning yet.

The hub's service account needs exactly the rules of :data:`spawner.kubernetes_rbac.HUB_RULES`
(KubeSpawner's pods and events, plus what ``ensure_tenant_objects``, ``ensure_token_secret`` and
``stop`` create, replace and delete), as the ClusterRole
:func:`spawner.kubernetes_rbac.hub_cluster_role`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from types import SimpleNamespace
from typing import Any

from jupyterhub.utils import maybe_future
from kubernetes_asyncio.client.rest import ApiException
from kubespawner import KubeSpawner
from kubespawner.clients import shared_client
from traitlets import Callable as CallableTrait
from traitlets import Dict, Unicode

from spawner.policy import Workspace, workspace_env

TENANT_LABEL = "shuyu.io/tenant"
USER_LABEL = "shuyu.io/user"
COMPONENT_LABEL = "shuyu.io/component"
TOKEN_ENV = ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")  # read from the Secret, never in clear
DEFAULT_DENY_NAME = "shuyu-default-deny"
WORKSPACE_POLICY_NAME = "shuyu-workspace"
SHARED_CLAIM_NAME = "shared"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_VOLUMES = {"home": "home", "shared": "shared", "tmpfs": "tmp"}  # Mount.kind -> volume name

JSON = dict[str, Any]


def dns_label(raw: str) -> str:
    """A valid DNS-1123 label (and label value) for ``raw``, unchanged when already valid.

    Anything else is slugged, truncated and suffixed with a hash of the original, so two tenants
    or users whose names slug alike ("a.b", "a_b") still get distinct objects.
    """
    if len(raw) <= 63 and _DNS_LABEL.fullmatch(raw):
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")[: 63 - 11].strip("-")
    return f"{slug}-{digest}" if slug else digest


def namespace_name(tenant: str) -> str:
    """The tenant's namespace: one per tenant, so every per-tenant object is scoped by it."""
    return dns_label(f"shuyu-{tenant}")


def pod_name(ws: Workspace) -> str:
    """Default pod name when the caller (KubeSpawner) does not impose its own."""
    return dns_label(f"jupyter-{ws.username}")


def token_secret_name(pod: str) -> str:
    """The Secret holding a pod's API token: one per pod, as each server has its own token."""
    return dns_label(f"{pod}-api-token")


def home_claim_name(ws: Workspace) -> str:
    return dns_label(f"home-{ws.username}")


def workspace_labels(ws: Workspace) -> dict[str, str]:
    """Labels of the tenant's workspace pods; the NetworkPolicy selects pods by them."""
    return {TENANT_LABEL: dns_label(ws.tenant), COMPONENT_LABEL: "workspace"}


def _meta(name: str, ws: Workspace) -> JSON:
    labels = {TENANT_LABEL: dns_label(ws.tenant)}
    return {"name": name, "namespace": namespace_name(ws.tenant), "labels": labels}


def _endpoint_port(ws: Workspace, name: str) -> int:
    for endpoint in ws.endpoints:
        if endpoint.name == name:
            return endpoint.port
    raise ValueError(f"workspace of {ws.username!r} has no {name!r} endpoint")


def make_namespace(ws: Workspace) -> JSON:
    """The tenant's namespace, with Pod Security Admission ``restricted`` enforced.

    Enforcing at admission means a pod that escapes this module's rendering (a hook, a manual
    ``kubectl``) is still rejected if it asks for root, capabilities, host access or hostPath.
    """
    name = namespace_name(ws.tenant)
    # Set by the API server itself only from 1.21: labelled here, the NetworkPolicies' namespace
    # selectors match on every version.
    labels = {TENANT_LABEL: dns_label(ws.tenant), NAMESPACE_NAME_LABEL: name}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
    labels["pod-security.kubernetes.io/enforce-version"] = "latest"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
    }


def make_token_secret(ws: Workspace, *, pod: str | None = None) -> JSON:
    """The hub API token(s) of ``ws.env`` as a Secret, for ``make_pod`` to reference.

    A token in a pod's env would be readable by anyone who can read pods (and ends up in
    audit logs and ``kubectl get -o yaml``); Secrets have their own RBAC and at-rest encryption.
    """
    name = token_secret_name(pod or pod_name(ws))
    data = {
        key: base64.b64encode(ws.env[key].encode()).decode() for key in TOKEN_ENV if key in ws.env
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(name, ws),
        "type": "Opaque",
        "data": data,
    }


def make_pvcs(
    ws: Workspace,
    *,
    home_size: str = "10Gi",
    shared_size: str = "100Gi",
    storage_class: str | None = None,
    shared_storage_class: str | None = None,
) -> list[JSON]:
    """The staff member's home (ReadWriteOnce) and the tenant's shared folder (ReadWriteMany).

    The shared claim is mounted by every staff member's pod of the tenant, possibly on several
    nodes at once, hence ReadWriteMany and possibly its own storage class (NFS, CephFS, ...).
    """

    def claim(name: str, mode: str, size: str, klass: str | None, labels: dict) -> JSON:
        spec: JSON = {"accessModes": [mode], "resources": {"requests": {"storage": size}}}
        if klass is not None:
            spec["storageClassName"] = klass
        meta = _meta(name, ws)
        meta["labels"].update(labels)
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec}

    user = {USER_LABEL: dns_label(ws.username)}
    return [
        claim(home_claim_name(ws), "ReadWriteOnce", home_size, storage_class, user),
        claim(SHARED_CLAIM_NAME, "ReadWriteMany", shared_size, shared_storage_class, {}),
    ]


def _cpu(cpus: float) -> str:
    millis = round(cpus * 1000)
    if millis <= 0:
        raise ValueError(f"cpu limit must be positive, got {cpus}")
    return f"{millis}m"


def _env(ws: Workspace, secret: str) -> list[JSON]:
    env: list[JSON] = []
    for key in sorted(ws.env):
        if key in TOKEN_ENV:
            ref = {"secretKeyRef": {"name": secret, "key": key}}
            env.append({"name": key, "valueFrom": ref})
        else:
            env.append({"name": key, "value": ws.env[key]})
    return env


def tmp_size(ws: Workspace) -> int:
    """The RAM /tmp's size: the policy's /tmp quota (as bwrap and Docker bound it), never more
    than a quarter of the memory limit."""
    quarter = ws.limits.memory_bytes // 4
    quota = next((m.size for m in ws.mounts if m.kind == "tmpfs" and m.target == "/tmp"), 0)
    return min(quota, quarter) if quota else quarter


def _volumes(ws: Workspace) -> tuple[list[JSON], list[JSON]]:
    """Volumes and their mounts from the policy's mounts: PVCs, a RAM /tmp, no host path."""
    sources = {
        "home": {"persistentVolumeClaim": {"claimName": home_claim_name(ws)}},
        "shared": {"persistentVolumeClaim": {"claimName": SHARED_CLAIM_NAME}},
        "tmp": {"emptyDir": {"medium": "Memory", "sizeLimit": str(tmp_size(ws))}},
    }
    volumes, mounts = [], []
    for mount in ws.mounts:
        if mount.kind == "system":
            continue  # the image provides the system; the read-only root keeps it read-only
        if mount.kind not in _VOLUMES:
            raise ValueError(f"no Kubernetes rendering for mount kind {mount.kind!r}")
        name = _VOLUMES[mount.kind]
        volumes.append({"name": name, **sources[name]})
        mounts.append({"name": name, "mountPath": mount.target, "readOnly": mount.read_only})
    return volumes, mounts


def make_pod(
    ws: Workspace,
    image: str,
    cmd: list[str],
    *,
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> JSON:
    """The staff member's server pod, in the tenant's namespace, confined by the policy.

    ``labels``/``annotations`` let KubeSpawner add the labels its pod watcher selects on; the
    policy's own labels win, so they cannot be spoofed into another tenant's NetworkPolicy.
    An empty ``cmd`` keeps the image's CMD (as KubeSpawner does).

    DNS: ``dnsPolicy: None`` with the pod's own loopback as the only nameserver. Nothing listens
    there, so every lookup fails at once inside the pod: the cluster resolver (which would reveal
    every Service of the cluster and is a classic exfiltration channel) is never asked, and
    neither is the node's upstream resolver that ``Default`` would use. The NetworkPolicy also
    allows no port 53. The hub and gateway are therefore addressed by IP (their Service's
    ClusterIP), which is checked here.
    """
    for endpoint in ws.endpoints:
        try:
            ipaddress.ip_address(endpoint.host)
        except ValueError:
            raise ValueError(
                f"endpoint {endpoint.name!r} host {endpoint.host!r} must be an IP: "
                "workspaces have no DNS"
            ) from None
    pod = name or pod_name(ws)
    resources = {"memory": str(ws.limits.memory_bytes), "cpu": _cpu(ws.limits.cpus)}
    volumes, volume_mounts = _volumes(ws)
    capabilities: JSON = {"drop": ["ALL"]} if ws.drop_all_capabilities else {}
    container = {
        "name": "notebook",  # KubeSpawner looks for this container and its "notebook-port"
        "image": image,
        "ports": [{"name": "notebook-port", "containerPort": ws.port, "protocol": "TCP"}],
        "env": _env(ws, token_secret_name(pod)),
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "volumeMounts": volume_mounts,
        "securityContext": {
            "allowPrivilegeEscalation": not ws.no_new_privileges,
            "readOnlyRootFilesystem": ws.read_only_root,
            "capabilities": capabilities,
            "privileged": False,
        },
    }
    if cmd:
        container["args"] = list(cmd)
    home = [m.target for m in ws.mounts if m.kind == "home"]
    if home:
        container["workingDir"] = home[0]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod,
            "namespace": namespace_name(ws.tenant),
            "labels": {
                **(labels or {}),
                **workspace_labels(ws),
                USER_LABEL: dns_label(ws.username),
            },
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "securityContext": {
                "runAsUser": ws.uid,
                "runAsGroup": ws.uid,
                "fsGroup": ws.uid,
                "fsGroupChangePolicy": "OnRootMismatch",  # no full chown of a big shared volume
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": volumes,
            "restartPolicy": "OnFailure",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,  # no *_SERVICE_HOST env listing the namespace's Services
            "hostNetwork": False,
            "hostPID": False,
            "hostIPC": False,
            "dnsPolicy": "None",
            "dnsConfig": {
                "nameservers": ["127.0.0.1"],
                "searches": [],
                "options": [{"name": "attempts", "value": "1"}, {"name": "timeout", "value": "1"}],
            },
        },
    }


def _peer(namespace: str, selector: Mapping[str, str]) -> JSON:
    """Pods matching ``selector`` in ``namespace``: a bare podSelector would mean the tenant's."""
    return {
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}},
        "podSelector": {"matchLabels": dict(selector)},
    }


def make_network_policy(
    ws: Workspace,
    hub_selector: Mapping[str, str],
    gateway_selector: Mapping[str, str],
    proxy_selector: Mapping[str, str],
    *,
    platform_namespace: str,
) -> JSON:
    """What the tenant's pods may reach and be reached by; everything else stays denied.

    Egress: the hub's API and the data gateway, on the ports of ``ws.endpoints`` named ``hub``
    and ``gateway`` (the target pods' ports: a Service must not remap them). No DNS egress at
    all: workspaces resolve nothing (see ``make_pod``), and port 53 is a data channel out.

    Ingress on ``ws.port``: the proxy (user traffic) and the hub, which polls the new server's
    API until it answers before it routes the user to it (JupyterHub's ``wait_up``); without the
    hub the spawn times out.

    The selectors are pod labels in ``platform_namespace``, where the hub, proxy and gateway run.
    """
    if not platform_namespace:
        raise ValueError("platform_namespace is required: selectors are namespaced")
    tcp = {"protocol": "TCP"}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(WORKSPACE_POLICY_NAME, ws),
        "spec": {
            "podSelector": {"matchLabels": workspace_labels(ws)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [
                        _peer(platform_namespace, proxy_selector),
                        _peer(platform_namespace, hub_selector),
                    ],
                    "ports": [{**tcp, "port": ws.port}],
                }
            ],
            "egress": [
                {
                    "to": [_peer(platform_namespace, hub_selector)],
                    "ports": [{**tcp, "port": _endpoint_port(ws, "hub")}],
                },
                {
                    "to": [_peer(platform_namespace, gateway_selector)],
                    "ports": [{**tcp, "port": _endpoint_port(ws, "gateway")}],
                },
            ],
        },
    }


def make_default_deny(namespace: str) -> JSON:
    """Deny all ingress and egress of every pod in ``namespace``.

    NetworkPolicies only add allowances, so this is what makes a pod that the workspace policy
    does not select (a wrong label, a future component) fully isolated rather than fully open.
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": DEFAULT_DENY_NAME, "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


class TenantKubeSpawner(KubeSpawner):
    """KubeSpawner whose pod is ``make_pod`` of the workspace policy, in the tenant's namespace.

    Everything the policy decides (uid, security context, env, volumes, limits, namespace,
    network) comes from the ``Workspace``; KubeSpawner's own traits for those are ignored, so
    config cannot drift from the policy. KubeSpawner still does the rest: naming, watching,
    progress, stop and state. ``internal_ssl`` is not supported (its certificates are not
    mounted).
    """

    workspace_factory = CallableTrait(
        allow_none=True,
        config=True,
        help="""Decide the workspace: ``factory(spawner, hub_env) -> Workspace`` (may be async).

        ``hub_env`` is the environment KubeSpawner would hand the server; build the workspace
        with ``spawner.policy.build_workspace(hub_env=hub_env, port=spawner.port, ...)`` so it
        is filtered by ``workspace_env``. The tenant lookup lives in the hub config, not here.
        """,
    )
    platform_namespace = Unicode(
        "", config=True, help="Namespace of the hub, proxy and gateway pods."
    )
    hub_selector = Dict({"component": "hub"}, config=True, help="Labels of the hub pods.")
    proxy_selector = Dict({"component": "proxy"}, config=True, help="Labels of the proxy pods.")
    gateway_selector = Dict(
        {"component": "shuyu-gateway"}, config=True, help="Labels of the data gateway pods."
    )
    shared_storage_capacity = Unicode("100Gi", config=True, help="Size of the tenant's share.")
    shared_storage_class = Unicode(
        None, allow_none=True, config=True, help="Storage class (ReadWriteMany) of the share."
    )

    workspace: Workspace | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.networking_api = shared_client("NetworkingV1Api")

    async def load_user_options(self) -> None:
        """Decide the workspace and create the tenant's objects, first thing in KubeSpawner's start.

        After profiles are applied, so no profile can override the policy; before KubeSpawner
        starts watching ``self.namespace``, so the namespace it watches exists.
        """
        await super().load_user_options()
        await self.load_workspace()
        await self.ensure_tenant_objects()

    async def load_workspace(self) -> Workspace:
        """Build the workspace and point KubeSpawner at the tenant's namespace."""
        if self.workspace_factory is None:
            raise RuntimeError("TenantKubeSpawner.workspace_factory is not configured")
        ws = await maybe_future(self.workspace_factory(self, super().get_env()))
        if ws.port != self.port:
            raise ValueError(f"workspace port {ws.port} differs from the spawner's {self.port}")
        # Whatever the factory did, the server gets only what the policy's filter lets through
        # (idempotent on an env that build_workspace made).
        env = workspace_env(
            ws.env,
            hub_api_url=ws.env["JUPYTERHUB_API_URL"],
            gateway_url=ws.env["SHUYU_GATEWAY_URL"],
            tenant=ws.tenant,
            cpus=ws.limits.cpus,
        )
        self.workspace = ws = dataclasses.replace(ws, env=env)
        self.namespace = namespace_name(ws.tenant)
        return ws

    def _loaded(self) -> Workspace:
        if self.workspace is None:
            raise RuntimeError("workspace not loaded: call load_workspace() first")
        return self.workspace

    def get_env(self) -> dict[str, str]:
        """The policy's environment (``workspace_env`` of KubeSpawner's), nothing of the hub's."""
        return dict(self._loaded().env)

    def pod_manifest(self) -> JSON:
        """``make_pod`` of the workspace, with KubeSpawner's name and watch labels."""
        args = self.get_args()
        return make_pod(
            self._loaded(),
            self.image,
            [*self.cmd, *args] if self.cmd else [],
            name=self.pod_name,
            labels=self._build_pod_labels(self._expand_all(self.extra_labels)),
            annotations=self._build_common_annotations(self._expand_all(self.extra_annotations)),
        )

    async def get_pod_manifest(self) -> Any:
        """``pod_manifest()`` as the kubernetes_asyncio model KubeSpawner sends."""
        response = SimpleNamespace(data=json.dumps(self.pod_manifest()))
        return self.api.api_client.deserialize(response, "V1Pod")

    async def ensure_tenant_objects(self) -> None:
        """Create (or bring up to date) the namespace, policies and claims.

        Claims are never replaced (they hold data); policies always are, so a changed policy
        takes effect on the next start. The token Secret is made with the pod
        (``_make_create_pod_request``), always with the current token.
        """
        ws = self._loaded()
        core, net, ns = self.api, self.networking_api, self.namespace
        namespace = make_namespace(ws)
        labels = {"metadata": {"labels": namespace["metadata"]["labels"]}}
        await self._create_or(
            lambda: core.create_namespace(namespace), lambda: core.patch_namespace(ns, labels)
        )
        network = make_network_policy(
            ws,
            self.hub_selector,
            self.gateway_selector,
            self.proxy_selector,
            platform_namespace=self.platform_namespace,
        )
        for policy in (make_default_deny(ns), network):
            await self._create_or(
                lambda p=policy: net.create_namespaced_network_policy(ns, p),
                lambda p=policy: net.replace_namespaced_network_policy(
                    p["metadata"]["name"], ns, p
                ),
            )
        claims = make_pvcs(
            ws,
            home_size=self.storage_capacity or "10Gi",
            shared_size=self.shared_storage_capacity,
            storage_class=self.storage_class or None,
            shared_storage_class=self.shared_storage_class,
        )
        for claim in claims:
            await self._create_or(
                lambda c=claim: core.create_namespaced_persistent_volume_claim(ns, c), None
            )

    async def ensure_token_secret(self) -> None:
        """Create (or replace, with the current token) the pod's token Secret."""
        core, ns = self.api, self.namespace
        secret = make_token_secret(self._loaded(), pod=self.pod_name)
        await self._create_or(
            lambda: core.create_namespaced_secret(ns, secret),
            lambda: core.replace_namespaced_secret(secret["metadata"]["name"], ns, secret),
        )

    async def _make_create_pod_request(self, pod: Any, request_timeout: int) -> bool:
        """The token Secret, then the pod, at each of KubeSpawner's attempts to create it.

        When a pod of the same name is already there (the hub restarted without its state),
        KubeSpawner stops it and tries again; ``stop`` deletes the token Secret with it, so the
        Secret is made again right before every attempt, or the new pod could never start.
        """
        try:
            await self.ensure_token_secret()
        except TimeoutError:
            return False  # as KubeSpawner does for the pod: exponential_backoff tries again
        return await super()._make_create_pod_request(pod, request_timeout)

    async def _create_or(
        self,
        create: Callable[[], Awaitable[Any]],
        on_conflict: Callable[[], Awaitable[Any]] | None,
    ) -> None:
        """Create; if it already exists, run ``on_conflict`` (or keep it when that is None)."""
        try:
            await asyncio.wait_for(create(), self.k8s_api_request_timeout)
        except ApiException as e:
            if e.status != 409:
                raise
            if on_conflict is not None:
                await asyncio.wait_for(on_conflict(), self.k8s_api_request_timeout)

    async def stop(self, now: bool = False) -> None:
        """Stop the pod, then delete its token Secret (the token dies with the server)."""
        await super().stop(now)
        try:
            await asyncio.wait_for(
                self.api.delete_namespaced_secret(token_secret_name(self.pod_name), self.namespace),
                self.k8s_api_request_timeout,
            )
        except ApiException as e:
            if e.status != 404:
                raise
