"""One workspace policy for every spawner, as plain data.

What a tenant's server sees (mounts), may reach (endpoints), may use (limits) and knows
(environment) is decided here by pure functions. The sandbox, Docker and Kubernetes spawners only
render this decision in their own terms, so the three cannot drift apart, and the policy is tested
as data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

UID_BASE = 200_000  # tenant uids live above every system and login uid
SANDBOX_HOME = "/home/workspace"  # the staff member's home inside the workspace
SANDBOX_SHARED = f"{SANDBOX_HOME}/shared"  # the tenant's shared folder, visible in JupyterLab

# Environment the hub hands a single-user server that it may keep: an allow-list, so a variable the
# hub adds later (or the hub's own environment: database URLs, secrets, paths of the domain store)
# never enters a workspace by default.
KEEP_ENV = frozenset(
    {
        "JUPYTERHUB_API_TOKEN",
        "SHUYU_EXEC_KEY",  # the server's record-signing key (hub.execution_keys); kernels never get it
        "JPY_API_TOKEN",
        "JUPYTERHUB_CLIENT_ID",
        "JUPYTERHUB_HOST",
        "JUPYTERHUB_OAUTH_CALLBACK_URL",
        "JUPYTERHUB_OAUTH_SCOPES",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES",
        "JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES",
        "JUPYTERHUB_USER",
        "JUPYTERHUB_SERVER_NAME",
        "JUPYTERHUB_API_URL",
        "JUPYTERHUB_ACTIVITY_URL",
        "JUPYTERHUB_BASE_URL",
        "JUPYTERHUB_SERVICE_PREFIX",
        "JUPYTERHUB_SERVICE_URL",
        "JUPYTERHUB_PUBLIC_URL",
        "JUPYTERHUB_PUBLIC_HUB_URL",
        "JUPYTERHUB_DEFAULT_URL",
        "JUPYTERHUB_ROOT_DIR",
        "JUPYTERHUB_DEBUG",
        "JUPYTERHUB_SINGLEUSER_APP",
        "JUPYTERHUB_DISABLE_USER_CONFIG",
        "JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED",
    }
)


@dataclass(frozen=True)
class Endpoint:
    """A host service a workspace may reach: the hub API or the data gateway."""

    name: str
    host: str
    port: int


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = True
    kind: str = "system"  # system | home | shared | tmpfs
    size: int = 0  # bytes a tmpfs may hold (0: the runtime's default)


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 2 * 1024**3
    cpus: float = 1.0
    pids: int = 256
    # The private /tmp is memory (tmpfs): bounded on its own, so a full /tmp gives ENOSPC instead
    # of taking the workspace's whole memory limit.
    tmp_bytes: int = 256 * 1024**2


@dataclass(frozen=True)
class Workspace:
    """Everything a spawner needs to start one staff member's server."""

    tenant: str  # the tenant's group, e.g. "tenant-91330106ma2h0a1b2t"
    tenant_id: int
    username: str
    uid: int
    home: str  # host path of the staff member's home
    shared: str  # host path of the tenant's shared folder
    mounts: tuple[Mount, ...]
    env: Mapping[str, str]
    limits: Limits
    endpoints: tuple[Endpoint, ...]
    port: int = 8888
    read_only_root: bool = True
    drop_all_capabilities: bool = True
    no_new_privileges: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)


def tenant_uid(tenant_id: int) -> int:
    """The uid (and gid) of a tenant's servers: one per tenant, never shared across tenants."""
    if tenant_id <= 0:
        raise ValueError("tenant ids are positive")
    return UID_BASE + tenant_id


def tenant_paths(workspaces_root: str, tenant: str, username: str) -> tuple[str, str]:
    """Host paths of a staff member's home and of the tenant's shared folder."""
    for part in (tenant, username):
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", part) or ".." in part:
            raise ValueError(f"unsafe path component {part!r}")
    root = PurePosixPath(workspaces_root) / tenant
    return str(root / "home" / username), str(root / "shared")


def workspace_env(
    hub_env: Mapping[str, str],
    *,
    hub_api_url: str,
    gateway_url: str,
    tenant: str,
    cpus: float = 1.0,
) -> dict[str, str]:
    """The environment of a workspace: the user's own hub credentials and the URLs it needs, nothing else."""
    env = {k: v for k, v in hub_env.items() if k in KEEP_ENV}
    activity = env.get("JUPYTERHUB_ACTIVITY_URL", "")
    if activity:
        # The activity URL points at the hub API; workspaces reach it on the tenant's link.
        env["JUPYTERHUB_ACTIVITY_URL"] = hub_api_url + activity.split("/hub/api", 1)[-1]
    env.update(
        {
            "JUPYTERHUB_API_URL": hub_api_url,
            "SHUYU_GATEWAY_URL": gateway_url,
            "SHUYU_TENANT": tenant,
            "HOME": SANDBOX_HOME,
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1",
            **cpu_env(cpus),
        }
    )
    return env


def cpu_env(cpus: float) -> dict[str, str]:
    """How many cores the science libraries may use: the CPUs the workspace or job is given.
    scikit-learn's process pool (loky) would otherwise look for physical cores with tools a
    sandbox does not run, and print a warning into every notebook cell and job log."""
    return {"LOKY_MAX_CPU_COUNT": str(max(1, int(cpus)))}


def workspace_mounts(
    home: str, shared: str, system: tuple[str, ...], tmp_bytes: int = Limits.tmp_bytes
) -> tuple[Mount, ...]:
    """System paths read-only; the home and the shared folder writable; a private /tmp of at most
    ``tmp_bytes``."""
    mounts = [Mount(p, p, True, "system") for p in system]
    mounts += [
        Mount(home, SANDBOX_HOME, False, "home"),
        Mount(shared, SANDBOX_SHARED, False, "shared"),
        Mount("tmpfs", "/tmp", False, "tmpfs", size=tmp_bytes),
    ]
    return tuple(mounts)


def build_workspace(
    *,
    tenant: str,
    tenant_id: int,
    username: str,
    workspaces_root: str,
    system_paths: tuple[str, ...],
    hub_env: Mapping[str, str],
    hub: Endpoint,
    gateway: Endpoint,
    limits: Limits,
    port: int = 8888,
) -> Workspace:
    """Decide the whole workspace of ``username`` in ``tenant``."""
    home, shared = tenant_paths(workspaces_root, tenant, username)
    hub_api_url = f"http://{hub.host}:{hub.port}/hub/api"
    gateway_url = f"http://{gateway.host}:{gateway.port}"
    return Workspace(
        tenant=tenant,
        tenant_id=tenant_id,
        username=username,
        uid=tenant_uid(tenant_id),
        home=home,
        shared=shared,
        mounts=workspace_mounts(home, shared, system_paths, limits.tmp_bytes),
        env=workspace_env(
            hub_env,
            hub_api_url=hub_api_url,
            gateway_url=gateway_url,
            tenant=tenant,
            cpus=limits.cpus,
        ),
        limits=limits,
        endpoints=(hub, gateway),
        port=port,
    )


def allowed_ports(ws: Workspace) -> tuple[int, ...]:
    """Host ports the workspace may open connections to."""
    return tuple(sorted({e.port for e in ws.endpoints}))
