"""The hub's side of ``TenantDockerSpawner``: whose server it is, and the workspace it gets.

``spawner.docker`` only renders a :class:`~spawner.policy.Workspace`; finding the user's tenant
needs the platform DB, which stays out of it. The hub config plugs :func:`workspace_factory` into
``TenantDockerSpawner.workspace_factory``. The decision is the sandbox spawner's: the same tenant
lookup, the same ``build_workspace``, the hub API and the gateway as the only endpoints, on the
host's address of the tenant's own network (where the sandbox uses its tenant link).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from spawner.policy import Endpoint, Limits, Workspace, build_workspace

CHECKOUT = Path(__file__).resolve().parent.parent
# Where the production image (kernels/Dockerfile) installs the kernel-side package.
IMAGE_KERNELS = "/usr/local/lib/python3.11/site-packages/kernels"


def server_setup(own_python: bool) -> tuple[list[str], tuple[str, ...] | None, dict[str, str]]:
    """Command, host system paths (``None``: :func:`default_system_paths`) and environment of a
    workspace container. The offline test image holds no Python and mounts the host's read-only,
    as the sandbox does; the production image (``own_python``) brings its own and gets nothing of
    the host but the staff member's home and the tenant's shared folder.

    The server starts under :mod:`kernels.reaper`, the container's pid 1 (Docker's own init would
    hold the server's signing key in a dumpable process)."""
    if own_python:
        kernels, python, server, paths = IMAGE_KERNELS, "python", "jupyterhub-singleuser", ()
    else:
        kernels, python = str(CHECKOUT / "kernels"), sys.executable
        server, paths = str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser"), None
    env = {"JUPYTER_CONFIG_PATH": f"{kernels}/jupyter_config", "PYTHONPATH": f"{kernels}/shims"}
    init = [python, "-I", "-S", f"{kernels}/reaper.py"]
    return [*init, server, f"--config={kernels}/jupyter_server_config.py"], paths, env


def default_system_paths() -> tuple[str, ...]:
    """Host paths a workspace sees read-only, as in the sandbox: the system, the Python and its
    environment, and the checkout's kernel-side packages (not the hub's code)."""
    paths = ["/usr", sys.base_prefix, sys.prefix, str(CHECKOUT / "sdk"), str(CHECKOUT / "kernels")]
    return tuple(dict.fromkeys(p for p in paths if p))


def workspace_factory(
    *,
    tenant_lookup: Callable[[str], tuple[int, str]],
    workspaces_root: str,
    hub_port: int,
    gateway_port: int,
    system_paths: tuple[str, ...] | None = None,
    env: Mapping[str, str] | None = None,
) -> Callable[[Any], Workspace]:
    """A ``TenantDockerSpawner.workspace_factory`` deciding each server's workspace.

    Args:
        tenant_lookup: username → (tenant id, tenant group), the platform's
            (:func:`hub.tenancy.lookup`).
        workspaces_root: host folder holding tenant homes and shared folders.
        hub_port: port of the hub API on the host (bound on every address, the tenant network's
            gateway among them).
        gateway_port: port of the data gateway on the host.
        system_paths: host paths mounted read-only (default :func:`default_system_paths`).
        env: variables added to the workspace's environment (the server's own configuration,
            e.g. ``JUPYTER_CONFIG_PATH``); the hub's environment still passes only through the
            policy's allow-list.
    """
    paths = tuple(system_paths) if system_paths is not None else default_system_paths()
    extra = dict(env or {})

    def factory(spawner: Any) -> Workspace:
        tenant_id, tenant = tenant_lookup(spawner.user.name)
        host = spawner.gateway_of(tenant_id)
        defaults = Limits()
        ws = build_workspace(
            tenant=tenant,
            tenant_id=tenant_id,
            username=spawner.user.name,
            workspaces_root=workspaces_root,
            system_paths=paths,
            hub_env={},  # the spawn's own variables are filtered in at container creation
            hub=Endpoint("hub", host, hub_port),
            gateway=Endpoint("gateway", host, gateway_port),
            limits=Limits(
                memory_bytes=int(spawner.mem_limit or defaults.memory_bytes),
                cpus=float(spawner.cpu_limit or defaults.cpus),
                pids=int(spawner.pids_limit or defaults.pids),
                tmp_bytes=int(spawner.tmp_quota or defaults.tmp_bytes),
            ),
            port=spawner.port,
        )
        return replace(ws, env={**ws.env, **extra}) if extra else ws

    return factory
