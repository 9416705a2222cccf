"""What the administration console's forms do: one table per page, action name → function.

Each function takes the signed-in admin's :class:`~hub.ops.Ctx` and the posted form and calls
:mod:`hub.ops`, which checks and audits the change. It returns a secret to show once (a new
second-factor key) or ``None``. A name not in the table is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from hub.billing import budget
from hub.i18n import Msg, UserError
from hub.ops import Ctx, agreements, onboarding, org, parties, staff, tenants
from hub.refusals import BadRequest
from hub.validators import parse_date

Form = Callable[[str], str]
"""A posted field's value by name ('' when absent)."""
Action = Callable[[Ctx, Form], str | None]


class UnknownAction(BadRequest):
    """The form names an action the page does not have: nothing is changed."""

    code = "unknown_action"

    def __init__(self, name: str):
        super().__init__(Msg(f"未知操作：{name}", f"unknown action: {name}"))


def find(table: Mapping[str, Action], name: str) -> Action:
    """The action called ``name``; :class:`UnknownAction` (400) if the table has none."""
    try:
        return table[name]
    except KeyError:
        raise UnknownAction(name) from None


def _done(_changed: object) -> None:
    """An action's result that is not shown (the changed row): nothing to show once."""
    return None


def _number(form: Form, name: str) -> int:
    try:
        return int(form(name))
    except ValueError:
        raise UserError(Msg(f"{name} 须为整数", f"{name} must be a whole number")) from None


# ---- companies (tenants page) ---------------------------------------------------------------


def _tenant_status(command: str) -> Action:
    def act(ctx: Ctx, form: Form) -> None:
        tenants.change_status(ctx, form("tenant"), command, form("reason"))

    return act


def _set_budget(ctx: Ctx, form: Form) -> None:
    raw = form("amount").strip()
    try:
        amount = None if raw in ("", "none") else Decimal(raw)
    except InvalidOperation:
        raise UserError(Msg(f"金额无效：{raw}", f"not an amount: {raw}")) from None
    budget.set_budget(ctx, form("tenant"), amount)


TENANT_ACTIONS: dict[str, Action] = {
    "suspend": _tenant_status("suspend"),
    "revoke": _tenant_status("revoke"),
    "reinstate": _tenant_status("reinstate"),
    "renew": lambda ctx, form: _done(agreements.renew(ctx, form("tenant"))),
    "terminate": lambda ctx, form: _done(agreements.terminate(ctx, form("tenant"), form("reason"))),
    "budget": _set_budget,
}


# ---- parties (outside organisations' nodes) ------------------------------------------------
# Registering one stays on the CLI (``shuyu party add``): it hands out a private key, which no
# browser page may show.


def _party_status(command: str) -> Action:
    def act(ctx: Ctx, form: Form) -> None:
        parties.change_status(ctx, form("party"), command, form("reason"))

    return act


PARTY_ACTIONS: dict[str, Action] = {
    command: _party_status(command) for command in ("suspend", "resume", "revoke")
}


# ---- staff ----------------------------------------------------------------------------------


def _register(ctx: Ctx, form: Form) -> str:
    new = staff.add(ctx, username=form("username"), real_name=form("real_name"),
                    id_number=form("id_number"), mobile=form("mobile"), role=form("role"),
                    password=form("password"), tenant=form("tenant") or None,
                    department=form("department") or None)  # fmt: skip
    return new.totp_secret


def _set_active(active: bool) -> Action:
    def act(ctx: Ctx, form: Form) -> None:
        staff.set_active(ctx, form("username"), active, form("reason"))

    return act


def _exam(ctx: Ctx, form: Form) -> None:
    try:
        score = int(form("score"))
        pass_mark = int(form("pass_mark") or staff.DEFAULT_PASS_MARK)
    except ValueError:
        raise UserError(Msg("成绩须为整数", "the score must be a whole number")) from None
    course = form("course") or staff.DEFAULT_COURSE
    staff.record_training(ctx, form("username"), score, course=course, pass_mark=pass_mark)


STAFF_ACTIONS: dict[str, Action] = {
    "register": _register,
    "verify": lambda ctx, form: _done(staff.verify(ctx, form("username"))),
    "disable": _set_active(False),
    "enable": _set_active(True),
    "reset_totp": lambda ctx, form: (
        staff.reset_totp(ctx, form("username"), form("reason")).totp_secret
    ),
    "role": lambda ctx, form: _done(
        staff.change_role(ctx, form("username"), form("role"), form("reason"))
    ),
    "exam": _exam,
}


# ---- onboarding (信息发布 → 申请提交 → 资格审查 → 专家评审 → 协调小组审定 → 协议签订) ------


def _publish(ctx: Ctx, form: Form) -> None:
    closes = parse_date(form("closes_on"), "closes_on")
    onboarding.publish(ctx, form("field"), form("title"), closes)


def _apply(ctx: Ctx, form: Form) -> None:
    onboarding.apply(ctx, _number(form, "notice"), form("company"), form("uscc"),
                     form("security_officer"))  # fmt: skip


def _qualify(ctx: Ctx, form: Form) -> None:
    ticked = {k: form(k) == "on" for k in onboarding.CHECKLIST}
    onboarding.review_qualification(ctx, _number(form, "application"), ticked)


def _score(ctx: Ctx, form: Form) -> None:
    onboarding.score(ctx, _number(form, "application"), form("expert"), _number(form, "score"),
                     form("comment"))  # fmt: skip


def _decide(approve: bool) -> Action:
    def act(ctx: Ctx, form: Form) -> None:
        onboarding.decide(ctx, _number(form, "application"), approve, form("reason"))

    return act


ONBOARDING_STEPS: dict[str, Action] = {
    "publish": _publish,
    "apply": _apply,
    "qualify": _qualify,
    "score": _score,
    "approve": _decide(True),
    "reject": _decide(False),
    "sign": lambda ctx, form: _done(onboarding.sign(ctx, _number(form, "application"))),
}


# ---- scenarios ------------------------------------------------------------------------------


def _file_scenario(ctx: Ctx, form: Form) -> None:
    org.add_scenario(ctx, tenant=form("tenant"), name=form("name"), field=form("field"),
                     purpose=form("purpose"), category=form("category"))  # fmt: skip


SCENARIO_ACTIONS: dict[str, Action] = {
    "file": _file_scenario,
    "revoke": lambda ctx, form: _done(
        org.revoke_scenario(ctx, form("tenant"), form("name"), form("reason"))
    ),
}
