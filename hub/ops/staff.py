"""Staff: registration with real-name data, verification, training results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub import audit
from hub.auth import credentials
from hub.db.models import Role, Staff, TrainingRecord
from hub.i18n import Msg, UserError
from hub.ops import Ctx, lookup
from hub.validators import (
    check_mobile,
    check_real_name,
    check_resident_id,
    check_text,
    check_username,
)

DEFAULT_COURSE = "公共数据授权运营安全培训"
DEFAULT_PASS_MARK = 80
DEFAULT_VALID_DAYS = 365


@dataclass
class NewStaff:
    staff: Staff
    totp_secret: str
    provisioning_uri: str


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise UserError(
            Msg(
                f"角色无效：{value}（可选：{choices}）", f"invalid role: {value} (one of {choices})"
            ),
            "role",
        ) from None


def _check_password(password: str) -> str:
    if len(password or "") < credentials.MIN_PASSWORD:
        raise UserError(
            Msg(
                f"密码至少 {credentials.MIN_PASSWORD} 位",
                f"password must have at least {credentials.MIN_PASSWORD} characters",
            ),
            "password",
        )
    return password


def add(
    ctx: Ctx,
    *,
    username: str,
    real_name: str,
    id_number: str,
    mobile: str,
    role: str,
    password: str,
    tenant: str | None = None,
    department: str | None = None,
) -> NewStaff:
    """Register a staff member; returns the new TOTP secret to hand over once."""
    username = check_username(username)
    real_name = check_real_name(real_name)
    id_number = check_resident_id(id_number)
    mobile = check_mobile(mobile)
    role_ = _role(role)
    _check_password(password)
    s = ctx.session
    tenant_row = department_row = None
    if role_ == Role.PROCESSOR:
        if not tenant or department:
            raise UserError(
                Msg(
                    "加工人员须指定所属单位（--tenant），不能指定部门",
                    "a processor needs --tenant and no --department",
                )
            )
        tenant_row = lookup.tenant(s, tenant)
    elif role_ == Role.PROVIDER:
        if not department or tenant:
            raise UserError(
                Msg(
                    "数据提供部门人员须指定部门（--department），不能指定单位",
                    "a provider needs --department and no --tenant",
                )
            )
        department_row = lookup.department(s, department)
    elif tenant or department:
        raise UserError(
            Msg(
                f"{role_.value} 角色不属于单位或部门",
                f"the {role_.value} role belongs to no tenant or department",
            )
        )
    if s.scalars(select(Staff).where(Staff.username == username)).first():
        raise UserError(
            Msg(f"用户名已存在：{username}", f"username {username} already exists"), "username"
        )
    id_hash = credentials.id_number_hash(ctx.pepper, id_number)
    if s.scalars(select(Staff).where(Staff.id_hash == id_hash)).first():
        raise UserError(
            Msg("该身份证号已登记", "this resident ID number is already registered"), "id_number"
        )
    secret = credentials.new_totp_secret()
    staff = Staff(
        username=username,
        real_name=real_name,
        id_hash=id_hash,
        id_last4=id_number[-4:],
        mobile=mobile,
        role=role_,
        tenant=tenant_row,
        department=department_row,
        active=True,
        real_name_verified=False,
        password_hash=credentials.hash_password(password),
        totp_secret=secret,
    )
    s.add(staff)
    s.flush()
    audit.append(
        s,
        "staff.add",
        actor=ctx.actor,
        tenant=tenant_row.group if tenant_row else "",
        object=username,
        details={
            "role": role_.value,
            "real_name": real_name,
            "id_last4": id_number[-4:],
            "department": department_row.name if department_row else None,
        },
    )
    return NewStaff(staff, secret, credentials.provisioning_uri(secret, username))


def _group(staff: Staff) -> str:
    return staff.tenant.group if staff.tenant else ""


def verify(ctx: Ctx, username: str) -> Staff:
    """Mark a staff member's real name as verified (实名认证)."""
    staff = lookup.staff(ctx.session, username)
    if staff.real_name_verified:
        raise UserError(Msg(f"{username} 已完成实名认证", f"{username} is already verified"))
    staff.real_name_verified, staff.verified_by, staff.verified_at = (
        True,
        ctx.actor,
        datetime.now(UTC),
    )
    audit.append(
        ctx.session, "staff.verify", actor=ctx.actor, tenant=_group(staff), object=username
    )
    return staff


def record_training(
    ctx: Ctx,
    username: str,
    score: int,
    *,
    course: str = DEFAULT_COURSE,
    pass_mark: int = DEFAULT_PASS_MARK,
    valid_days: int = DEFAULT_VALID_DAYS,
) -> TrainingRecord:
    """Record an exam result; it counts as passed when ``score >= pass_mark``."""
    course = check_text(course, "course", "课程", "course")
    for value, zh, en in ((score, "成绩", "score"), (pass_mark, "及格线", "pass mark")):
        if not 0 <= value <= 100:
            raise UserError(Msg(f"{zh}须在 0–100 之间", f"{en} must be between 0 and 100"))
    if valid_days < 1:
        raise UserError(Msg("有效天数须为正数", "validity must be a positive number of days"))
    staff = lookup.staff(ctx.session, username)
    record = TrainingRecord(
        staff=staff,
        course=course,
        score=score,
        pass_mark=pass_mark,
        passed=score >= pass_mark,
        valid_until=ctx.today + timedelta(days=valid_days),
    )
    ctx.session.add(record)
    ctx.session.flush()
    audit.append(
        ctx.session,
        "training.record",
        actor=ctx.actor,
        tenant=_group(staff),
        object=username,
        outcome="ok",
        details={
            "course": course,
            "score": score,
            "pass_mark": pass_mark,
            "passed": record.passed,
            "valid_until": record.valid_until,
        },
    )
    return record


def set_active(ctx: Ctx, username: str, active: bool, reason: str) -> Staff:
    """Disable (or enable again) an account, with a reason; a disabled account is refused at
    once everywhere (login, spawn, gateway) and its servers are stopped by the enforcer."""
    reason = check_text(reason, "reason", "原因", "reason", max_len=500)
    staff = lookup.staff(ctx.session, username)
    if staff.active == active:
        raise UserError(Msg(f"{username} 已是{'启用' if active else '停用'}状态",
                            f"{username} is already {'enabled' if active else 'disabled'}"))  # fmt: skip
    staff.active = active
    audit.append(ctx.session, "staff.enable" if active else "staff.disable", actor=ctx.actor,
                 tenant=_group(staff), object=username, reason=reason)  # fmt: skip
    return staff


def reset_totp(ctx: Ctx, username: str, reason: str) -> NewStaff:
    """A new second-factor secret (the old one stops working); shown once to enrol again."""
    reason = check_text(reason, "reason", "原因", "reason", max_len=500)
    staff = lookup.staff(ctx.session, username)
    secret = credentials.new_totp_secret()
    staff.totp_secret, staff.totp_last_step = secret, None
    audit.append(ctx.session, "staff.totp_reset", actor=ctx.actor, tenant=_group(staff),
                 object=username, reason=reason)  # fmt: skip
    return NewStaff(staff, secret, credentials.provisioning_uri(secret, username))


def change_role(ctx: Ctx, username: str, role: str, reason: str) -> Staff:
    """Move a platform-side account between reviewer, admin and auditor (processors belong to a
    company and providers to a department: they are registered anew)."""
    reason = check_text(reason, "reason", "原因", "reason", max_len=500)
    staff = lookup.staff(ctx.session, username)
    new = _role(role)
    movable = (Role.REVIEWER, Role.ADMIN, Role.AUDITOR)
    if staff.role not in movable or new not in movable:
        raise UserError(Msg("只能在审核员、管理员、审计员之间变更角色",
                            "roles change only among reviewer, admin and auditor"), "role")  # fmt: skip
    old, staff.role = staff.role, new
    audit.append(ctx.session, "staff.role", actor=ctx.actor, tenant="", object=username, reason=reason,
                 details={"from": old.value, "to": new.value})  # fmt: skip
    return staff


def bind_subject(ctx: Ctx, username: str, subject: str | None, reason: str) -> Staff:
    """Bind the unified identity provider's subject (``sub``) to a staff record, or unbind it
    (``subject=None``) so that another provider account can be bound; audited with a reason."""
    reason = check_text(reason, "reason", "原因", "reason", max_len=500)
    staff = lookup.staff(ctx.session, username)
    if subject is not None:
        subject = check_text(subject, "subject", "统一身份标识", "subject", max_len=255)
        holder = ctx.session.scalars(select(Staff).where(Staff.oidc_subject == subject)).first()
        if holder is not None and holder.id != staff.id:
            raise UserError(Msg(f"该统一身份标识已绑定到 {holder.username}",
                                f"the subject is already bound to {holder.username}"), "subject")  # fmt: skip
    old, staff.oidc_subject = staff.oidc_subject, subject
    audit.append(ctx.session, "staff.oidc_bind" if subject else "staff.oidc_unbind",
                 actor=ctx.actor, tenant=_group(staff), object=username, reason=reason,
                 details={"from": old, "to": subject})  # fmt: skip
    return staff
