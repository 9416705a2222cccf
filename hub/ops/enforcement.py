"""Who may not keep a workspace today, and agreement reminders.

Admission is checked at every login, spawn and gateway call; a suspension, revocation, early
termination or expiry must also end what is already running. :func:`refused_staff` names every
processor whose admission fails today, with its stable reason code; the enforcer service
(:mod:`hub.web.enforcer`) stops their servers. :func:`reminders` lists the agreements whose
end is 90, 30 or 7 days (or fewer) away, for the tenant's staff and for admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import admission
from hub.db.models import Role, Staff, Tenant, TenantStatus
from hub.i18n import Msg

REMINDER_DAYS = (90, 30, 7)


def refused_staff(s: Session, today: date) -> dict[str, str]:
    """``{username: admission code}`` of every processor not admitted on ``today``."""
    out = {}
    for staff in s.scalars(select(Staff).where(Staff.role == Role.PROCESSOR)):
        decision = admission.admit(staff, today)
        if not decision.allowed:
            out[staff.username] = decision.code
    return out


@dataclass(frozen=True)
class Reminder:
    tenant: str
    group: str
    end: date
    days_left: int
    threshold: int  # the reminder this is: 90, 30 or 7

    @property
    def message(self) -> Msg:
        return Msg(
            f"{self.tenant} 的授权运营协议将于 {self.end} 到期（还剩 {self.days_left} 天），请及时续签",
            f"{self.tenant}'s authorization agreement ends on {self.end} ({self.days_left} days "
            "left): renew it in time",
        )

    def as_dict(self) -> dict:
        return {"tenant": self.tenant, "end": self.end.isoformat(), "days_left": self.days_left,
                "threshold": self.threshold, "message_zh": self.message.zh, "message_en": self.message.en}  # fmt: skip


def reminder_for(tenant: Tenant, today: date) -> Reminder | None:
    """The reminder due for ``tenant`` today, if its agreement in force ends within 90 days and
    no renewal follows it."""
    current = admission.current_agreement(tenant, today)
    if current is None or tenant.status != TenantStatus.ACTIVE:
        return None
    if any(a.renewed_from_id == current.id for a in tenant.agreements):
        return None
    days_left = (current.end - today).days
    due = [d for d in REMINDER_DAYS if days_left <= d]
    if not due:
        return None
    return Reminder(tenant.name, tenant.group, current.end, days_left, min(due))


def reminders(s: Session, today: date) -> list[Reminder]:
    """Every reminder due today, soonest end first (for admins)."""
    found = [reminder_for(t, today) for t in s.scalars(select(Tenant))]
    return sorted((r for r in found if r), key=lambda r: (r.days_left, r.tenant))
