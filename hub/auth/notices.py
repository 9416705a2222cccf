"""Notices on the hub's pages: agreement reminders 90, 30 and 7 days before expiry.

``c.JupyterHub.template_vars["announcement"]`` is a callable of the signed-in user (JupyterHub
renders it on every page, unescaped, so the text is escaped here): a processor sees their
company's reminder, an admin how many agreements need renewing and the nearest.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from datetime import date
from typing import Any

from hub.db.models import Role

_DATABASES: dict[str, Any] = {}
_LOCK = threading.Lock()


def _db(url: str):
    from hub.db.engine import Database

    with _LOCK:
        return _DATABASES.get(url) or _DATABASES.setdefault(url, Database(url, upgrade=False))


def notice_for(db_url: str, username: str, today: date | None = None) -> str:
    """The reminder text for ``username`` (empty when none is due), HTML-escaped."""
    from hub.admission import load_staff
    from hub.ops.enforcement import reminder_for, reminders

    today = today or date.today()
    with _db(db_url).session() as s:
        staff = load_staff(s, username)
        if staff is None:
            return ""
        if staff.role == Role.PROCESSOR and staff.tenant is not None:
            found = reminder_for(staff.tenant, today)
            return html.escape(f"{found.message.zh} / {found.message.en}") if found else ""
        if staff.role == Role.ADMIN:
            due = reminders(s, today)
            if not due:
                return ""
            first = due[0]
            return html.escape(
                f"{len(due)} 份协议将在 90 天内到期，最近：{first.tenant}（{first.end}）/ "
                f"{len(due)} agreements end within 90 days; the nearest: {first.tenant} ({first.end})"
            )
    return ""


def announcement(db_url: str) -> Callable[[Any], str]:
    """The ``announcement`` template variable: a callable of the signed-in user."""

    def render(user) -> str:
        if user is None:
            return ""
        try:
            return notice_for(db_url, user.name)
        except Exception:  # noqa: BLE001 - a notice must never break a page
            return ""

    return render
