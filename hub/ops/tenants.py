"""Tenants (processor companies) and their status: suspend, revoke, reinstate."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from hub import audit
from hub.db.models import AgreementStatus, Qualification, Tenant, TenantStatus
from hub.i18n import Msg, UserError
from hub.ops import Ctx, lookup
from hub.validators import check_text, check_uscc


def add(ctx: Ctx, name: str, uscc: str, qualification: str = "qualified") -> Tenant:
    name = check_text(name, "name", "单位名称", "company name")
    uscc = check_uscc(uscc)
    try:
        qual = Qualification(qualification)
    except ValueError:
        raise UserError(
            Msg(f"资格状态无效：{qualification}", f"invalid qualification status: {qualification}")
        ) from None
    s = ctx.session
    if s.scalars(select(Tenant).where(Tenant.name == name)).first():
        raise UserError(
            Msg(f"单位名称已存在：{name}", f"a tenant named {name} already exists"), "name"
        )
    if s.scalars(select(Tenant).where(Tenant.uscc == uscc)).first():
        raise UserError(
            Msg(f"统一社会信用代码已登记：{uscc}", f"credit code {uscc} is already registered"),
            "uscc",
        )
    tenant = Tenant(name=name, uscc=uscc, qualification=qual, status=TenantStatus.ACTIVE)
    s.add(tenant)
    s.flush()
    audit.append(
        s,
        "tenant.add",
        actor=ctx.actor,
        tenant=tenant.group,
        object=name,
        details={"uscc": uscc, "qualification": qual.value},
    )
    return tenant


# command -> (allowed current statuses, new tenant status, agreement statuses affected, new agreement status)
_TRANSITIONS = {
    "suspend": (
        {TenantStatus.ACTIVE},
        TenantStatus.SUSPENDED,
        {AgreementStatus.ACTIVE},
        AgreementStatus.SUSPENDED,
    ),
    "revoke": (
        {TenantStatus.ACTIVE, TenantStatus.SUSPENDED},
        TenantStatus.REVOKED,
        {AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED},
        AgreementStatus.REVOKED,
    ),
    "reinstate": (
        {TenantStatus.SUSPENDED},
        TenantStatus.ACTIVE,
        {AgreementStatus.SUSPENDED},
        AgreementStatus.ACTIVE,
    ),
}

_REFUSALS = {
    "suspend": Msg("只能暂停处于正常状态的单位", "only an active tenant can be suspended"),
    "revoke": Msg("该单位的授权已撤销", "this tenant's authorization is already revoked"),
    "reinstate": Msg(
        "只能恢复已暂停的单位；已撤销的授权须重新申请",
        "only a suspended tenant can be reinstated; a revoked one must apply again",
    ),
}


def change_status(ctx: Ctx, name: str, command: str, reason: str) -> Tenant:
    """Suspend, revoke or reinstate a tenant and its agreement in force, with a reason."""
    reason = check_text(reason, "reason", "原因", "reason", max_len=500)
    tenant = lookup.tenant(ctx.session, name)
    allowed_from, new_status, agreement_from, agreement_to = _TRANSITIONS[command]
    if tenant.status not in allowed_from:
        raise UserError(_REFUSALS[command])
    now = datetime.now(UTC)
    old = tenant.status
    tenant.status, tenant.status_reason, tenant.status_by, tenant.status_at = (
        new_status,
        reason,
        ctx.actor,
        now,
    )
    changed = []
    for agreement in tenant.agreements:
        if agreement.status in agreement_from and agreement.end >= ctx.today:
            agreement.status = agreement_to
            agreement.status_reason, agreement.decided_by, agreement.decided_at = (
                reason,
                ctx.actor,
                now,
            )
            changed.append(agreement.id)
    audit.append(
        ctx.session,
        f"tenant.{command}",
        actor=ctx.actor,
        tenant=tenant.group,
        object=tenant.name,
        reason=reason,
        details={"from": old.value, "to": new_status.value, "agreements": changed},
    )
    return tenant
