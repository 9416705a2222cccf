"""Administrative operations shared by the CLI and the admin console.

Each operation validates its input, raises :class:`hub.i18n.UserError` before writing anything
when the input is bad, writes in the caller's transaction and appends its audit event there, so
the change and its record commit together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session


@dataclass
class Ctx:
    """Who is acting, in which transaction, on which day."""

    session: Session
    actor: str
    pepper: bytes = b""
    today: date = field(default_factory=date.today)
