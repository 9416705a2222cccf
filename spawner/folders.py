"""The host folders of a workspace, made before any spawner mounts them."""

from __future__ import annotations

import os
from pathlib import Path

from spawner.policy import SANDBOX_HOME, SANDBOX_SHARED, Workspace


def prepare_folders(ws: Workspace) -> None:
    """Create the home (0700) and the tenant's shared folder (0770), owned by the tenant's uid.

    A runtime would make a missing bind source (or a mount point inside the home) itself, owned by
    root and unwritable for the workspace. The shared folder is mounted inside the home, so its
    mount point is made here too, owned by the tenant.
    """
    folders = [(ws.home, 0o700), (ws.shared, 0o770)]
    if SANDBOX_SHARED.startswith(SANDBOX_HOME + "/"):
        folders.append((str(Path(ws.home) / SANDBOX_SHARED[len(SANDBOX_HOME) + 1 :]), 0o770))
    for path, mode in folders:
        Path(path).mkdir(parents=True, exist_ok=True)
        os.chown(path, ws.uid, ws.uid)
        os.chmod(path, mode)
