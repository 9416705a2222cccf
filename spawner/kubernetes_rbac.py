"""The least privilege of the hub's service account, as a ClusterRole and its binding.

:class:`spawner.kubernetes.TenantKubeSpawner` creates each tenant's namespace on first spawn, so
its rights cannot be confined to namespaces known in advance: they are a ClusterRole bound to the
hub's service account. ``HUB_RULES`` is the one statement of what the hub may do; the spawner's
code needs exactly these calls and nothing else:

* KubeSpawner itself: pods create/delete/list/watch (start, stop, its pod reflector) and
  events list/watch (its event reflector), in the tenant's namespace.
* ``ensure_tenant_objects``: namespaces create/patch; networkpolicies create/update (replace);
  persistentvolumeclaims create (claims are never replaced); secrets create/update (the token).
* ``stop``: secrets delete (the token dies with the server).

Not granted, on purpose: reading secrets (the hub writes tokens, it never reads one back), pods'
exec/attach/portforward/log, nodes, anything cluster-scoped beyond namespaces, RBAC objects.
RBAC cannot limit names by prefix: on a real cluster, an admission policy should keep these
rights to ``shuyu-*`` namespaces (see docs/kubernetes.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from spawner.kubernetes import JSON

HUB_ROLE_NAME = "shuyu-hub"


@dataclass(frozen=True)
class Rule:
    """One RBAC PolicyRule: ``verbs`` on ``resources`` of the API ``group`` ("" is core)."""

    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]

    def manifest(self) -> JSON:
        return {
            "apiGroups": [self.group],
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }


HUB_RULES: tuple[Rule, ...] = (
    Rule("", ("namespaces",), ("create", "patch")),
    Rule("", ("pods",), ("create", "delete", "list", "watch")),
    Rule("", ("events",), ("list", "watch")),
    Rule("", ("persistentvolumeclaims",), ("create",)),
    Rule("", ("secrets",), ("create", "update", "delete")),
    Rule("networking.k8s.io", ("networkpolicies",), ("create", "update")),
)


def hub_cluster_role(name: str = HUB_ROLE_NAME) -> JSON:
    """The ClusterRole holding ``HUB_RULES``."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "shuyu"}},
        "rules": [rule.manifest() for rule in HUB_RULES],
    }


def hub_cluster_role_binding(
    service_account: str, namespace: str, *, name: str = HUB_ROLE_NAME
) -> JSON:
    """Binds the ClusterRole ``name`` to the hub's service account (``namespace/service_account``)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "shuyu"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }
