"""A reviewer releases what the release gate held back of a job.

The gate (:mod:`hub.production.disclosure`) withholds from the tenant every log line, metric and
output name it flags. A reviewer reads the originals in the review console and may release them
with a reason; the same rules as a review decision apply (a reviewer, admitted, of another
company, not the requester), the metrics file must be the one that was screened, and the move is
audited with the refs released (not their content, which stays out of the audit trail).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from hub import audit
from hub.db.models import Request
from hub.i18n import Msg
from hub.production import disclosure, outputs
from hub.refusals import BadRequest, Conflict
from hub.review import lifecycle
from hub.store import of as store_of
from hub.store import restored

ENDED = (lifecycle.SUCCEEDED, lifecycle.FAILED)


def release(s: Session, request_id: int, reviewer: str, reason: str, store: Path) -> Request:
    """Release every held part of job ``request_id`` to its tenant; returns the request."""
    request = lifecycle.get(s, request_id)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise BadRequest(Msg("请写明理由", "give a reason"), "reason")
    lifecycle._reviewer(s, reviewer, request)  # the rules of a review decision
    if lifecycle.frozen(request):
        raise Conflict(Msg("该单位的资格已暂停、撤销或到期，申请已冻结",
                           "the company is not admitted; its requests are frozen"), "frozen")  # fmt: skip
    run = dict(request.meta.get("run") or {})
    held = list(run.get("held") or [])
    if request.kind != "job" or request.status not in ENDED or not held:
        raise Conflict(
            Msg("该作业没有暂扣的内容", "nothing of this job is withheld"), "nothing_held"
        )
    folder = store / "jobs" / str(request.id)
    files = [dict(f) for f in run.get("files") or []]
    run["outputs"] = disclosure.release_outputs(files, None).shown
    run["files"] = files
    metrics = next((f for f in files if f["name"] == "metrics.json"), None)
    if metrics is not None and "metrics" in run:
        found = restored(store, folder / "output")  # on S3, from the store if not here
        if found is None:
            raise Conflict(Msg("作业输出已不在域内存储中", "the job's outputs are gone from the domain store"), "outputs_gone")  # fmt: skip
        raw = outputs.read(found, "metrics.json", disclosure.MAX_METRICS)
        if hashlib.sha256(raw).hexdigest() != metrics["sha256"]:
            raise Conflict(Msg("指标文件与检查时不一致", "the metrics differ from what was checked"),
                           "tampered")  # fmt: skip
        shown = disclosure.release_metrics(raw, int(run.get("min_count") or 10), None)
        run["metrics"], run["suppressed"] = shown.shown, shown.extra["suppressed"]
    log = folder / "released.log"
    shown = restored(store, log)
    if shown is not None:
        text = disclosure.restore_log(shown.read_text(), held)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(text)
        store_of(store).put(log)  # on S3, the store's copy too
    refs = [h["ref"] for h in held]
    run["held"], run["withheld"] = [], []
    run["released_held"] = [*run.get("released_held", []), {"refs": refs, "reviewer": reviewer}]
    request.meta = {**request.meta, "run": run}
    audit.append(
        s, "request.withheld_released", actor=reviewer, tenant=request.tenant.group,
        object=f"request:{request.id}", reason=reason, details={"kind": "job", "refs": refs},
    )  # fmt: skip
    return request
