"""A training job: a code bundle that runs, once approved, in the production zone's sandbox on the
raw data of its scenario (:mod:`hub.production.executor`); its tenant sees only what the release
gate lets through. A job of a scenario category a production rule names is approved by policy
when every check passes, its code scan included (:mod:`hub.production.codescan`: an allow-list
read from the code's syntax tree, not a keyword search)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hub.db.models import Request
from hub.i18n import Msg
from hub.kinds import Checking, Later, RequestKind, Zone, register
from hub.production import executor, held, jobs
from hub.production.gate import Gate
from hub.production.rules import ProductionRules
from hub.review import lifecycle
from hub.review.checks import Context, Finding
from hub.review.sources import raw_sources
from hub.store import of as store_of
from hub.store import restored

ENDED = (lifecycle.SUCCEEDED, lifecycle.FAILED)
MAX_SHOWN = 200_000  # characters of one code file shown
# What the SDK sees of a run: only what passed the release gate; never "files" or "held".
RUN_SHOWN = ("exit_code", "timed_out", "seconds", "outputs", "metrics", "suppressed",
             "log_masked", "inputs", "withheld")  # fmt: skip


@register
class Job(RequestKind):
    name = "job"
    title = Msg("模型训练", "training job")
    acted_on = True
    runs = True

    def checks(
        self, s: Session, request: Request, content: bytes, checking: Checking
    ) -> tuple[list[Finding], int]:
        approved = jobs.approved_datasets(s, request.scenario_id)
        return jobs.checks(content, dict(request.meta), approved, checking.production), 0

    def auto_approval(self, request: Request, production: ProductionRules) -> str | None:
        """The policy approving a job of an auto-approved category, only when its code stayed
        within the allow-list (``code_scan`` passed; every other check must pass as well)."""
        category = request.scenario.category.value
        scanned = {c.name: c.verdict for c in request.checks}.get("code_scan")
        if category in production.auto_approve and scanned == "pass":
            return f"policy: {category} jobs are approved when every check passes"
        return None

    def on_approved(self, s: Session, request: Request, zone: Zone) -> str | Later:
        approved = jobs.approved_columns(s, request.scenario_id)
        meta = dict(request.meta)
        missing = sorted(set(meta["datasets"]) - set(approved))
        if missing:
            lifecycle.move(
                s, request, lifecycle.FAILED, f"dataset approval withdrawn: {', '.join(missing)}"
            )
            return lifecycle.FAILED
        inputs = {n: (zone.store / approved[n][0].path, approved[n][1]) for n in meta["datasets"]}
        # What the job shows its tenant is checked against the scenario's raw data, however the
        # job was approved (by people or by policy).
        gate = Gate(
            Context(limits=zone.limits, raw=raw_sources(s, request.scenario_id, zone.store))
        )
        lifecycle.move(s, request, lifecycle.RUNNING, code_sha256=request.content_sha256,
                       entrypoint=meta["entrypoint"], datasets=meta["datasets"],
                       params=meta.get("params") or {}, resources=meta.get("resources") or {})  # fmt: skip
        request_id, content_path, sha, tenant = (
            request.id, store_of(zone.store).restore(request.content_path), request.content_sha256,
            request.tenant.group,
        )  # fmt: skip
        return lambda: executor.run_job(
            zone.db, request_id, content_path, sha, tenant, meta, inputs, zone.store, zone.rules,
            zone.limits, zone.seccomp, gate,
        )  # fmt: skip

    def console(
        self, s: Session, request: Request, content: bytes, store: Path, view: dict
    ) -> None:
        r = request
        try:
            files = jobs.read_bundle(content, ProductionRules())
        except Exception:  # noqa: BLE001 - the bundle check already says why
            files = {}
        view["files"] = [
            (name, body.decode("utf-8", "replace")[:MAX_SHOWN])
            for name, body in sorted(files.items())
        ]
        view["job"] = {k: json.dumps(r.meta.get(k), ensure_ascii=False)
                       for k in ("entrypoint", "datasets", "params", "resources")}  # fmt: skip
        run = r.meta.get("run")
        if run:
            released = restored(store, store / "jobs" / str(r.id) / "released.log")
            view["run"] = {
                "exit_code": run.get("exit_code"), "seconds": run.get("seconds"),
                "outputs": run.get("outputs") or [], "metrics": json.dumps(run.get("metrics"), ensure_ascii=False, indent=1),
                "log": released.read_text()[-20_000:] if released else "",
                "files": run.get("files") or run.get("outputs") or [],
                "held": [{"ref": h["ref"], "what": h["what"], "reason": f"{h['reason_zh']} / {h['reason_en']}",
                          "original": h["original"] if isinstance(h["original"], str)
                          else json.dumps(h["original"], ensure_ascii=False)}
                         for h in run.get("held") or []],
                "ended": r.status in ENDED,
            }  # fmt: skip

    def release_held(
        self, s: Session, request: Request, reviewer: str, reason: str, store: Path
    ) -> None:
        held.release(s, request.id, reviewer, reason, store)

    def sdk_view(self, request: Request) -> dict[str, Any]:
        meta = request.meta
        view: dict[str, Any] = {
            k: meta.get(k) for k in ("entrypoint", "datasets", "params", "resources")
        }
        run = meta.get("run")
        if run and request.status in ENDED:
            # Only what passed the release gate (or a reviewer released).
            view["run"] = {k: run.get(k) for k in RUN_SHOWN}
        return view
