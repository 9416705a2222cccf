"""Model publishing requests: a succeeded job's model file and its card, checked and reviewed.

The model is an ONNX file (``shuyu-onnx/1``, :mod:`sdk.onnxmodel`). The checks attack it as an
adversary would: its size and format (the ONNX checker, an operator allowlist); a
membership-inference attack, run with onnxruntime, compares its loss on the raw training records
with its loss on held-out records of the same population that no job ever saw (kept by the domain
under ``holdout/``); every string in the graph is scanned for personal data, and those that name
or carry data must occur in the approved training columns; its numbers must not carry a raw
identifier; the model card must say what the model is for, on what data, how good it is and where
it fails.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from hub.db.models import Request
from hub.i18n import Msg
from hub.production import outputs
from hub.production.jobs import approved_columns
from hub.production.rules import ProductionRules
from hub.refusals import AccessDenied, BadRequest, Conflict
from hub.review import lifecycle
from hub.review.checks import FAIL, Finding
from hub.store import of as store_of
from sdk import onnxmodel

MAX_MODEL = onnxmodel.MAX_BYTES  # what is read at all; the zone's model_max_bytes may be lower


def job_output(store: Path, job_id: int) -> Path:
    """The outputs of job ``job_id`` as the domain store holds them (a local folder)."""
    return _fetched(store, f"jobs/{job_id}/output")


def holdout_path(store: Path, dataset: str) -> Path:
    return _fetched(store, f"holdout/{dataset}.parquet")


def _fetched(store: Path, key: str) -> Path:
    """``key`` through the domain store; what it does not hold, the local path (absent)."""
    try:
        return store_of(store).fetch(key)
    except FileNotFoundError:
        return store / key


def artifact(s: Session, store: Path, job_id: int, tenant_id: int, name: str) -> tuple:
    """``(job request, model bytes)`` of a succeeded job of the caller's tenant."""
    job = lifecycle.get(s, job_id)
    if job.kind != "job" or job.tenant_id != tenant_id:
        raise AccessDenied(Msg(f"作业 #{job_id} 不属于您的单位", f"job #{job_id} is not your company's"), "other_tenant")  # fmt: skip
    if job.status != lifecycle.SUCCEEDED:
        raise Conflict(Msg(f"作业 #{job_id} 尚未成功完成（{job.status}）", f"job #{job_id} has not succeeded ({job.status})"), "job_not_done")  # fmt: skip
    content = outputs.read(job_output(store, job_id), name, MAX_MODEL)
    try:
        onnxmodel.load(content)
    except ValueError as e:
        zh, en = getattr(e, "message_zh", str(e)), getattr(e, "message_en", str(e))
        raise BadRequest(Msg(f"模型文件无效：{zh}", f"the model file is not valid: {en}"), "model_format") from None  # fmt: skip
    return job, content


def training_dataset(job, requested: str | None) -> str:
    datasets = list(job.meta.get("datasets") or [])
    if requested:
        if requested not in datasets:
            raise BadRequest(Msg(f"作业未使用数据集 {requested}", f"the job did not use dataset {requested}"), "dataset")  # fmt: skip
        return requested
    if len(datasets) != 1:
        raise BadRequest(Msg("作业使用了多个数据集，请指明训练数据集", "the job used several datasets: name the training one"), "dataset")  # fmt: skip
    return datasets[0]


def _frames(s: Session, store: Path, request, approved: dict) -> list[pd.DataFrame]:
    """The raw tables of every dataset the model's job read (where its raw identifiers are)."""
    job = s.get(Request, int(request.meta["job"])) if request.meta.get("job") else None
    names = list((job.meta or {}).get("datasets") or []) if job is not None else []
    names = list(dict.fromkeys([*names, request.meta.get("dataset", "")]))
    domain = store_of(store)
    return [pd.read_parquet(domain.fetch(approved[n][0].path), columns=approved[n][1]) for n in names if n in approved]  # fmt: skip


def checks(
    s: Session, request, content: bytes, store: Path, rules: ProductionRules
) -> list[Finding]:
    """Size, format, card, embedded personal data, strings and contents against the training data
    and membership inference of a model request."""
    from hub.review import model_checks, model_contents

    card = dict(request.meta.get("card") or {})
    size = model_checks.model_size(content, rules.model_max_bytes)
    if size.verdict == FAIL:
        return [size, model_checks.model_card(card)]
    finding, model = model_checks.model_format(content)
    findings = [size, finding, model_checks.model_card(card)]
    if model is None:
        return findings
    findings.append(model_checks.model_strings(model))
    name = request.meta.get("dataset", "")
    approved_by_name = approved_columns(s, request.scenario_id)
    dataset, approved = approved_by_name.get(name, (None, []))
    key = model.key or {}
    names = set(approved)
    used = {*model.features, model.target, *([key["column"]] if key else [])}
    if dataset is not None and not used <= names:
        outside = sorted(used - names)
        extra = ", ".join(n[:40] for n in outside[:5]) + (f" (+{len(outside) - 5})" if len(outside) > 5 else "")  # fmt: skip
        findings.append(Finding("model_columns", FAIL, Msg(
            f"模型使用了未获准的列：{extra}", f"the model uses columns not approved: {extra}")))  # fmt: skip
        return findings
    holdout = holdout_path(store, name)
    if dataset is None or not holdout.exists():
        findings.append(Finding("membership_inference", FAIL, Msg(
            f"无法评估成员推断风险：数据集 {name} 没有留出记录", f"cannot measure membership inference: no held-out records of {name}")))  # fmt: skip
        return findings
    columns = list(dict.fromkeys([*model.features, model.target]))
    members = pd.read_parquet(store_of(store).fetch(dataset.path), columns=columns)
    findings.append(model_checks.model_data_strings(model, members, names))
    identifiers = model_contents.raw_identifiers(_frames(s, store, request, approved_by_name))
    findings.append(model_contents.model_support(model, members, rules.model_min_support))
    findings.append(model_contents.model_numbers(model, card, identifiers))
    identity = model_contents.keyed_identity(model, members)
    if identity is not None:
        findings.append(identity)
    held = pd.read_parquet(holdout, columns=columns)
    findings.append(
        model_checks.membership_inference(model, members, held, max_auc=rules.mia_max_auc)
    )
    return findings
