"""One approved computation, run by the production zone with the party's node.

The public side's approved key and columns are cut from the raw store into the run's folder (the
projection a job's inputs get), the platform node runs the spec with the party's node, and what
it wrote is trusted only when the party's signature over the spec's digest verifies with the
certificate the platform issued that party. The result then goes through the export checks
(:mod:`hub.privacy.results`): released to the tenant, or held for a reviewer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub import audit, rawstore
from hub.billing import meter
from hub.billing.meter import MeterKind
from hub.db.engine import Database
from hub.i18n import Msg
from hub.privacy.node import Node, NodeError
from hub.privacy.results import screen
from hub.review import lifecycle
from hub.review.checks import FAIL, Limits, RawSource
from privacy import pki
from privacy.spec import Computation

log = logging.getLogger("shuyu.production")


@dataclass(frozen=True)
class Planned:
    """What the run needs, read while the approving session was open."""

    request_id: int
    content_path: str
    sha256: str
    dataset_path: Path
    party_id: str
    party_address: str
    party_cert: str
    raw: tuple[RawSource, ...]


def folder(store: Path, request_id: int) -> Path:
    return store / "privacy" / str(request_id)


def approval(status: str, signature: str | None, digest: str, verified: bool) -> dict:
    return {"status": status, "signature": signature, "digest": digest, "verified": verified,
            "at": datetime.now(UTC).isoformat()}  # fmt: skip


def public_table(dataset: Path, columns: list[str], work: Path) -> Path:
    """The approved key and columns of the raw ``dataset``, as the one Parquet file the node
    reads (``work/public.parquet``): projected into parts as a job's inputs are, then joined a
    row group at a time, so any size fits in constant memory."""
    import pyarrow.parquet as pq

    parts = work / "public-parts"
    rawstore.project(dataset, columns, parts)
    target = work / "public.parquet"
    found = rawstore.files(parts)
    writer = pq.ParquetWriter(target, pq.read_schema(found[0]))
    try:
        for part in found:
            source = pq.ParquetFile(part)
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group))
    finally:
        writer.close()
    shutil.rmtree(parts)
    return target


def verified(cert_pem: str, digest: str, signature: object) -> bool:
    """Whether ``signature`` is the party's (its certificate's key) over ``digest``."""
    return isinstance(signature, str) and pki.verify(cert_pem, digest.encode(), signature)


def run(db: Database, plan: Planned, node: Node, store: Path, limits: Limits) -> str:
    """Run ``plan``; record its outcome on the request; return the request's new status."""
    work = folder(store, plan.request_id)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, mode=0o700)
    content = Path(plan.content_path).read_bytes()
    spec = Computation.from_json(content)
    digest = spec.digest()
    outcome: dict = {"digest": digest}
    problem: Msg | None = None
    party_approval = None
    if hashlib.sha256(content).hexdigest() != plan.sha256:
        problem = Msg("计算描述与批准的不一致", "the computation differs from what was approved")
    else:
        (work / "spec.json").write_bytes(content)
        public_table(plan.dataset_path, [spec.public_key, *spec.public_columns], work)
        started = time.monotonic()
        try:
            answer = node.run(work / "spec.json", work / "public.parquet", plan.party_id,
                              plan.party_address, work / "out", work / "progress.jsonl")  # fmt: skip
        except NodeError as e:
            outcome["seconds"] = round(time.monotonic() - started, 1)
            problem = e.msg
            outcome["exit_code"], outcome["node_error"] = e.code, e.detail
            if e.code == 4:
                party_approval = approval("rejected", None, digest, False)
        else:
            outcome["seconds"] = round(time.monotonic() - started, 1)
            signature = answer.get("signature")
            if answer.get("digest") != digest or not verified(plan.party_cert, digest, signature):
                problem = Msg("参与方的批准签名无法验证，结果不予采信",
                              "the party's approval signature does not verify: the result is not trusted")  # fmt: skip
                party_approval = approval("forged", None, digest, False)
            else:
                party_approval = approval("approved", signature, digest, True)
                result = answer.get("result")
                text = json.dumps(result, sort_keys=True, ensure_ascii=False)
                findings = screen(spec, result, limits, plan.raw)
                failing = [f for f in findings if f.verdict == FAIL]
                outcome.update(
                    result=result, result_sha256=hashlib.sha256(text.encode()).hexdigest(),
                    findings=[f.as_dict() for f in findings],
                    released=None if failing else result, released_by=None if failing else "checks",
                    held=[f.as_dict() for f in failing],
                )  # fmt: skip
    status = lifecycle.FAILED if problem else lifecycle.SUCCEEDED
    with db.session() as s:
        request = lifecycle.get(s, plan.request_id)
        meta = {**request.meta, "run": outcome}
        if party_approval is not None:
            meta["party_approval"] = party_approval
            audit.append(
                s, f"privacy.party_{party_approval['status']}", actor=f"party:{plan.party_id}",
                tenant=request.tenant.group, object=f"request:{request.id}",
                details={"digest": digest, "verified": party_approval["verified"]},
            )  # fmt: skip
        request.meta = meta
        shown = {"digest": digest, "result_sha256": outcome.get("result_sha256"),
                 "released": outcome.get("released") is not None,
                 "held": [f["name"] for f in outcome.get("held") or []]}  # fmt: skip
        lifecycle.move(s, request, status, str(problem) if problem else "", **shown)
        if "seconds" in outcome:  # the domain's node computed (or waited for the party): metered
            meter.record(s, request.tenant_id, MeterKind.JOB_SECONDS,
                         max(1, math.ceil(outcome["seconds"])),
                         {"request": request.id, "privacy": spec.kind, "status": status},
                         actor=request.requester, scenario=request.scenario_id)  # fmt: skip
    log.info("privacy computation %s %s", plan.request_id, status)
    return status
