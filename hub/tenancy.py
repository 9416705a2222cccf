"""Whose workspace is it: a staff member's tenant, looked up once per spawn by every spawner.

The spawners import nothing from the platform; ``jupyterhub_config.py`` hands them
:func:`lookup` (``c.TenantSandboxSpawner.tenant_lookup``, the Docker workspace factory).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from hub.admission import load_staff
from hub.db.engine import Database

_DATABASES: dict[str, Database] = {}  # one engine (and connection pool) per DB URL and process
_LOCK = threading.Lock()

TenantLookup = Callable[[str], tuple[int, str]]


def tenant_of(db_url: str, username: str) -> tuple[int, str]:
    """``(tenant id, tenant group)`` of a processor staff member.

    Raises:
        RuntimeError: the user is no staff member of a tenant, so has no workspace.
    """
    with _LOCK:
        db = _DATABASES.get(db_url) or _DATABASES.setdefault(db_url, Database(db_url))
    with db.session() as s:
        staff = load_staff(s, username)
        if staff is None or staff.tenant is None:
            raise RuntimeError(
                "仅加工使用主体人员有工作空间 / only processor staff of a tenant have a workspace"
            )
        return staff.tenant.id, staff.tenant.group


def lookup(db_url: str) -> TenantLookup:
    """The spawners' ``username → (tenant id, tenant group)`` against the platform DB."""

    def tenant(username: str) -> tuple[int, str]:
        return tenant_of(db_url, username)

    return tenant
