"""Lineage: notebook cell → job → outputs → decisions → released file or product.

Every link is already in the platform DB or the audit trail: a request's metadata names the cell
(the kernel's message id the SDK sent) and the job it came from; the audit trail holds the cell's
code hash and each decision. :func:`trace` gathers them for one request.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import AuditEvent, Product, Request


def _cell(s: Session, msg_id: str | None) -> dict | None:
    if not msg_id:
        return None
    event = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "kernel.execute", AuditEvent.details.contains(msg_id))
        .order_by(AuditEvent.id.desc())
    ).first()
    if event is None:
        return {"msg_id": msg_id, "audit_event": None}
    return {
        "msg_id": msg_id,
        "audit_event": event.id,
        "hash": event.hash,
        "ts": event.ts,
        "actor": event.actor,
    }


def _node(s: Session, r: Request) -> dict:
    run = r.meta.get("run") or {}
    released = s.scalars(
        select(AuditEvent.id).where(AuditEvent.object == f"request:{r.id}", AuditEvent.action == "request.released")
    ).first()  # fmt: skip
    return {
        "request": r.id, "kind": r.kind, "status": r.status, "requester": r.requester,
        "content_sha256": r.content_sha256, "cell": _cell(s, r.meta.get("cell")),
        "inputs": run.get("inputs"), "outputs": run.get("outputs"),
        "from_job": r.meta.get("job"), "from_output": r.meta.get("output") or r.meta.get("artifact"),
        "decisions": [{"decision": d.decision, "reviewer": d.reviewer, "sha256": d.content_sha256,
                       "at": d.at.isoformat()} for d in r.decisions],
        "released_event": released,
    }  # fmt: skip


def trace(s: Session, request: Request) -> dict:
    """The request, the job it came from (if any) and what came of both."""
    chain = []
    job_id = request.id if request.kind == "job" else request.meta.get("job")
    job = s.get(Request, job_id) if job_id else None
    if job is not None and job.id != request.id:
        chain.append(_node(s, job))
    chain.append(_node(s, request))
    derived = []
    if request.kind == "job":
        for r in s.scalars(select(Request).where(Request.kind.in_(("export", "model")), Request.tenant_id == request.tenant_id)):  # fmt: skip
            if r.meta.get("job") == request.id:
                derived.append(_node(s, r))
    product = s.scalars(select(Product).where(Product.request_id == request.id)).first()
    return {
        "chain": chain,
        "derived": derived,
        "product": {"name": product.name, "sha256": product.model_sha256} if product else None,
    }
