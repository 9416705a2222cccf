"""The host folders of a workspace, made before any spawner mounts them.

With ``Quotas`` the home and the tenant's shared folder are each a file system of their own
(:mod:`spawner.volumes`): a preallocated image per staff member and one per tenant under
``Quotas.root``, so a workspace filling its home gets ENOSPC instead of filling the disk that
holds the platform DB and the audit trail, and sees only its own free-block counts there (never a
job's). The images persist, and so do the homes, across server restarts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spawner import volumes
from spawner.policy import SANDBOX_HOME, SANDBOX_SHARED, Workspace


@dataclass(frozen=True)
class Quotas:
    """Where the images live and how large they are (bytes)."""

    root: Path
    home_bytes: int
    shared_bytes: int


def workspace_volumes(ws: Workspace, quotas: Quotas) -> tuple[volumes.Volume, volumes.Volume]:
    """The home's volume (one per staff member) and the shared folder's (one per tenant)."""
    home = volumes.Volume(
        image=quotas.root / "homes" / ws.tenant / f"{ws.username}.img",
        mountpoint=Path(ws.home),
        size=quotas.home_bytes,
        uid=ws.uid,
        gid=ws.uid,
        mode=0o700,
    )
    shared = volumes.Volume(
        image=quotas.root / "shared" / f"{ws.tenant}.img",
        mountpoint=Path(ws.shared),
        size=quotas.shared_bytes,
        uid=ws.uid,
        gid=ws.uid,
        mode=0o770,
    )
    return home, shared


def prepare_folders(ws: Workspace, quotas: Quotas | None = None) -> list[Path]:
    """Create the home (0700) and the tenant's shared folder (0770), owned by the tenant's uid;
    with ``quotas``, mount each on its own volume first. Returns the mount points used.

    A runtime would make a missing bind source (or a mount point inside the home) itself, owned by
    root and unwritable for the workspace. The shared folder is mounted inside the home, so its
    mount point is made here too (inside the mounted home), owned by the tenant.
    """
    mounted: list[Path] = []
    if quotas is not None:
        for volume in workspace_volumes(ws, quotas):
            volumes.mount(volume)
            mounted.append(volume.mountpoint)
    folders = [(ws.home, 0o700), (ws.shared, 0o770)]
    if SANDBOX_SHARED.startswith(SANDBOX_HOME + "/"):
        folders.append((str(Path(ws.home) / SANDBOX_SHARED[len(SANDBOX_HOME) + 1 :]), 0o770))
    for path, mode in folders:
        Path(path).mkdir(parents=True, exist_ok=True)
        os.chown(path, ws.uid, ws.uid)
        os.chmod(path, mode)
    return mounted
