"""The least privilege of the hub's service account, as a ClusterRole and its binding.

:class:`spawner.kubernetes.TenantKubeSpawner` creates each tenant's namespace on first spawn, so
its rights cannot be confined to namespaces known in advance: they are a ClusterRole bound to the
hub's service account. ``HUB_RULES`` is the one statement of what the hub may do; the spawner's
code needs exactly these calls and nothing else:

* KubeSpawner itself: pods create/delete/list/watch (start, stop, its pod reflector) and
  events list/watch (its event reflector), in the tenant's namespace.
* ``ensure_tenant_objects``: namespaces create/patch; networkpolicies create/update (replace);
  persistentvolumeclaims create (claims are never replaced).
* ``ensure_token_secret``, before each attempt to create the pod: secrets create/update.
* ``stop``: secrets delete (the token dies with the server).

Not granted, on purpose: reading secrets (the hub writes tokens, it never reads one back), pods'
exec/attach/portforward/log, nodes, anything cluster-scoped beyond namespaces, RBAC objects.
RBAC cannot limit names by prefix: on a real cluster, an admission policy should keep these
rights to ``shuyu-*`` namespaces (see docs/kubernetes.md).

The production service runs approved jobs (:func:`spawner.kubernetes_job.render_job`) in the
production namespace only: ``PRODUCTION_RULES``, a Role there, lets it create each job's
NetworkPolicy and Job, follow the Job and read its pod's log, and delete both when done.
"""

from __future__ import annotations

from dataclasses import dataclass

from spawner.kubernetes import JSON

HUB_ROLE_NAME = "shuyu-hub"
PRODUCTION_ROLE_NAME = "shuyu-production"
_PART_OF = {"app.kubernetes.io/part-of": "shuyu"}


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

PRODUCTION_RULES: tuple[Rule, ...] = (
    Rule("batch", ("jobs",), ("create", "get", "list", "watch", "delete")),
    Rule("networking.k8s.io", ("networkpolicies",), ("create", "delete")),
    Rule("", ("pods",), ("get", "list", "watch")),
    Rule("", ("pods/log",), ("get",)),
    # A Spark job's per-run Secret (its cluster's shared secret) and Service (its master), made
    # and deleted, never read back (:mod:`spawner.kubernetes_spark`).
    Rule("", ("secrets",), ("create", "delete")),
    Rule("", ("services",), ("create", "delete")),
)


def hub_cluster_role(name: str = HUB_ROLE_NAME) -> JSON:
    """The ClusterRole holding ``HUB_RULES``."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": dict(_PART_OF)},
        "rules": [rule.manifest() for rule in HUB_RULES],
    }


def hub_cluster_role_binding(
    service_account: str, namespace: str, *, name: str = HUB_ROLE_NAME
) -> JSON:
    """Binds the ClusterRole ``name`` to the hub's service account (``namespace/service_account``)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(_PART_OF)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def production_role(namespace: str, name: str = PRODUCTION_ROLE_NAME) -> JSON:
    """The Role holding ``PRODUCTION_RULES`` in the production namespace ``namespace``."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(_PART_OF)},
        "rules": [rule.manifest() for rule in PRODUCTION_RULES],
    }


def production_role_binding(
    service_account: str,
    account_namespace: str,
    namespace: str,
    *,
    name: str = PRODUCTION_ROLE_NAME,
) -> JSON:
    """Binds the Role ``name`` of ``namespace`` to the production service's account."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(_PART_OF)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account, "namespace": account_namespace}
        ],
    }
