"""Lineage: notebook cell → job → outputs → decisions → released file or product.

Every link is verified here, from what the platform holds, each time a lineage is read; what a
client sent (an export's ``X-Shuyu-Meta``, the cell id the SDK reports) is only a claim:

- a request derives from a job only when the job is of the same tenant and the request's frozen
  content is byte for byte one of the outputs the production zone listed for that job (its
  SHA-256 is in the job's run);
- a request comes from a notebook cell only when the audit trail holds a ``kernel.execute``
  event of the request's own requester and tenant with exactly that message id (an exact
  comparison, never a pattern: the trail of other tenants is no search oracle).

A claim that fails is reported by name only (``unverified``), never with what it pointed at.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import kinds
from hub.db.models import AuditEvent, Product, Request

LINKS = ("job", "cell")  # what a client may claim; the claims are kept under ``claimed``
PLATFORM_KEYS = ("job", "output", "artifact", "cell", "run", "claimed")  # never from a client
MAX_MSG_ID = 128  # as the gateway records a cell's message id


def client_meta(meta: object) -> dict:
    """The metadata of an export as sent by a client, made safe to store: the table statistics
    the checks read, and lineage claims set aside under ``claimed`` (verified when read)."""
    if not isinstance(meta, dict):
        return {}
    kept = {"table": meta["table"]} if isinstance(meta.get("table"), dict) else {}
    claims = {k: meta[k] for k in LINKS if isinstance(meta.get(k), str | int)}
    return kept | ({"claimed": claims} if claims else {})


def _claim(r: Request, name: str) -> object:
    meta = r.meta or {}
    return meta.get(name) if meta.get(name) is not None else (meta.get("claimed") or {}).get(name)


def _job_id(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) <= 12 else None


def source_job(s: Session, r: Request) -> tuple[Request | None, str | None]:
    """``(job, output name)`` when ``r`` really derives from a job's output, else ``(None, None)``.

    The job must be a job of ``r``'s tenant, and ``r``'s frozen content must hash to one of the
    outputs the production zone listed when the job ended.
    """
    if kinds.get(r.kind).runs or not r.content_sha256:
        return None, None
    job_id = _job_id(_claim(r, "job"))
    job = s.get(Request, job_id) if job_id is not None else None
    if job is None or not kinds.get(job.kind).runs or job.tenant_id != r.tenant_id:
        return None, None
    for output in (job.meta or {}).get("run", {}).get("outputs") or []:
        if isinstance(output, dict) and output.get("sha256") == r.content_sha256:
            return job, str(output.get("name", ""))
    return None, None


def cell_event(s: Session, r: Request) -> AuditEvent | None:
    """The audited notebook cell ``r`` claims to come from, when it is its requester's own."""
    msg_id = _claim(r, "cell")
    if not isinstance(msg_id, str) or not msg_id or len(msg_id) > MAX_MSG_ID:
        return None
    needle = '"msg_id":' + json.dumps(msg_id, ensure_ascii=False)  # as audit stores details
    events = s.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "kernel.execute",
            AuditEvent.actor == r.requester,
            AuditEvent.tenant == r.tenant.group,
            AuditEvent.details.contains(needle, autoescape=True),  # narrows; never decides
        )
        .order_by(AuditEvent.id.desc())
    )
    for event in events:
        try:
            details = json.loads(event.details or "{}")
        except ValueError:
            continue
        if isinstance(details, dict) and details.get("msg_id") == msg_id:
            return event
    return None


def _cell(s: Session, r: Request) -> dict | None:
    event = cell_event(s, r)
    if event is None:
        return None
    msg_id = json.loads(event.details)["msg_id"]
    return {"msg_id": msg_id, "audit_event": event.id, "hash": event.hash, "ts": event.ts,
            "actor": event.actor}  # fmt: skip


def _node(s: Session, r: Request) -> dict:
    run = ((r.meta or {}).get("run") or {}) if kinds.get(r.kind).runs else {}
    job, output = source_job(s, r)
    cell = _cell(s, r)
    unverified = [name for name, linked in (("job", job), ("cell", cell))
                  if _claim(r, name) is not None and linked is None]  # fmt: skip
    released = s.scalars(
        select(AuditEvent.id).where(AuditEvent.object == f"request:{r.id}", AuditEvent.action == "request.released")
    ).first()  # fmt: skip
    return {
        "request": r.id, "kind": r.kind, "status": r.status, "requester": r.requester,
        "content_sha256": r.content_sha256, "cell": cell,
        "inputs": run.get("inputs"), "outputs": run.get("outputs"),
        "from_job": job.id if job else None, "from_output": output,
        "unverified": unverified,
        "decisions": [{"decision": d.decision, "reviewer": d.reviewer, "sha256": d.content_sha256,
                       "at": d.at.isoformat()} for d in r.decisions],
        "released_event": released,
        **kinds.get(r.kind).lineage(s, r),
    }  # fmt: skip


def trace(s: Session, request: Request) -> dict:
    """The request, the job it verifiably came from (if any) and what verifiably came of both."""
    chain = []
    runs = kinds.get(request.kind).runs
    job = request if runs else source_job(s, request)[0]
    if job is not None and job.id != request.id:
        chain.append(_node(s, job))
    chain.append(_node(s, request))
    derived = []
    if runs:
        candidates = s.scalars(
            select(Request)
            .where(
                Request.kind.in_(kinds.where(lambda k: k.from_job)),
                Request.tenant_id == request.tenant_id,
            )
            .order_by(Request.id)
        )
        for r in candidates:
            if _job_id(_claim(r, "job")) == request.id and source_job(s, r)[0] is not None:
                derived.append(_node(s, r))
    product = s.scalars(select(Product).where(Product.request_id == request.id)).first()
    return {
        "chain": chain,
        "derived": derived,
        "product": {"name": product.name, "sha256": product.model_sha256} if product else None,
    }
