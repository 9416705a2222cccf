"""Find records by the names people type, with a clear error when there is none."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import Department, Scenario, Staff, Tenant
from hub.i18n import Msg, UserError


def _one(session: Session, model, column, value: str, zh: str, en: str):
    row = session.scalars(select(model).where(column == value)).first()
    if row is None:
        raise UserError(Msg(f"{zh}不存在：{value}", f"unknown {en}: {value}"))
    return row


def tenant(session: Session, name: str) -> Tenant:
    return _one(session, Tenant, Tenant.name, (name or "").strip(), "加工使用主体", "tenant")


def department(session: Session, name: str) -> Department:
    return _one(
        session, Department, Department.name, (name or "").strip(), "数据提供部门", "department"
    )


def staff(session: Session, username: str) -> Staff:
    return _one(session, Staff, Staff.username, (username or "").strip(), "用户", "user")


def scenario(session: Session, tenant_row: Tenant, name: str) -> Scenario:
    row = session.scalars(
        select(Scenario).where(
            Scenario.tenant_id == tenant_row.id, Scenario.name == (name or "").strip()
        )
    ).first()
    if row is None:
        raise UserError(Msg(f"场景不存在：{name}", f"unknown scenario: {name}"))
    return row
