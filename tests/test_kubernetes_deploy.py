"""The platform's manifests (deploy/kubernetes), checked as data against the code they serve.

No cluster: tests/e2e/test_kubernetes_cluster.py builds the overlay with `kubectl kustomize` and
creates it on a real API server. Here: the roles are the code's, the pods pass Pod Security
`restricted`, and the tenant NetworkPolicies' selectors name real platform pods.
"""

from __future__ import annotations

import functools
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from spawner.kubernetes import NAMESPACE_NAME_LABEL, TenantKubeSpawner
from spawner.kubernetes_rbac import HUB_ROLE_NAME, hub_cluster_role, production_role

BASE = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes" / "base"
KUBERNETES_VERSION = "1.33"


@functools.cache
def documents() -> list[dict]:
    docs = []
    for path in sorted(BASE.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def of_kind(kind: str) -> list[dict]:
    return [d for d in documents() if d["kind"] == kind]


def named(kind: str, name: str) -> dict:
    (doc,) = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    return doc


def test_when_the_base_is_read_then_every_file_is_listed_in_the_kustomization():
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


@pytest.mark.parametrize(
    "index",
    range(len(documents())),
    ids=[f"{d['kind']}-{d['metadata']['name']}" for d in documents()],
)
def test_when_a_manifest_is_read_then_it_validates_strictly_against_the_kubernetes_schema(index):
    doc = documents()[index]
    assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_when_the_hub_role_is_deployed_then_it_is_exactly_the_codes_least_privilege():
    assert named("ClusterRole", HUB_ROLE_NAME)["rules"] == hub_cluster_role()["rules"]
    (binding,) = of_kind("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == HUB_ROLE_NAME
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "shuyu-hub", "namespace": "shuyu-system"}
    ]


def test_when_the_production_role_is_deployed_then_it_is_the_codes_and_only_in_production():
    (role,) = of_kind("Role")
    assert role["rules"] == production_role("shuyu-production")["rules"]
    assert role["metadata"]["namespace"] == "shuyu-production"


@pytest.mark.parametrize("namespace", of_kind("Namespace"), ids=lambda n: n["metadata"]["name"])
def test_when_a_namespace_is_deployed_then_it_is_labelled_and_pod_security_restricted(namespace):
    labels = namespace["metadata"]["labels"]
    assert labels[NAMESPACE_NAME_LABEL] == namespace["metadata"]["name"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("deployment", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_when_a_platform_pod_is_deployed_then_it_meets_pod_security_restricted(deployment):
    spec = deployment["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not [v for v in spec.get("volumes", []) if "hostPath" in v]
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(flag)
    for container in spec["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True
        assert container["resources"]["limits"]


def test_when_platform_pods_are_deployed_then_only_the_hub_and_production_hold_an_api_token():
    holders = {
        d["metadata"]["name"]
        for d in of_kind("Deployment")
        if d["spec"]["template"]["spec"].get("automountServiceAccountToken", True)
    }
    assert holders == {"shuyu-hub", "shuyu-production"}


@pytest.mark.parametrize("trait", ["hub_selector", "proxy_selector", "gateway_selector"])
def test_when_tenant_policies_name_platform_pods_then_a_deployed_pod_carries_those_labels(trait):
    selector = TenantKubeSpawner.class_traits()[trait].default()
    pods = [
        d["spec"]["template"]["metadata"]["labels"]
        for d in of_kind("Deployment")
        if d["metadata"]["namespace"] == "shuyu-system"
    ]
    assert [labels for labels in pods if selector.items() <= labels.items()]


def test_when_the_platform_is_deployed_then_each_namespace_denies_by_default():
    denies = {
        p["metadata"]["namespace"]
        for p in of_kind("NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and "ingress" not in p["spec"]
        and "egress" not in p["spec"]
    }
    assert denies == {"shuyu-system", "shuyu-production"}
