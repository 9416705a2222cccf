"""After approval: the production zone does what each request's kind calls for (:mod:`hub.kinds`):
jobs run in their sandbox (:func:`run_job`), models become products (:func:`publish`), imports
become datasets.

Run by the production service (:mod:`hub.web.production`), which polls for approved requests,
so a decision taken in any console or by policy is acted on, and work a crash interrupted is taken
up again at the next start. Each move is audited with its lineage: the code hash and inputs of a
job, its outputs' hashes, the product or dataset a request became.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import sys
from pathlib import Path

from sqlalchemy import select

from hub import kinds, rawstore
from hub.billing import meter
from hub.billing.meter import MeterKind
from hub.db.engine import Database
from hub.db.models import Request
from hub.i18n import Msg
from hub.production import disclosure, jobs, outputs, products, sandbox, spark, staging
from hub.production.gate import Gate
from hub.production.rules import ProductionRules
from hub.refusals import Refusal
from hub.review import lifecycle
from hub.review.checks import Limits
from spawner.job_policy import build_job

log = logging.getLogger("shuyu.production")
CHECKOUT = Path(__file__).resolve().parent.parent.parent
_HASHES: dict[tuple, str] = {}
DOMAIN_ONLY = ("files", "skipped", "held")  # keys of a run that only reviewers read


def system_paths() -> tuple[str, ...]:
    """What a job sees of the host: the system, Python and the SDK (not the platform's code)."""
    return tuple(dict.fromkeys(["/usr", sys.base_prefix, sys.prefix, str(CHECKOUT / "sdk")]))


def _file_sha(path: Path) -> str:
    """The raw input's hash for the run record (a folder of parts: one digest over its parts),
    cached while no part changes."""
    stats = [(p.name, p.stat()) for p in rawstore.files(path)]
    key = (str(path), *((name, st.st_mtime_ns, st.st_size) for name, st in stats))
    if key not in _HASHES:
        _HASHES[key] = rawstore.sha256(path)
    return _HASHES[key]


def recover(db: Database) -> list[int]:
    """At start: jobs a crash left running are approved again, so they run anew."""
    with db.session() as s:
        found = list(s.scalars(select(Request).where(Request.status == lifecycle.RUNNING)))
        for request in found:
            lifecycle.move(s, request, lifecycle.APPROVED, "restarted after an interruption")
        return [r.id for r in found]


def pending(db: Database) -> list[int]:
    """Approved requests waiting for the production zone, oldest first."""
    with db.session() as s:
        return list(
            s.scalars(
                select(Request.id)
                .where(
                    Request.status == lifecycle.APPROVED,
                    Request.kind.in_(kinds.where(lambda k: k.acted_on)),
                )
                .order_by(Request.id)
            )
        )


def act(db: Database, request_id: int, store: Path, rules: ProductionRules, limits: Limits, seccomp: Path, privacy=None) -> str | None:  # fmt: skip
    """Do what approval of ``request_id`` calls for; return its new status. What cannot be done
    (a model file changed since approval, a job the sandbox could not start) fails the request
    with the reason, audited, rather than being retried at every poll."""
    try:
        return _act(db, request_id, store, rules, limits, seccomp, privacy)
    except Exception as e:  # noqa: BLE001 - reported on the request, logged in full here
        log.exception("request %s could not be acted on", request_id)
        reason = (
            str(e.msg)
            if isinstance(e, Refusal)
            else f"the production zone failed: {type(e).__name__}"
        )
        with db.session() as s:
            request = lifecycle.get(s, request_id)
            if request.status in (lifecycle.APPROVED, lifecycle.RUNNING):
                lifecycle.move(s, request, lifecycle.FAILED, reason)
        return lifecycle.FAILED


def _act(db: Database, request_id: int, store: Path, rules: ProductionRules, limits: Limits, seccomp: Path, privacy) -> str | None:  # fmt: skip
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        if request.status != lifecycle.APPROVED:
            return None
        if lifecycle.frozen(request):
            if not kinds.get(request.kind).fails_frozen:
                return None  # acted on once the company is admitted again
            word = request.tenant.status.value
            lifecycle.move(s, request, lifecycle.FAILED, str(Msg(
                f"申请单位未获准入（{word}），计算不予执行",
                f"the company is not admitted ({word}): its computation does not run")))  # fmt: skip
            return lifecycle.FAILED
        if request.scenario.status.value in ("revoked", "rejected"):
            lifecycle.move(
                s,
                request,
                lifecycle.FAILED,
                f"scenario {request.scenario.name} is {request.scenario.status.value}",
            )
            return lifecycle.FAILED
        outcome = kinds.get(request.kind).on_approved(
            s, request, kinds.Zone(db, store, rules, limits, seccomp, privacy)
        )
    return outcome() if callable(outcome) else outcome


def publish(s, request: Request) -> str:
    """An approved model becomes a product of its scenario."""
    product = products.publish(s, request)
    lifecycle.move(
        s, request, lifecycle.PUBLISHED, product=product.name, sha256=product.model_sha256
    )
    meter.record(s, request.tenant_id, MeterKind.MODEL_PUBLISH, 1,
                 {"request": request.id, "product": product.name},
                 actor=request.requester, scenario=request.scenario_id)  # fmt: skip
    return lifecycle.PUBLISHED


def run_job(
    db, request_id, content_path, sha, tenant, meta, inputs, store, rules, limits, seccomp, gate
) -> str:
    """Run job ``request_id`` on its inputs, read (and its outputs stored) through the domain
    store with the job's own credentials (:mod:`hub.production.staging`)."""
    with staging.job_io(store, request_id, inputs) as io:
        return _run_job(db, request_id, content_path, sha, tenant, meta, io.inputs, store, rules,
                        limits, seccomp, gate, io.finish)  # fmt: skip


def _run_job(
    db, request_id, content_path, sha, tenant, meta, inputs, store, rules, limits, seccomp, gate,
    finish,
) -> str:  # fmt: skip
    folder = store / "jobs" / str(request_id)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "output").mkdir(parents=True, mode=0o700)
    content = Path(content_path).read_bytes()
    problem = None
    if hashlib.sha256(content).hexdigest() != sha:
        problem = "the code differs from what was approved"
    run: dict = {"inputs": [{"dataset": n, "sha256": _file_sha(p), "columns": cols}
                            for n, (p, cols) in sorted(inputs.items())]}  # fmt: skip
    if problem is None:
        inputs = _project(inputs, folder / "inputs")
        jobs.unpack(jobs.read_bundle(content, rules), folder / "code")
        (folder / "params.json").write_text(
            json.dumps(meta.get("params") or {}, ensure_ascii=False)
        )
        job_limits = jobs.limits(meta.get("resources") or {}, rules)
        job = build_job(
            job_id=request_id, tenant=tenant, entrypoint=meta["entrypoint"], code_dir=str(folder / "code"),
            output_dir=str(folder / "output"), params_file=str(folder / "params.json"), inputs=inputs,
            limits=job_limits, system_paths=system_paths() + spark.java_paths(job_limits.engine),
            python=sys.executable,
        )  # fmt: skip
        result = sandbox.run(job, folder / "run", folder / "log.txt", seccomp)
        run.update(exit_code=result.exit_code, timed_out=result.timed_out, seconds=result.seconds)
        problem = _outcome(result, job.limits.output_bytes, folder, run, limits, gate)
        finish(folder)  # outputs into the domain store, with the job's credentials
    status = lifecycle.FAILED if problem else lifecycle.SUCCEEDED
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        request.meta = {**request.meta, "run": run}
        # The audit trail gets what the tenant sees, never what was held back from them.
        shown = {k: v for k, v in run.items() if k not in DOMAIN_ONLY}
        lifecycle.move(s, request, status, problem or "", code_sha256=sha, **shown)
        meter.record(s, request.tenant_id, MeterKind.JOB_SECONDS, max(1, math.ceil(run.get("seconds", 0))),
                     {"request": request_id, "status": status, **(meta.get("resources") or {})},
                     actor=request.requester, scenario=request.scenario_id)  # fmt: skip
    log.info("job %s %s", request_id, status)
    return status


def _project(inputs: dict[str, tuple[Path, list[str]]], folder: Path) -> dict[str, str]:
    """Each raw input cut to the columns its data list approved: a job reads those only. The
    copy streams (a table of any size in constant memory) into a folder of Parquet parts the
    job scans in parallel."""
    folder.mkdir(mode=0o700)
    out = {}
    for name, (path, columns) in inputs.items():
        target = folder / f"{name}.parquet"
        rawstore.project(path, columns, target)
        out[name] = str(target)
    return out


def _outcome(
    result: sandbox.RunResult, max_bytes: int, folder: Path, run: dict, limits: Limits, gate: Gate
) -> str | None:
    """Record the outputs, the released log and metrics in ``run``; return what went wrong.

    ``run`` keeps, for the domain only, the real listing (``files``, ``skipped``) and what the
    gate held back (``held``); the tenant's view takes ``outputs``, ``metrics``, ``suppressed``,
    ``log_masked`` and ``withheld`` (where and why, never what)."""
    found, skipped = outputs.listing(folder / "output")
    listing = disclosure.release_outputs(found, gate)
    run["files"], run["skipped"], run["outputs"] = found, skipped, listing.shown
    held = list(listing.held)
    log_bytes = (folder / "log.txt").read_bytes() if (folder / "log.txt").exists() else b""
    log_release = disclosure.release_log(log_bytes, gate)
    (folder / "released.log").write_text(log_release.shown)
    run["log_masked"] = log_release.extra["masked"]
    held += log_release.held
    if any(o["name"] == "metrics.json" for o in found):
        try:
            metrics = disclosure.release_metrics(
                outputs.read(folder / "output", "metrics.json", disclosure.MAX_METRICS),
                limits.min_count,
                gate,
            )
            run["metrics"], run["suppressed"] = metrics.shown, metrics.extra["suppressed"]
            held += metrics.held
        except (ValueError, Refusal) as e:
            run["metrics_error"] = str(e)[:200]
    run["held"], run["withheld"] = held, disclosure.withheld_view(held)
    run["min_count"] = limits.min_count  # what a reviewer's release suppresses again
    if result.timed_out:
        return "the job ran over its time limit and was stopped"
    if result.exit_code != 0:
        return f"the job ended with exit code {result.exit_code}"
    if sum(o["bytes"] for o in found) > max_bytes:
        return "the job's outputs are over the size limit"
    return None
