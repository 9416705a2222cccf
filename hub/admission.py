"""Admission: who may use the platform today.

One rule set, reused at login, at every spawn, on auth refresh and at every gateway call:

- the staff account is active and real-name verified;
- the staff member has passed the training exam and the result has not expired;
- for processors: the tenant is qualified, neither suspended nor revoked, and holds an agreement
  that is active and within its term.

:func:`admit` is pure over loaded rows so the rules can be tested as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.db.models import (
    Agreement,
    AgreementStatus,
    Qualification,
    Role,
    Staff,
    Tenant,
    TenantStatus,
)
from hub.i18n import Msg

REASONS: dict[str, Msg] = {
    "ok": Msg("准入通过", "admitted"),
    "unknown": Msg("用户名或密码错误", "invalid username or password"),
    "inactive": Msg("账户已停用", "account is disabled"),
    "not_verified": Msg("未完成实名认证", "real-name verification not completed"),
    "training": Msg("培训未通过或已过期", "training not passed or expired"),
    "no_tenant": Msg("账户未关联加工使用主体", "account is not attached to a processor company"),
    "tenant_unqualified": Msg(
        "所属单位未通过资格审查", "your company has not passed qualification review"
    ),
    "tenant_suspended": Msg(
        "所属单位的平台使用资格已暂停", "your company's platform access is suspended"
    ),
    "tenant_revoked": Msg(
        "所属单位的运营授权已撤销", "your company's authorization has been revoked"
    ),
    "agreement_missing": Msg(
        "所属单位没有授权运营协议", "your company has no authorization agreement"
    ),
    "agreement_not_started": Msg(
        "授权运营协议尚未生效", "the authorization agreement has not started yet"
    ),
    "agreement_expired": Msg("授权运营协议已到期", "the authorization agreement has expired"),
    "agreement_terminated": Msg(
        "授权运营协议已终止", "the authorization agreement has been terminated"
    ),
}


@dataclass(frozen=True)
class Admission:
    """An admission decision: ``code`` is stable for tests and audit, ``reason`` is for people."""

    allowed: bool
    code: str

    @property
    def reason(self) -> Msg:
        return REASONS[self.code]


def _deny(code: str) -> Admission:
    return Admission(False, code)


def training_valid(staff: Staff, today: date) -> bool:
    return any(t.passed and t.valid_until >= today for t in staff.training)


def current_agreement(tenant: Tenant, today: date) -> Agreement | None:
    """The tenant's agreement in force today, if any."""
    for a in tenant.agreements:
        if a.status == AgreementStatus.ACTIVE and a.start <= today <= a.end:
            return a
    return None


def agreement_problem(tenant: Tenant, today: date) -> str | None:
    """Why the tenant holds no agreement in force today (``None`` when it does)."""
    if current_agreement(tenant, today):
        return None
    if not tenant.agreements:
        return "agreement_missing"
    latest = max(tenant.agreements, key=lambda a: (a.start, a.id or 0))
    return {
        AgreementStatus.SUSPENDED: "tenant_suspended",
        AgreementStatus.REVOKED: "tenant_revoked",
        AgreementStatus.TERMINATED: "agreement_terminated",
        AgreementStatus.EXPIRED: "agreement_expired",
    }.get(latest.status) or (
        "agreement_not_started" if latest.start > today else "agreement_expired"
    )


def admit(staff: Staff | None, today: date) -> Admission:
    """Decide whether ``staff`` may use the platform on ``today``."""
    if staff is None:
        return _deny("unknown")
    if not staff.active:
        return _deny("inactive")
    if not staff.real_name_verified:
        return _deny("not_verified")
    if not training_valid(staff, today):
        return _deny("training")
    if staff.role == Role.PROCESSOR:
        tenant = staff.tenant
        if tenant is None:
            return _deny("no_tenant")
        if tenant.status == TenantStatus.REVOKED:
            return _deny("tenant_revoked")
        if tenant.status == TenantStatus.SUSPENDED:
            return _deny("tenant_suspended")
        if tenant.qualification != Qualification.QUALIFIED:
            return _deny("tenant_unqualified")
        problem = agreement_problem(tenant, today)
        if problem:
            return _deny(problem)
    return Admission(True, "ok")


def load_staff(session: Session, username: str) -> Staff | None:
    """Load a staff member with everything :func:`admit` reads, in one round of queries."""
    return _load(session, Staff.username == username)


def load_staff_by_subject(session: Session, subject: str) -> Staff | None:
    """The staff member whose record is bound to the identity provider's ``subject``."""
    return _load(session, Staff.oidc_subject == subject)


def _load(session: Session, where) -> Staff | None:
    return session.scalars(
        select(Staff)
        .where(where)
        .options(
            selectinload(Staff.training),
            selectinload(Staff.tenant).selectinload(Tenant.agreements),
        )
    ).first()


def check(session: Session, username: str, today: date | None = None) -> Admission:
    """Load ``username`` and decide admission for today."""
    return admit(load_staff(session, username), today or date.today())
