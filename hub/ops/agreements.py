"""Authorization agreements: a 3-year term, renewal and early termination."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hub import audit
from hub.admission import current_agreement
from hub.db.models import Agreement, AgreementStatus, Qualification, Tenant, TenantStatus
from hub.i18n import Msg, UserError
from hub.ops import Ctx, lookup
from hub.validators import check_text

TERM_YEARS = 3


def term_end(start: date, years: int = TERM_YEARS) -> date:
    """The last day of a term of ``years`` starting on ``start`` (29 Feb rolls to 28 Feb)."""
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:
        anniversary = start.replace(year=start.year + years, day=28)
    return anniversary - timedelta(days=1)


def _check_signable(tenant: Tenant) -> None:
    if tenant.status != TenantStatus.ACTIVE:
        raise UserError(
            Msg(
                "该单位已被暂停或撤销，不能签订协议",
                "this tenant is suspended or revoked; no agreement can be signed",
            )
        )
    if tenant.qualification != Qualification.QUALIFIED:
        raise UserError(
            Msg(
                "该单位未通过资格审查，不能签订协议",
                "this tenant has not passed qualification review",
            )
        )


def _overlapping(tenant: Tenant, start: date, end: date) -> Agreement | None:
    for a in tenant.agreements:
        if (
            a.status in (AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED)
            and a.start <= end
            and start <= a.end
        ):
            return a
    return None


def _create(
    ctx: Ctx,
    tenant: Tenant,
    start: date,
    signed: date,
    renewed_from: Agreement | None,
    historical: bool = False,
) -> Agreement:
    end = term_end(start)
    if signed > start:
        raise UserError(
            Msg("签订日期不能晚于生效日期", "the signing date must not be after the start date")
        )
    if end < ctx.today and not historical:
        raise UserError(
            Msg("协议期限已在今天之前结束", "that term would already have ended before today")
        )
    clash = _overlapping(tenant, start, end)
    if clash is not None:
        raise UserError(
            Msg(
                f"与现有协议期限重叠（{clash.start} 至 {clash.end}）",
                f"overlaps the existing agreement {clash.start} to {clash.end}",
            )
        )
    agreement = Agreement(
        tenant=tenant,
        signed_on=signed,
        start=start,
        end=end,
        status=AgreementStatus.EXPIRED if end < ctx.today else AgreementStatus.ACTIVE,
        decided_by=ctx.actor,
        decided_at=datetime.now(UTC),
        renewed_from_id=renewed_from.id if renewed_from else None,
    )
    ctx.session.add(agreement)
    ctx.session.flush()
    audit.append(
        ctx.session,
        "agreement.renew" if renewed_from else "agreement.sign",
        actor=ctx.actor,
        tenant=tenant.group,
        object=f"agreement:{agreement.id}",
        details={
            "start": start,
            "end": end,
            "signed": signed,
            "renewed_from": renewed_from.id if renewed_from else None,
        },
    )
    return agreement


def sign(
    ctx: Ctx,
    tenant_name: str,
    start: date | None = None,
    signed: date | None = None,
    *,
    historical: bool = False,
) -> Agreement:
    """Sign a 3-year agreement; ``historical`` records one whose term already ended (migration, demo)."""
    tenant = lookup.tenant(ctx.session, tenant_name)
    _check_signable(tenant)
    start = start or ctx.today
    return _create(ctx, tenant, start, signed or min(start, ctx.today), None, historical)


def renew(ctx: Ctx, tenant_name: str) -> Agreement:
    """A new 3-year agreement starting the day after the one in force ends."""
    tenant = lookup.tenant(ctx.session, tenant_name)
    _check_signable(tenant)
    current = current_agreement(tenant, ctx.today)
    if current is None:
        raise UserError(
            Msg(
                "没有生效中的协议可续签，请重新签订",
                "no agreement in force to renew; sign a new one",
            )
        )
    if any(a.renewed_from_id == current.id for a in tenant.agreements):
        raise UserError(Msg("该协议已续签", "this agreement has already been renewed"))
    return _create(ctx, tenant, current.end + timedelta(days=1), ctx.today, current)


def terminate(ctx: Ctx, tenant_name: str, reason: str) -> Agreement:
    """Early termination at the tenant's request: the agreement in force ends today."""
    reason = check_text(reason, "reason", "原因", "reason", max_len=500)
    tenant = lookup.tenant(ctx.session, tenant_name)
    current = current_agreement(tenant, ctx.today)
    if current is None:
        raise UserError(Msg("没有生效中的协议可终止", "no agreement in force to terminate"))
    current.status, current.status_reason = AgreementStatus.TERMINATED, reason
    current.decided_by, current.decided_at = ctx.actor, datetime.now(UTC)
    audit.append(
        ctx.session,
        "agreement.terminate",
        actor=ctx.actor,
        tenant=tenant.group,
        object=f"agreement:{current.id}",
        reason=reason,
    )
    return current
