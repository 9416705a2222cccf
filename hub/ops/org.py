"""Departments (data providers) and scenarios (一场景一清单一审定)."""

from __future__ import annotations

from sqlalchemy import select

from hub import audit
from hub.db.models import Category, Department, Scenario, ScenarioStatus
from hub.i18n import Msg, UserError
from hub.ops import Ctx, lookup
from hub.validators import check_text

# The programme's data fields (section 二) and scenario domains (section 三(四)).
FIELDS = (
    "信用",
    "交通",
    "医疗",
    "卫生",
    "就业",
    "社保",
    "地理",
    "文化",
    "教育",
    "科技",
    "资源",
    "农业",
    "环境",
    "安监",
    "金融",
    "质量",
    "统计",
    "气象",
    "企业登记监管",
    "医疗健康",
    "金融保险",
    "商贸物流",
    "工业制造",
    "社会治理",
    "生态环保",
    "体育",
    "文旅",
    "科研",
)


def add_department(ctx: Ctx, name: str) -> Department:
    name = check_text(name, "name", "部门名称", "department name", max_len=100)
    if ctx.session.scalars(select(Department).where(Department.name == name)).first():
        raise UserError(Msg(f"部门已存在：{name}", f"department {name} already exists"), "name")
    dept = Department(name=name)
    ctx.session.add(dept)
    ctx.session.flush()
    audit.append(ctx.session, "department.add", actor=ctx.actor, object=name)
    return dept


def add_scenario(
    ctx: Ctx, *, tenant: str, name: str, field: str, purpose: str, category: str
) -> Scenario:
    name = check_text(name, "name", "场景名称", "scenario name", max_len=100)
    field = check_text(field, "field", "领域", "field", max_len=50)
    if field not in FIELDS:
        raise UserError(
            Msg(
                f"领域不在授权运营范围内：{field}（可选：{'、'.join(FIELDS)}）",
                f"field {field} is outside the programme (one of {', '.join(FIELDS)})",
            ),
            "field",
        )
    purpose = check_text(purpose, "purpose", "用途", "purpose", max_len=1000)
    try:
        category_ = Category(category)
    except ValueError:
        raise UserError(
            Msg(
                f"场景类别无效：{category}（public-governance 或 industry）",
                f"invalid category: {category} (public-governance or industry)",
            ),
            "category",
        ) from None
    tenant_row = lookup.tenant(ctx.session, tenant)
    if ctx.session.scalars(
        select(Scenario).where(Scenario.tenant_id == tenant_row.id, Scenario.name == name)
    ).first():
        raise UserError(
            Msg(f"该单位已有同名场景：{name}", f"this tenant already has a scenario named {name}"),
            "name",
        )
    scenario = Scenario(
        tenant=tenant_row,
        name=name,
        field=field,
        purpose=purpose,
        category=category_,
        status=ScenarioStatus.FILED,
    )
    ctx.session.add(scenario)
    ctx.session.flush()
    audit.append(
        ctx.session,
        "scenario.add",
        actor=ctx.actor,
        tenant=tenant_row.group,
        object=name,
        details={"field": field, "category": category_.value, "purpose": purpose},
    )
    return scenario


def revoke_scenario(ctx: Ctx, tenant: str, name: str, reason: str) -> Scenario:
    """Revoke a scenario with a reason: its samples, jobs and products stop at once."""
    reason = check_text(reason, "reason", "原因", "reason", max_len=500)
    tenant_row = lookup.tenant(ctx.session, tenant)
    scenario = ctx.session.scalars(
        select(Scenario).where(Scenario.tenant_id == tenant_row.id, Scenario.name == name)
    ).first()
    if scenario is None:
        raise UserError(
            Msg(f"该单位没有场景：{name}", f"this tenant has no scenario {name}"), "name"
        )
    if scenario.status == ScenarioStatus.REVOKED:
        raise UserError(Msg(f"场景 {name} 已撤销", f"scenario {name} is already revoked"), "status")
    scenario.status = ScenarioStatus.REVOKED
    audit.append(ctx.session, "scenario.revoke", actor=ctx.actor, tenant=tenant_row.group,
                 object=f"scenario:{scenario.id}", reason=reason, details={"name": name})  # fmt: skip
    return scenario
