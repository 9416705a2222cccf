"""Whose workspace is it: a staff member's tenant, looked up once per spawn by every spawner."""

from __future__ import annotations

import threading
from typing import Any

_DATABASES: dict[str, Any] = {}  # one engine (and connection pool) per DB URL and hub process
_LOCK = threading.Lock()


def tenant_of(db_url: str, username: str) -> tuple[int, str]:
    """``(tenant id, tenant group)`` of a processor staff member, as every spawner finds it.

    Raises:
        RuntimeError: the user is no staff member of a tenant, so has no workspace.
    """
    from hub.admission import load_staff
    from hub.db.engine import Database

    with _LOCK:
        db = _DATABASES.get(db_url) or _DATABASES.setdefault(db_url, Database(db_url))
    with db.session() as s:
        staff = load_staff(s, username)
        if staff is None or staff.tenant is None:
            raise RuntimeError(
                "仅加工使用主体人员有工作空间 / only processor staff of a tenant have a workspace"
            )
        return staff.tenant.id, staff.tenant.group
