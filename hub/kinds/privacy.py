"""A privacy computation (隐私计算): PSI, joint statistics or vertical training between the
platform's node (the public raw data of the request's scenario) and one party's node (the party's
own data, on its own machine). Its content is a :class:`privacy.spec.Computation`, frozen at
submit; the reviewer's approval and the party's signature both bind to it.

- **checks**: the party is active and the requester's company's; the public dataset, key and
  columns are approved for the scenario (no identifying column grouped, measured or used as a
  feature); the party's columns are in what its node declared; a stats group is at least the
  platform's minimum cell count; the scenario is open.
- **after the checks**: when none failed, the party's node is asked for its tables (schema only)
  and shown the computation (``propose``); its answer, verified against its certificate, is kept.
- **once approved**: the production zone runs it (:mod:`hub.privacy.runs`); the result passes the
  export checks before its tenant sees it (:mod:`hub.privacy.results`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hub import audit
from hub.access.caller import USABLE
from hub.db.engine import Database
from hub.db.models import Party, Request
from hub.i18n import Msg
from hub.kinds import Checking, Later, RequestKind, Zone, register
from hub.masking.policy import PII_ENTITIES, pii_kind
from hub.ops import parties
from hub.privacy import results, runs
from hub.privacy.node import NodeError, progress_of
from hub.production import jobs
from hub.review import lifecycle
from hub.review.checks import FAIL, PASS, WARN, Finding
from hub.review.sources import raw_sources
from hub.store import of as store_of
from privacy.spec import MAX_DEPTH, MAX_TREES, Computation, SpecError

log = logging.getLogger("shuyu.review")
ENDED = (lifecycle.SUCCEEDED, lifecycle.FAILED)
MAX_GROUP_BY = 3
MAX_MEASURES = 20
MAX_FEATURES = 50
MAX_EPOCHS = 1000


PARAMS = {
    "psi": {"reveal": str},
    "stats": {"group_by": list, "measures": list, "min_group": int},
    "train": {"features": list, "label": str, "model": str, "epochs": int, "trees": int,
              "depth": int, "learning_rate": float},
}  # fmt: skip


def validate_params(kind: str, params: dict[str, Any]) -> None:
    """Refuse params the kind does not take or of the wrong type, before a spec is frozen
    (what :class:`Computation` checks is which columns they name)."""
    allowed = PARAMS.get(kind, {})
    for name, value in params.items():
        want = allowed.get(name)
        if want is None:
            raise SpecError(f"{kind} 不接受参数 {name} / {kind} takes no parameter {name}")
        fits = (
            (isinstance(value, int | float) and not isinstance(value, bool))
            if want is float
            else isinstance(value, want) and not (want is int and isinstance(value, bool))
        )
        if not fits:
            raise SpecError(f"参数 {name} 类型不符 / parameter {name} has the wrong type")
    for name in ("group_by", "measures"):
        size = 2 if name == "group_by" else 3
        for item in params.get(name, []):
            if not (
                isinstance(item, list)
                and len(item) == size
                and all(isinstance(x, str) for x in item)
            ):
                raise SpecError(
                    f"{name} 的每一项须为 {size} 个字符串 / each {name} item is {size} strings"
                )
    if not all(isinstance(f, str) for f in params.get("features", [])):
        raise SpecError("特征须为列名 / features are column names")


def spec_of(content: bytes) -> Computation:
    spec = Computation.from_json(content)
    validate_params(spec.kind, spec.params)
    return spec


def _msg(error: Exception) -> Msg:
    zh, _, en = str(error).partition(" / ")
    return Msg(zh, en or zh)


def _finding(name: str, problems: list[tuple[str, str]], ok: Msg, verdict: str = FAIL) -> Finding:
    if problems:
        return Finding(name, verdict, Msg("；".join(p[0] for p in problems),
                                          "; ".join(p[1] for p in problems)))  # fmt: skip
    return Finding(name, PASS, ok)


def _identifying(schema: list[dict]) -> set[str]:
    return {c["name"] for c in schema if pii_kind(c) in PII_ENTITIES}


def _public(s: Session, request: Request, spec: Computation) -> Finding:
    approved = jobs.approved_columns(s, request.scenario_id)
    if spec.public_dataset not in approved:
        return Finding("public_columns", FAIL, Msg(
            f"场景未获准使用数据集 {spec.public_dataset}",
            f"the scenario is not approved for dataset {spec.public_dataset}"))  # fmt: skip
    dataset, columns = approved[spec.public_dataset]
    problems = []
    unapproved = [c for c in (spec.public_key, *spec.public_columns) if c not in columns]
    if unapproved:
        what = ", ".join(unapproved)
        problems.append((f"未获准的列：{what}", f"columns not approved: {what}"))
    ids = _identifying(dataset.schema) - {spec.public_key}
    used = set(spec.public_columns) & ids
    if used:
        what = ", ".join(sorted(used))
        problems.append(
            (f"个人标识列不能参与计算：{what}", f"identifying columns cannot be used: {what}")
        )
    return _finding("public_columns", problems, Msg(
        f"{spec.public_dataset} 的键与列均已获准", f"the key and columns of {spec.public_dataset} are approved"))  # fmt: skip


def _party(s: Session, request: Request, spec: Computation) -> tuple[Finding, Party | None]:
    party = s.get(Party, spec.party)
    problem = parties.problem(party, request.tenant)
    if problem is None and (spec.tenant != request.tenant.name or spec.request_id != request.id):
        problem = Msg("计算描述与申请不一致", "the computation does not match the request")
    if problem is not None:
        return Finding("party", FAIL, problem), party
    return Finding(
        "party", PASS, Msg(f"参与方 {party.name} 正常", f"party {party.name} is active")
    ), party


def party_columns(party: Party | None, spec: Computation) -> Finding:
    """The party's key and columns against what its node declared (unknown: a warning; its
    node refuses a column it does not have)."""
    tables = (party.declared_schema if party is not None else None) or {}
    if not tables:
        return Finding("party_columns", WARN, Msg(
            "参与方尚未声明其数据结构，其列由参与方节点核对",
            "the party has not declared its tables yet; its node checks its own columns"))  # fmt: skip
    table = tables.get(spec.party_table)
    if table is None:
        return Finding("party_columns", FAIL, Msg(
            f"参与方没有数据表 {spec.party_table}", f"the party has no table {spec.party_table}"))  # fmt: skip
    missing = [c for c in (spec.party_key, *spec.party_columns) if c not in table["columns"]]
    if missing:
        what = ", ".join(missing)
        return Finding("party_columns", FAIL, Msg(
            f"参与方数据表 {spec.party_table} 没有列：{what}", f"the party's table {spec.party_table} has no column {what}"))  # fmt: skip
    return Finding("party_columns", PASS, Msg(
        f"参与方数据表 {spec.party_table} 含所需的列", f"the party's table {spec.party_table} has the columns"))  # fmt: skip


def _params(spec: Computation, checking: Checking) -> Finding:
    p, limits, problems = spec.params, checking.limits, []
    keys = {("public", spec.public_key), ("party", spec.party_key)}
    if spec.kind == "psi":
        if p.get("reveal") == "ids-to-party":
            return Finding("params", WARN, Msg(
                "参与方将获知其哪些键在公共数据中（交集明细交给参与方），须审核员确认",
                "the party learns which of its keys are in the public data (the intersection goes "
                "to the party): a reviewer must agree"))  # fmt: skip
        return Finding(
            "params", PASS, Msg("只公开交集大小", "only the intersection size is revealed")
        )
    if spec.kind == "stats":
        group = [tuple(g) for g in p.get("group_by", [])]
        measures = [tuple(m) for m in p.get("measures", [])]
        k = int(p.get("min_group", 0))
        if k < limits.min_count:
            problems.append((f"最小分组 {k} 小于平台最小单元格计数 {limits.min_count}",
                             f"min_group {k} is below the platform's minimum cell count {limits.min_count}"))  # fmt: skip
        if len(group) > MAX_GROUP_BY:
            problems.append(
                (f"分组列最多 {MAX_GROUP_BY} 个", f"at most {MAX_GROUP_BY} group columns")
            )
        if len(measures) > MAX_MEASURES:
            problems.append((f"统计量最多 {MAX_MEASURES} 个", f"at most {MAX_MEASURES} measures"))
        if keys & set(group) or keys & {(m[0], m[1]) for m in measures}:
            problems.append(("键列不能分组或统计", "a key column cannot be grouped or measured"))
        if {(m[0], m[1]) for m in measures} & set(group):
            problems.append(
                ("同一列不能既分组又统计", "a column cannot be both grouped and measured")
            )
        return _finding("params", problems, Msg(
            f"分组 {len(group)} 列、统计量 {len(measures)} 个，最小分组 {k}",
            f"{len(group)} group column(s), {len(measures)} measure(s), min_group {k}"))  # fmt: skip
    features = list(p.get("features") or [])
    most = checking.privacy.max_features if checking.privacy is not None else MAX_FEATURES
    if len(features) > most:
        problems.append((f"特征最多 {most} 个", f"at most {most} features"))
    if spec.public_key in features or p.get("label") == spec.party_key:
        problems.append(("键列不能作特征或标签", "a key column cannot be a feature or the label"))
    trees, depth = int(p.get("trees", 5) or 0), int(p.get("depth", 3) or 0)
    if p.get("model") == "xgboost" and not (1 <= trees <= MAX_TREES and 1 <= depth <= MAX_DEPTH):
        problems.append((f"树须 1..{MAX_TREES} 棵、深度 1..{MAX_DEPTH}",
                         f"1..{MAX_TREES} trees of depth 1..{MAX_DEPTH}"))  # fmt: skip
    if int(p.get("epochs", 0) or 0) > MAX_EPOCHS:
        problems.append((f"迭代最多 {MAX_EPOCHS} 轮", f"at most {MAX_EPOCHS} epochs"))
    return _finding(
        "params", problems, Msg(f"{len(features)} 个特征", f"{len(features)} feature(s)")
    )


def party_view(party: Party | None) -> dict[str, Any] | None:
    if party is None:
        return None
    return {"id": party.id, "name": party.name, "status": party.status.value,
            "fingerprint": party.fingerprint, "address": party.address}  # fmt: skip


@register
class Privacy(RequestKind):
    name = "privacy"
    title = Msg("隐私计算", "privacy computation")
    acted_on = True
    fails_frozen = True

    def checks(
        self, s: Session, request: Request, content: bytes, checking: Checking
    ) -> tuple[list[Finding], int]:
        try:
            spec = spec_of(content)
        except SpecError as e:
            return [Finding("spec", FAIL, _msg(e))], 0
        party_finding, party = _party(s, request, spec)
        scenario = request.scenario
        open_ = scenario.status in USABLE
        findings = [
            Finding("spec", PASS, Msg(f"{spec.kind} 计算，摘要 {spec.digest()[:12]}",
                                      f"a {spec.kind} computation, digest {spec.digest()[:12]}")),
            party_finding,
            Finding("scenario", PASS if open_ else FAIL, Msg(
                f"场景 {scenario.name}：{scenario.status.value}",
                f"scenario {scenario.name}: {scenario.status.value}")),
            _public(s, request, spec),
            party_columns(party if party_finding.verdict == PASS else None, spec),
            _params(spec, checking),
        ]  # fmt: skip
        return findings, 0

    def after_checks(self, db: Database, request_id: int, checking: Checking) -> None:
        """Ask the party's node for its tables, check its columns again, and show it the
        computation — only when no check failed, so no other party ever sees it."""
        node = checking.privacy
        with db.session() as s:
            request = lifecycle.get(s, request_id)
            if request.status != lifecycle.IN_REVIEW or any(
                c.verdict == FAIL for c in request.checks
            ):
                return
            if node is None:
                return
            spec = spec_of(Path(request.content_path).read_bytes())
            party = s.get(Party, spec.party)
            if parties.problem(party, request.tenant) is not None:
                return  # suspended or revoked since the checks: shown nothing more
            party_id, address, cert = party.id, party.address, party.cert_pem
        folder = runs.folder(checking.store, request_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (folder / "spec.json").write_bytes(spec.canonical())
        try:
            hello = node.hello(party_id, address)
        except NodeError as e:
            log.warning("party %s did not answer hello: %s", party_id, e.detail or e.msg)
            self._note(db, request_id, {"status": "unreachable", "reason": str(e.msg)})
            return
        with db.session() as s:
            party = s.get(Party, party_id)
            parties.record_schema(s, party, hello.get("tables"))
            request = lifecycle.get(s, request_id)
            found = party_columns(party, spec)
            row = next((c for c in request.checks if c.name == "party_columns"), None)
            if row is not None and (row.verdict, row.reason) != (found.verdict, str(found.reason)):
                row.verdict, row.reason = found.verdict, str(found.reason)
                audit.append(s, "request.check_updated", actor=lifecycle.PLATFORM,
                             tenant=request.tenant.group, object=f"request:{request_id}",
                             details={"check": "party_columns", "verdict": found.verdict})  # fmt: skip
            if found.verdict == FAIL:
                return
        try:
            answer = node.propose(folder / "spec.json", party_id, address)
        except NodeError as e:
            self._note(db, request_id, {"status": "unreachable", "reason": str(e.msg)})
            return
        self.record_answer(db, request_id, spec, cert, answer)

    @staticmethod
    def _note(db: Database, request_id: int, approval: dict) -> None:
        with db.session() as s:
            request = lifecycle.get(s, request_id)
            request.meta = {**request.meta, "party_approval": approval}

    @staticmethod
    def record_answer(
        db: Database, request_id: int, spec: Computation, cert: str, answer: dict
    ) -> str:
        """Keep the party's answer to a proposal; an approval counts only when its signature
        verifies with the party's certificate (else it is recorded as forged, and audited)."""
        digest = spec.digest()
        status = (
            answer.get("status")
            if answer.get("status") in ("pending", "approved", "rejected")
            else "pending"
        )
        signature = answer.get("signature")
        good = status == "approved" and runs.verified(cert, digest, signature)
        if status == "approved" and not good:
            status, signature = "forged", None
        approval = runs.approval(status, signature if good else None, digest, good)
        with db.session() as s:
            request = lifecycle.get(s, request_id)
            if (request.meta.get("party_approval") or {}).get("status") != status:
                audit.append(s, f"privacy.party_{status}", actor=f"party:{spec.party}",
                             tenant=request.tenant.group, object=f"request:{request_id}",
                             details={"digest": digest, "verified": good})  # fmt: skip
            request.meta = {**request.meta, "party_approval": approval}
        return status

    def on_approved(self, s: Session, request: Request, zone: Zone) -> str | Later:
        spec = spec_of(Path(request.content_path).read_bytes())
        party = s.get(Party, spec.party)
        problem = parties.problem(party, request.tenant)
        approved = jobs.approved_columns(s, request.scenario_id).get(spec.public_dataset)
        if problem is None and (
            approved is None or not {spec.public_key, *spec.public_columns} <= set(approved[1])
        ):
            problem = Msg(
                "公共数据集或列的批准已撤回",
                "the public dataset's or columns' approval was withdrawn",
            )
        if problem is None and zone.privacy is None:
            problem = Msg("平台未配置隐私计算节点", "the platform's privacy node is not configured")
        if problem is not None:
            lifecycle.move(s, request, lifecycle.FAILED, str(problem))
            return lifecycle.FAILED
        lifecycle.move(s, request, lifecycle.RUNNING, digest=spec.digest(), party=party.id)
        plan = runs.Planned(
            request_id=request.id, content_path=request.content_path, sha256=request.content_sha256,
            dataset_path=store_of(zone.store).fetch(approved[0].path), party_id=party.id,
            party_address=party.address, party_cert=party.cert_pem,
            raw=raw_sources(s, request.scenario_id, zone.store),
        )  # fmt: skip
        node, store, limits, db = zone.privacy, zone.store, zone.limits, zone.db
        return lambda: runs.run(db, plan, node, store, limits)

    def console(
        self, s: Session, request: Request, content: bytes, store: Path, view: dict
    ) -> None:
        try:
            spec = spec_of(content)
        except SpecError:
            return
        party = s.get(Party, spec.party)
        run = request.meta.get("run") or {}
        result = run.get("result")
        view["privacy"] = {
            "kind": spec.kind, "digest": spec.digest(), "dataset": spec.public_dataset,
            "public_key": spec.public_key, "public_columns": list(spec.public_columns),
            "party_table": spec.party_table, "party_key": spec.party_key,
            "party_columns": list(spec.party_columns),
            "params": json.dumps(spec.params, ensure_ascii=False, sort_keys=True),
            "party": party_view(party) or {"id": spec.party, "name": "?", "status": "?",
                                           "fingerprint": "", "address": ""},
            "approval": request.meta.get("party_approval") or {"status": "not_proposed"},
            "progress": progress_of(runs.folder(store, request.id) / "progress.jsonl"),
            "result": json.dumps(result, ensure_ascii=False, indent=1) if result is not None else "",
            "released": run.get("released") is not None,
            "held": [f"{f['name']}: {f['reason']}" for f in run.get("held") or []],
            "ended": request.status in ENDED,
        }  # fmt: skip

    def release_held(
        self, s: Session, request: Request, reviewer: str, reason: str, store: Path
    ) -> None:
        results.release(s, request.id, reviewer, reason)

    def sdk_view(self, request: Request) -> dict[str, Any]:
        meta = request.meta or {}
        approval = meta.get("party_approval") or {}
        view: dict[str, Any] = {
            "computation": meta.get("computation"),
            "party": meta.get("party"),
            "party_approval": {"status": approval.get("status", "not_proposed"), "at": approval.get("at")},
        }  # fmt: skip
        run = meta.get("run") or {}
        if request.status in ENDED and run:
            view["result"] = run.get("released")
            view["withheld"] = [{"name": f["name"], "reason_zh": f["reason_zh"], "reason_en": f["reason_en"]}
                                for f in run.get("held") or []]  # fmt: skip
        return view

    def lineage(self, s: Session, request: Request) -> dict[str, Any]:
        meta = request.meta or {}
        approval = meta.get("party_approval") or {}
        run = meta.get("run") or {}
        return {
            "party": meta.get("party"),
            "party_approval": {k: approval.get(k) for k in ("status", "digest", "verified", "at")}
            if approval else None,
            "result": {"sha256": run.get("result_sha256"), "released": run.get("released") is not None,
                       "released_by": run.get("released_by")} if run.get("result_sha256") else None,
        }  # fmt: skip
