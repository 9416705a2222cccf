"""Who is calling the gateway, and in which of their tenant's scenarios.

Admission is decided again on every call from the platform DB (not from the hub's cached view),
so a suspension, an expired agreement or a disabled account takes effect at the next call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import admission
from hub.access.origin import TenantNetworks
from hub.db.models import DataListItem, Dataset, Decision, Role, Scenario, ScenarioStatus
from hub.i18n import Msg
from hub.refusals import AccessDenied, Ambiguous, NotApproved, NotFound

USABLE = (ScenarioStatus.FILED, ScenarioStatus.APPROVED)
NO_NETWORKS = TenantNetworks()


@dataclass(frozen=True)
class Caller:
    """An admitted processor: their username and their tenant (id and JupyterHub group)."""

    username: str
    tenant_id: int
    tenant: str


def admit(
    session: Session,
    username: str,
    today: date,
    peer: str | None = None,
    networks: TenantNetworks = NO_NETWORKS,
) -> Caller:
    """The caller, admitted today (calling from ``peer``, an address its tenant's network
    must hold if it is in any tenant's), or :class:`AccessDenied` with the reason."""
    staff = admission.load_staff(session, username)
    decision = admission.admit(staff, today)
    if not decision.allowed:
        raise AccessDenied(decision.reason, decision.code)
    if staff.tenant_id is not None:
        networks.check(peer, staff.tenant_id)
    if staff.role != Role.PROCESSOR or staff.tenant is None:
        raise AccessDenied(
            Msg(
                "数据网关只为加工使用主体的人员提供数据",
                "the data gateway serves only staff of processor companies",
            ),
            "not_processor",
        )
    return Caller(username=staff.username, tenant_id=staff.tenant_id, tenant=staff.tenant.group)


def scenarios(session: Session, caller: Caller) -> list[Scenario]:
    """Every scenario of the caller's tenant, oldest first."""
    return list(
        session.scalars(
            select(Scenario).where(Scenario.tenant_id == caller.tenant_id).order_by(Scenario.id)
        )
    )


def _approved_for(session: Session, caller: Caller, dataset: str) -> list[Scenario]:
    return list(
        session.scalars(
            select(Scenario)
            .join(DataListItem, DataListItem.scenario_id == Scenario.id)
            .join(Dataset, DataListItem.dataset_id == Dataset.id)
            .where(
                Scenario.tenant_id == caller.tenant_id,
                Scenario.status.in_(USABLE),
                Dataset.name == dataset,
                DataListItem.decision == Decision.APPROVED,
            )
            .order_by(Scenario.id)
        )
    )


def scenario(
    session: Session, caller: Caller, ref: str | None, dataset: str | None = None
) -> Scenario:
    """The scenario named by ``ref`` (its id or name) among the caller's tenant's; without
    ``ref``, the one scenario of the tenant (holding an approval for ``dataset`` if given)."""
    ref = (ref or "").strip()
    found = _named(session, caller, ref) if ref else _only(session, caller, dataset)
    if found.status not in USABLE:
        raise AccessDenied(
            Msg(
                f"场景 {found.name} 已{'驳回' if found.status == ScenarioStatus.REJECTED else '撤销'}",
                f"scenario {found.name} is {found.status.value}",
            ),
            "scenario_closed",
        )
    return found


def _named(session: Session, caller: Caller, ref: str) -> Scenario:
    if ref.isdigit():
        found = session.get(Scenario, int(ref))
        if found is not None and found.tenant_id != caller.tenant_id:
            raise AccessDenied(
                Msg(f"场景 #{ref} 不属于您的单位", f"scenario #{ref} is not your company's"),
                "other_tenant",
            )
    else:
        found = session.scalars(
            select(Scenario).where(Scenario.tenant_id == caller.tenant_id, Scenario.name == ref)
        ).first()
    if found is None:
        raise NotFound(Msg(f"您的单位没有场景 {ref}", f"your company has no scenario {ref}"))
    return found


def _only(session: Session, caller: Caller, dataset: str | None) -> Scenario:
    if dataset:
        candidates = _approved_for(session, caller, dataset)
        if not candidates:
            raise NotApproved(
                Msg(
                    f"您单位的场景均未获准使用数据集 {dataset}",
                    f"no scenario of your company is approved for dataset {dataset}",
                )
            )
    else:
        candidates = [s for s in scenarios(session, caller) if s.status in USABLE]
        if not candidates:
            raise NotFound(Msg("您的单位没有可用的场景", "your company has no open scenario"))
    if len(candidates) > 1:
        names = ", ".join(f"{s.name} (#{s.id})" for s in candidates)
        raise Ambiguous(
            Msg(f"请指明场景，可选：{names}", f"name a scenario, one of: {names}"),
            "scenario_ambiguous",
        )
    return candidates[0]
