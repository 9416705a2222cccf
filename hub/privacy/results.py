"""What comes out of a computation, before anyone sees it: the export checks on its result.

- a **stats** table (group columns, ``count``, ``<agg>_<column>``) goes through the statistical
  disclosure checks (:mod:`hub.review.checks`: minimum cell count, dominance recomputed from the
  raw public records, PII) — a measure over the party's columns cannot be recomputed from data
  the platform holds, so it is withheld for a reviewer (deny by default);
- a **psi** size must reach the minimum cell count (a tiny intersection singles people out);
- a **train** result must be a finite model of the approved features, fitted on at least the
  minimum cell count of rows.

What passes is released to the tenant; what does not is held for a reviewer
(:func:`release`), as a job's flagged metrics are (:mod:`hub.production.held`).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from hub import audit
from hub.db.models import Request
from hub.i18n import Msg
from hub.refusals import BadRequest, Conflict
from hub.review import lifecycle
from hub.review.checks import FAIL, PASS, Context, Finding, Limits, RawSource, run_all
from privacy.spec import Computation

TABLE_CHECKS = ["pii_scan", "sdc", "limits"]


def frame_of(result: dict[str, Any]) -> pd.DataFrame:
    """A stats result as a table."""
    return pd.DataFrame(result.get("rows") or [], columns=list(result.get("columns") or []))


def _psi(result: dict, limits: Limits) -> list[Finding]:
    size = result.get("intersection_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return [
            Finding("result", FAIL, Msg("交集大小无法识别", "the intersection size is unreadable"))
        ]
    if 0 < size < limits.min_count:
        return [Finding("min_size", FAIL, Msg(
            f"交集只有 {size} 条（少于 {limits.min_count}）", f"the intersection holds only {size} "
            f"(fewer than {limits.min_count})"), {"size": size})]  # fmt: skip
    return [
        Finding("min_size", PASS, Msg(f"交集 {size} 条", f"intersection of {size}"), {"size": size})
    ]


def _train(spec: Computation, result: dict, limits: Limits) -> list[Finding]:
    problems = []
    features = list(spec.params.get("features") or [])
    metrics = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    rows = metrics.get("rows")
    if list(result.get("features") or []) != features:
        problems.append(("特征与批准的不一致", "the features differ from the approved ones"))
    if result.get("model") == "logistic":
        coef = result.get("coef")
        numbers = [*(coef if isinstance(coef, list) else [None]), result.get("intercept")]
        if not isinstance(coef, list) or len(coef) != len(features):
            problems.append(("系数个数与特征不符", "the coefficients do not match the features"))
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers):
            problems.append(("系数不是有限数值", "the coefficients are not finite numbers"))
    elif result.get("model") != "xgboost":
        problems.append(("模型类型无法识别", "the model kind is unreadable"))
    if not isinstance(rows, int) or rows < limits.min_count:
        problems.append(
            (f"训练行数少于 {limits.min_count}", f"fitted on fewer than {limits.min_count} rows")
        )
    if problems:
        return [
            Finding(
                "model",
                FAIL,
                Msg("；".join(p[0] for p in problems), "; ".join(p[1] for p in problems)),
            )
        ]
    return [Finding("model", PASS, Msg(f"模型基于 {rows} 行，系数有限", f"a finite model fitted on {rows} rows"))]  # fmt: skip


def screen(
    spec: Computation, result: dict[str, Any], limits: Limits, raw: tuple[RawSource, ...]
) -> list[Finding]:
    """The export checks' findings on a computation's result (rank 0's)."""
    if not isinstance(result, dict):
        return [Finding("result", FAIL, Msg("结果无法识别", "the result is unreadable"))]
    if spec.kind == "psi":
        return _psi(result, limits)
    if spec.kind == "train":
        return _train(spec, result, limits)
    frame = frame_of(result)
    return run_all(
        frame, Context(limits=limits, raw=raw, table={"counts": ["count"]}), TABLE_CHECKS
    )


def release(s: Session, request_id: int, reviewer: str, reason: str) -> Request:
    """A reviewer releases a held result to its tenant, with a reason (the rules of a review
    decision apply: a reviewer, admitted, of another company, not the requester); audited."""
    request = lifecycle.get(s, request_id)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise BadRequest(Msg("请写明理由", "give a reason"), "reason")
    lifecycle._reviewer(s, reviewer, request)
    if lifecycle.frozen(request):
        raise Conflict(Msg("该单位的资格已暂停、撤销或到期，申请已冻结",
                           "the company is not admitted; its requests are frozen"), "frozen")  # fmt: skip
    run = dict(request.meta.get("run") or {})
    if request.kind != "privacy" or request.status != lifecycle.SUCCEEDED or not run.get("held"):
        raise Conflict(Msg("该计算没有暂扣的结果", "nothing of this computation is withheld"),
                       "nothing_held")  # fmt: skip
    run["released"] = run.get("result")
    run["released_by"] = reviewer
    run["held_findings"], run["held"] = run.get("held") or [], []
    request.meta = {**request.meta, "run": run}
    audit.append(
        s, "request.withheld_released", actor=reviewer, tenant=request.tenant.group,
        object=f"request:{request.id}", reason=reason,
        details={"kind": "privacy", "result_sha256": run.get("result_sha256")},
    )  # fmt: skip
    return request
