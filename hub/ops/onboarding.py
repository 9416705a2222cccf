"""Onboarding a processor, as the programme lays it down:
信息发布 → 申请提交 → 资格审查 → 专家评审 → 协调小组审定 → 协议签订 → 培训考核.

An admin publishes a notice for a field with its conditions; applications are recorded against it
while it is open; the qualification review ticks every condition of :data:`CHECKLIST` (all must
hold); at least :data:`MIN_EXPERTS` distinct experts score it (0–100); the coordination group
approves (only a qualified application whose mean score reaches :data:`PASS_SCORE`) or rejects,
with a reason; an approved application is signed: the company becomes a qualified tenant with a
3-year agreement, whose staff are then registered and trained (:mod:`hub.ops.staff`). Every step
is audited; a step out of order is refused with the reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from statistics import mean

from sqlalchemy import select

from hub import audit
from hub.db.models import Application, Notice
from hub.i18n import Msg, UserError
from hub.ops import Ctx, agreements, tenants
from hub.validators import check_real_name, check_text, check_uscc

CHECKLIST = {
    "licences": "依法设立、证照齐全 / lawfully established, licences complete",
    "no_major_violation": "近三年无重大违法违规记录 / no major violation in three years",
    "not_dishonest": "未列入失信被执行人名单 / not on the dishonest-entity list",
    "no_tax_violation": "未列入重大税收违法名单 / not on the major tax-violation list",
    "security_officer": "设有数据安全负责人 / a named data-security officer",
    "mlps3": "具备等保三级系统建设运维经验 / MLPS level-3 experience",
    "security_certification": "具备数据安全管理认证 / data-security management certification",
    "dcmm3": "DCMM 或 DSMM 三级及以上 / DCMM or DSMM level 3 or above",
}
MIN_EXPERTS = 3
PASS_SCORE = 60
SUBMITTED, QUALIFIED, UNQUALIFIED, APPROVED, REJECTED, SIGNED = (
    "submitted", "qualified", "unqualified", "approved", "rejected", "signed",
)  # fmt: skip


def _event(ctx: Ctx, action: str, app: Application, **details) -> None:
    app.updated_at = datetime.now(UTC)
    audit.append(ctx.session, f"onboarding.{action}", actor=ctx.actor, object=f"application:{app.id}",
                 details={"company": app.company, "status": app.status, **details})  # fmt: skip


def _get(ctx: Ctx, application_id: int, *expected: str) -> Application:
    app = ctx.session.get(Application, application_id)
    if app is None:
        raise UserError(Msg(f"申请不存在：#{application_id}", f"no application #{application_id}"))
    if app.status not in expected:
        raise UserError(Msg(f"申请 #{app.id} 当前为 {app.status}，不能进行此步骤",
                            f"application #{app.id} is {app.status}; this step does not apply"), "order")  # fmt: skip
    return app


def publish(ctx: Ctx, field: str, title: str, closes_on: date) -> Notice:
    """信息发布: a notice for ``field`` with the programme's conditions, open until ``closes_on``."""
    if closes_on < ctx.today:
        raise UserError(
            Msg("截止日期不能早于今天", "the closing date cannot be before today"), "closes_on"
        )
    notice = Notice(field=check_text(field, "field", "领域", "field", max_len=50),
                    title=check_text(title, "title", "标题", "title", max_len=200),
                    conditions=list(CHECKLIST.values()), closes_on=closes_on, published_by=ctx.actor)  # fmt: skip
    ctx.session.add(notice)
    ctx.session.flush()
    audit.append(ctx.session, "onboarding.notice", actor=ctx.actor, object=f"notice:{notice.id}",
                 details={"field": notice.field, "title": notice.title, "closes_on": closes_on})  # fmt: skip
    return notice


def apply(ctx: Ctx, notice_id: int, company: str, uscc: str, security_officer: str) -> Application:
    """申请提交: a company's application, while the notice is open."""
    notice = ctx.session.get(Notice, notice_id)
    if notice is None or notice.closes_on < ctx.today:
        raise UserError(Msg("公告不存在或已截止", "no such notice, or it has closed"), "notice")
    uscc = check_uscc(uscc)
    if ctx.session.scalars(
        select(Application).where(Application.notice_id == notice_id, Application.uscc == uscc)
    ).first():
        raise UserError(Msg("该单位已就此公告提交申请", "this company has already applied to this notice"), "uscc")  # fmt: skip
    app = Application(notice_id=notice_id, company=check_text(company, "company", "单位名称", "company name"),
                      uscc=uscc, security_officer=check_real_name(security_officer), status=SUBMITTED,
                      checklist={}, scores=[])  # fmt: skip
    ctx.session.add(app)
    ctx.session.flush()
    _event(ctx, "apply", app, uscc=uscc)
    return app


def review_qualification(ctx: Ctx, application_id: int, checklist: dict[str, bool]) -> Application:
    """资格审查: every condition must hold; the missing ones are named."""
    app = _get(ctx, application_id, SUBMITTED, UNQUALIFIED)
    unknown = set(checklist) - set(CHECKLIST)
    if unknown:
        raise UserError(Msg(f"未知的审查项：{', '.join(sorted(unknown))}", f"unknown conditions: {', '.join(sorted(unknown))}"))  # fmt: skip
    app.checklist = {k: bool(checklist.get(k)) for k in CHECKLIST}
    missing = [k for k, ok in app.checklist.items() if not ok]
    app.status = UNQUALIFIED if missing else QUALIFIED
    _event(ctx, "qualification", app, missing=missing)
    return app


def score(ctx: Ctx, application_id: int, expert: str, value: int, comment: str = "") -> Application:
    """专家评审: one score (0–100) per expert."""
    app = _get(ctx, application_id, QUALIFIED)
    expert = check_real_name(expert)
    if not 0 <= value <= 100:
        raise UserError(Msg("评分须在 0–100 之间", "a score is between 0 and 100"), "score")
    if any(s["expert"] == expert for s in app.scores):
        raise UserError(
            Msg(f"专家 {expert} 已评分", f"expert {expert} has already scored"), "expert"
        )
    app.scores = [*app.scores, {"expert": expert, "score": value, "comment": comment[:500]}]
    _event(ctx, "score", app, expert=expert, score=value)
    return app


def decide(ctx: Ctx, application_id: int, approve: bool, reason: str) -> Application:
    """协调小组审定: approval needs a qualified application scored by enough experts, passing."""
    app = _get(ctx, application_id, QUALIFIED)
    reason = check_text(reason, "reason", "理由", "reason", max_len=1000)
    if approve:
        if len(app.scores) < MIN_EXPERTS:
            raise UserError(Msg(f"至少需要 {MIN_EXPERTS} 位专家评分（现有 {len(app.scores)}）",
                                f"at least {MIN_EXPERTS} experts must score ({len(app.scores)} so far)"), "scores")  # fmt: skip
        average = mean(s["score"] for s in app.scores)
        if average < PASS_SCORE:
            raise UserError(Msg(f"专家平均分 {average:.1f} 低于 {PASS_SCORE}", f"the experts' mean {average:.1f} is below {PASS_SCORE}"), "scores")  # fmt: skip
    app.status, app.decision_reason = (APPROVED if approve else REJECTED), reason
    _event(ctx, "decision", app, approve=approve, reason=reason)
    return app


def sign(ctx: Ctx, application_id: int) -> Application:
    """协议签订: the approved company becomes a qualified tenant with a 3-year agreement."""
    app = _get(ctx, application_id, APPROVED)
    tenant = tenants.add(ctx, app.company, app.uscc, "qualified")
    agreement = agreements.sign(ctx, tenant.name)
    app.status, app.tenant_id = SIGNED, tenant.id
    _event(ctx, "sign", app, tenant=tenant.group, agreement=agreement.id)
    return app


def pipeline(ctx: Ctx) -> list[tuple[Notice, list[Application]]]:
    notices = ctx.session.scalars(select(Notice).order_by(Notice.id.desc())).all()
    return [(n, ctx.session.scalars(select(Application).where(Application.notice_id == n.id).order_by(Application.id)).all())
            for n in notices]  # fmt: skip
