"""One request lifecycle, shared by every request kind.

    draft ─submit→ submitted ─→ checking ─→ in_review ─approve×N→ approved ─download→ released
                                                     ├─reject→ rejected        (an export)
                                                     └─return→ returned
    draft, submitted, checking, in_review, returned ─withdraw→ withdrawn

After approval the production zone acts as the request's kind says (:mod:`hub.kinds`): a job
goes ``approved → running → succeeded | failed``, a model ``approved → published`` (a product), an
import ``approved → imported`` (a dataset of its scenario). A job of a scenario category a
production rule names may be approved by policy (``auto_approve``) when every check passed.

Content is frozen at submit: written once, read-only, to the domain store and SHA-256-hashed;
every approval binds to that hash, and the file is hashed again before an approval counts and
before each download. A requester never reviews; nobody reviews a request of their own tenant;
a request at classification level ≥ ``two_person_level`` needs two distinct approvers; a failing
check blocks approval unless the reviewer overrides it with a written reason. Requests of a
tenant that is not admitted (suspended, revoked, expired) are frozen: nobody may move them.
Every transition is audited in the transaction that makes it.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import admission, audit, kinds
from hub.billing import meter
from hub.billing.meter import MeterKind
from hub.db.models import (
    DataListItem,
    Dataset,
    Decision,
    Request,
    RequestCheck,
    RequestDecision,
    Role,
    Scenario,
    Staff,
    TenantStatus,
)
from hub.i18n import Msg
from hub.refusals import AccessDenied, BadRequest, Conflict, NotFound
from hub.review.checks import FAIL, Finding
from hub.settings import Policy
from hub.store import of as store_of
from sdk.statuses import RequestStatus

S = RequestStatus
DRAFT, SUBMITTED, CHECKING, IN_REVIEW = S.DRAFT, S.SUBMITTED, S.CHECKING, S.IN_REVIEW
APPROVED, REJECTED, RETURNED, WITHDRAWN, RELEASED = (
    S.APPROVED, S.REJECTED, S.RETURNED, S.WITHDRAWN, S.RELEASED,
)  # fmt: skip
RUNNING, SUCCEEDED, FAILED = S.RUNNING, S.SUCCEEDED, S.FAILED  # approved jobs, in production
PUBLISHED, IMPORTED = S.PUBLISHED, S.IMPORTED  # approved models and imports, once in place
OPEN = (DRAFT, SUBMITTED, CHECKING, IN_REVIEW, RETURNED)
STATUSES = tuple(RequestStatus)
PLATFORM = "platform"  # the actor of automated moves
DECISIONS = {"approve": APPROVED, "reject": REJECTED, "return": RETURNED}


def _now() -> datetime:
    return datetime.now(UTC)


def _event(s: Session, request: Request, action: str, actor: str, **details) -> None:
    audit.append(
        s,
        f"request.{action}",
        actor=actor,
        tenant=request.tenant.group,
        object=f"request:{request.id}",
        details={"kind": request.kind, "status": request.status, **details},
    )


def _move(s: Session, request: Request, status: str, actor: str, reason: str = "", **details):
    request.status = status
    request.status_reason = reason or None
    request.updated_at = _now()
    _event(s, request, status, actor, reason=reason, **details)


def get(s: Session, request_id: int) -> Request:
    request = s.get(Request, request_id)
    if request is None:
        raise NotFound(Msg(f"申请不存在：#{request_id}", f"no request #{request_id}"))
    return request


def scenario_level(s: Session, scenario_id: int) -> int:
    """The highest classification level among the datasets the scenario is approved for."""
    levels = s.scalars(
        select(Dataset.level)
        .join(DataListItem, DataListItem.dataset_id == Dataset.id)
        .where(DataListItem.scenario_id == scenario_id, DataListItem.decision == Decision.APPROVED)
    ).all()
    return max(levels, default=1)


def create(
    s: Session,
    *,
    kind: str,
    requester: str,
    tenant_id: int,
    scenario_id: int,
    purpose: str,
    name: str,
    meta: dict | None = None,
    policy: Policy = Policy(),  # noqa: B008 - frozen
) -> Request:
    """A draft request of ``requester`` (already admitted) in one of their tenant's scenarios;
    ``kind`` must be a registered kind (:func:`hub.kinds.get`)."""
    kinds.get(kind)
    purpose = (purpose or "").strip()
    if not 4 <= len(purpose) <= 2000:
        raise BadRequest(
            Msg("请写明用途（4 到 2000 字）", "state the purpose (4 to 2000 characters)"),
            "purpose",
        )
    scenario = s.get(Scenario, scenario_id)
    if scenario is None or scenario.tenant_id != tenant_id:
        raise AccessDenied(
            Msg("场景不属于申请人的单位", "the scenario is not the requester's company's"),
            "other_tenant",
        )
    level = scenario_level(s, scenario_id)
    request = Request(
        kind=kind,
        tenant_id=tenant_id,
        scenario_id=scenario_id,
        requester=requester,
        purpose=purpose,
        status=DRAFT,
        level=level,
        approvals_needed=2 if level >= policy.two_person_level else 1,
        name=(name or kind)[:200],
        meta=meta or {},
    )
    s.add(request)
    s.flush()
    _event(s, request, "create", requester, level=level, approvals_needed=request.approvals_needed)
    return request


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def submit(
    s: Session, request: Request, content: bytes, store: Path, actor: str, suffix: str = ".parquet"
) -> Request:
    """Freeze ``content``: written once and read-only under the domain store, hashed."""
    if request.status != DRAFT:
        raise Conflict(
            Msg(f"申请 #{request.id} 已提交", f"request #{request.id} is already submitted")
        )
    if actor != request.requester:
        raise AccessDenied(Msg("只有申请人能提交", "only the requester submits"), "not_requester")
    sha = hashlib.sha256(content).hexdigest()
    folder = store / "requests" / str(request.id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{sha}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    store_of(store).put(path)  # on S3 the object store holds it; the file stays as its cache
    request.content_path, request.content_sha256 = str(path), sha
    request.content_bytes = len(content)
    request.submitted_at = _now()
    _move(s, request, SUBMITTED, actor, sha256=sha, bytes=len(content))
    return request


def start_checks(s: Session, request: Request) -> None:
    if request.status not in (SUBMITTED, CHECKING):
        raise Conflict(
            Msg(f"申请 #{request.id} 不在待检查状态", f"request #{request.id} awaits no checks")
        )
    if request.status == SUBMITTED:
        _move(s, request, CHECKING, PLATFORM)


def record_checks(s: Session, request: Request, findings: list[Finding], rows: int) -> None:
    """Store the findings (replacing those of an interrupted run) and open the review."""
    for old in list(request.checks):
        s.delete(old)
    for f in findings:
        s.add(
            RequestCheck(
                request=request,
                name=f.name,
                verdict=f.verdict,
                reason=str(f.reason),
                details={**f.details, "seconds": f.seconds},
            )
        )
    request.rows = rows
    verdicts = {f.name: f.verdict for f in findings}
    _move(s, request, IN_REVIEW, PLATFORM, checks=verdicts)


def frozen(request: Request) -> bool:
    """Whether the request's tenant is not admitted today (its open requests are frozen)."""
    problem = admission.agreement_problem(request.tenant, date.today())
    return request.tenant.status != TenantStatus.ACTIVE or problem is not None


def _reviewer(s: Session, username: str, request: Request) -> Staff:
    staff = admission.load_staff(s, username)
    decision = admission.admit(staff, date.today())
    if not decision.allowed:
        raise AccessDenied(decision.reason, decision.code)
    if staff.role != Role.REVIEWER:
        raise AccessDenied(Msg("只有审核员能审核", "only reviewers review"), "not_reviewer")
    if username == request.requester:
        raise AccessDenied(
            Msg("申请人不能审核自己的申请", "a requester never reviews"), "self_review"
        )
    if staff.tenant_id is not None and staff.tenant_id == request.tenant_id:
        raise AccessDenied(
            Msg("不能审核本单位的申请", "nobody reviews a request of their own company"),
            "same_tenant",
        )
    return staff


def decide(
    s: Session,
    request_id: int,
    reviewer: str,
    decision: str,
    reason: str,
    *,
    override: bool = False,
) -> Request:
    """A reviewer approves, rejects or returns a request in review, with a reason."""
    request = get(s, request_id)
    if decision not in DECISIONS:
        raise BadRequest(Msg(f"无效的审核决定：{decision}", f"invalid decision: {decision}"))
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise BadRequest(Msg("请写明理由", "give a reason"), "reason")
    _reviewer(s, reviewer, request)
    if frozen(request):
        raise Conflict(
            Msg(
                "该单位的资格已暂停、撤销或到期，申请已冻结",
                "the company is not admitted; its requests are frozen",
            ),
            "frozen",
        )
    if request.status != IN_REVIEW:
        raise Conflict(Msg(f"申请 #{request.id} 当前为 {request.status}，不能审核",
                           f"request #{request.id} is {request.status}; it cannot be reviewed"))  # fmt: skip
    failing = [c.name for c in request.checks if c.verdict == FAIL]
    if decision == "approve":
        if failing and not override:
            raise Conflict(
                Msg(f"自动检查未通过（{', '.join(failing)}），须写明理由并选择强制通过",
                    f"automated checks failed ({', '.join(failing)}); approving needs an override "
                    "with a written reason"),
                "checks_failed",
            )  # fmt: skip
        if any(d.reviewer == reviewer and d.decision == "approve" for d in request.decisions):
            raise Conflict(Msg("您已批准过该申请，须另一名审核员", "you already approved; a second reviewer must"),
                           "same_reviewer")  # fmt: skip
        if sha256_of(request.content_path) != request.content_sha256:
            _event(s, request, "tampered", reviewer)
            raise Conflict(Msg("申请内容与提交时不一致", "the content differs from what was submitted"),
                           "tampered")  # fmt: skip
    s.add(
        RequestDecision(
            request=request,
            reviewer=reviewer,
            decision=decision,
            reason=reason,
            override=bool(override and failing),
            content_sha256=request.content_sha256,
        )
    )
    s.flush()
    details = {"decision": decision, "sha256": request.content_sha256}
    if override and failing:
        details["override"] = failing
    if decision != "approve":
        _move(s, request, DECISIONS[decision], reviewer, reason, **details)
        return request
    approvers = {
        d.reviewer for d in request.decisions
        if d.decision == "approve" and d.content_sha256 == request.content_sha256
    }  # fmt: skip
    if len(approvers) >= request.approvals_needed:
        _move(s, request, APPROVED, reviewer, reason, approvers=sorted(approvers), **details)
    else:
        _event(s, request, "approve", reviewer, reason=reason,
               approvals=f"{len(approvers)}/{request.approvals_needed}", **details)  # fmt: skip
        request.updated_at = _now()
    return request


def auto_approve(s: Session, request: Request, rule: str) -> bool:
    """Approve ``request`` on the platform's behalf when ``rule`` (a configured policy) allows it
    and every check passed; recorded as a decision of ``platform``. Returns whether it did."""
    if request.status != IN_REVIEW or frozen(request):
        return False
    if any(c.verdict != "pass" for c in request.checks):
        return False
    s.add(
        RequestDecision(
            request=request, reviewer=PLATFORM, decision="approve", reason=rule,
            content_sha256=request.content_sha256,
        )
    )  # fmt: skip
    _move(s, request, APPROVED, PLATFORM, rule, decision="approve", sha256=request.content_sha256)
    return True


def move(s: Session, request: Request, status: str, reason: str = "", **details) -> None:
    """A platform move after approval (a job runs and ends; a model or import is in place)."""
    _move(s, request, status, PLATFORM, reason, **details)


def withdraw(s: Session, request_id: int, actor: str, reason: str = "") -> Request:
    request = get(s, request_id)
    if actor != request.requester:
        raise AccessDenied(Msg("只有申请人能撤回", "only the requester withdraws"), "not_requester")
    if request.status not in OPEN:
        raise Conflict(Msg(f"申请 #{request.id} 当前为 {request.status}，不能撤回",
                           f"request #{request.id} is {request.status}; it cannot be withdrawn"))  # fmt: skip
    _move(s, request, WITHDRAWN, actor, reason)
    return request


def download(s: Session, request_id: int, actor: str) -> tuple[Request, bytes]:
    """The approved content, for its requester only; the file's hash must be the approved one."""
    request = get(s, request_id)
    if actor != request.requester:
        raise AccessDenied(Msg("只有申请人能下载", "only the requester downloads"), "not_requester")
    if not kinds.get(request.kind).downloadable:
        raise Conflict(
            Msg("只有导出申请可以下载", "only export requests are downloaded"), "not_export"
        )
    if request.status not in (APPROVED, RELEASED):
        raise Conflict(Msg(f"申请 #{request.id} 尚未批准（{request.status}）",
                           f"request #{request.id} is not approved ({request.status})"), "not_yet_approved")  # fmt: skip
    content = Path(request.content_path).read_bytes()
    sha = hashlib.sha256(content).hexdigest()
    if sha != request.content_sha256:
        _event(s, request, "tampered", actor)
        raise Conflict(
            Msg("文件与批准的内容不一致", "the file differs from what was approved"), "tampered"
        )
    first = request.status == APPROVED
    if first:
        _move(s, request, RELEASED, actor, sha256=sha)
    else:
        _event(s, request, "download", actor, sha256=sha)
    meter.record(
        s,
        request.tenant_id,
        MeterKind.EXPORT_DOWNLOAD,
        1,
        {"request": request.id, "bytes": len(content), "first": first},
        actor=actor,
        scenario=request.scenario_id,
    )
    return request, content
