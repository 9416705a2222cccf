"""Published products: a reviewed model answering queries inside the domain.

A consumer holding a product key sends records (features) or keys (looked up in the product's
in-domain dataset) and gets back scores, or yes/no answers for verification (核验); raw data never
leaves, only answers. The model is the approved ONNX file, evaluated by onnxruntime
(:class:`sdk.onnxmodel.OnnxModel`, one session per model, cached by its SHA-256). A product
serves only the scenario its model was approved for, and only while its tenant is admitted. Keys
are random, shown once, and kept as SHA-256 digests.

Looking people up by key is an oracle on individual records, so it is bounded: each key has a
number of calls a minute and of records a day (``PRODUCTION_RULES``); an absent key is answered
as a present one would be where the mode allows (verification: "no"; a score: the model's answer
for a record it knows nothing of); a key that looks up many people in a day, or many who are not
there, raises a ``product.sweep`` alert in the audit trail, shown in the review console.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.billing import meter
from hub.billing.meter import MeterKind
from hub.db.models import AuditEvent, MeterEvent, Product, ProductKey, Request
from hub.i18n import Msg
from hub.production.jobs import approved_columns
from hub.production.rules import ProductionRules
from hub.refusals import AccessDenied, BadRequest, Conflict, NotFound, RateLimited
from hub.review import lifecycle
from hub.store import of as store_of
from sdk import onnxmodel

NAME = re.compile(r"[a-z][a-z0-9_-]{2,63}")
MODES = ("score", "verify")
_MODELS: OrderedDict[str, onnxmodel.OnnxModel] = OrderedDict()
log = logging.getLogger("shuyu.products")
_KEYED: OrderedDict[tuple, pd.DataFrame] = OrderedDict()


def check_name(
    s: Session, name: str, tenant_id: int | None = None, scenario_id: int | None = None
) -> str:
    """``name`` for a new product, or for a new model version of the company's own product of
    the same scenario (``tenant_id``, ``scenario_id``); another's name is taken."""
    if not NAME.fullmatch(name or ""):
        raise BadRequest(Msg("产品名须为 3–64 位小写字母、数字、- 或 _", "a product name is 3–64 lowercase letters, digits, - or _"), "name")  # fmt: skip
    found = s.scalars(select(Product).where(Product.name == name)).first()
    if found is not None and (found.tenant_id, found.scenario_id) != (tenant_id, scenario_id):
        raise Conflict(
            Msg(f"产品名 {name} 已被使用", f"the product name {name} is taken"), "name_taken"
        )
    return name


def publish(s: Session, request: Request) -> Product:
    """The product of an approved model request; its model file must still be the approved one.
    A model for a product the company already has is the product's new version: the product
    answers with it only once that version is registered (:mod:`hub.production.registry`)."""
    if lifecycle.sha256_of(request.content_path) != request.content_sha256:
        raise Conflict(Msg("模型文件与批准的内容不一致", "the model differs from what was approved"), "tampered")  # fmt: skip
    name = request.meta["product"]
    product = s.scalars(select(Product).where(Product.name == name)).first()
    if product is None:
        product = Product(name=name, tenant_id=request.tenant_id, scenario_id=request.scenario_id)
        s.add(product)
    elif (product.tenant_id, product.scenario_id) != (request.tenant_id, request.scenario_id):
        raise Conflict(Msg(f"产品名 {name} 已被使用", f"the product name {name} is taken"), "name_taken")  # fmt: skip
    product.request_id = request.id
    product.model_path = request.content_path
    product.model_sha256 = request.content_sha256
    s.flush()
    return product


def get(s: Session, name: str) -> Product:
    product = s.scalars(select(Product).where(Product.name == name)).first()
    if product is None:
        raise NotFound(Msg(f"没有产品 {name}", f"no product {name}"))
    return product


MAX_LIMIT = 10_000_000  # a key's own calls a minute or records a day
MAX_GRACE = timedelta(days=1)  # how long a rotated key stays valid beside its successor


def _aware(t: datetime | None) -> datetime | None:
    """A stored instant as UTC (SQLite hands back naive datetimes)."""
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def _limit(value: int | None, what: Msg) -> int | None:
    if value is not None and (isinstance(value, bool) or not 1 <= int(value) <= MAX_LIMIT):
        raise BadRequest(Msg(f"{what.zh}须为 1–{MAX_LIMIT}", f"{what.en} is 1–{MAX_LIMIT}"), "limits")  # fmt: skip
    return value


def issue_key(
    s: Session, product: Product, tenant_id: int, actor: str, consumer: str, *,
    expires_at: datetime | None = None, calls_per_minute: int | None = None,
    records_per_day: int | None = None, rotated_from: int | None = None,
) -> str:  # fmt: skip
    """A new key for ``consumer``, issued by staff of the product's own tenant; shown once.

    Args:
        expires_at: When the key stops opening the product (None: never).
        calls_per_minute: The key's own rate limit (None: the production rules').
        records_per_day: The key's own daily quota (None: the production rules').
        rotated_from: The id of the key this one replaces.
    """
    if product.tenant_id != tenant_id:
        raise AccessDenied(Msg("只有产品所属单位能签发密钥", "only the product's company issues keys"), "other_tenant")  # fmt: skip
    consumer = (consumer or "").strip()
    if not 2 <= len(consumer) <= 200:
        raise BadRequest(Msg("请写明使用方（2–200 字）", "name the consumer (2–200 characters)"), "consumer")  # fmt: skip
    expires_at = _aware(expires_at)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise BadRequest(Msg("到期时间须在将来", "the expiry must be in the future"), "expires_at")  # fmt: skip
    _limit(calls_per_minute, Msg("每分钟调用次数", "calls a minute"))
    _limit(records_per_day, Msg("每日记录数", "records a day"))
    key = "shuyu_pk_" + secrets.token_urlsafe(32)
    s.add(
        ProductKey(
            product_id=product.id, key_sha256=hashlib.sha256(key.encode()).hexdigest(),
            prefix=key[:12], consumer=consumer, issued_by=actor, expires_at=expires_at,
            calls_per_minute=calls_per_minute, records_per_day=records_per_day,
            rotated_from=rotated_from,
        )
    )  # fmt: skip
    audit.append(s, "product.key_issued", actor=actor, tenant=product.tenant.group,
                 object=f"product:{product.name}",
                 details={"consumer": consumer, "prefix": key[:12],
                          "expires_at": expires_at.isoformat() if expires_at else None,
                          "calls_per_minute": calls_per_minute, "records_per_day": records_per_day,
                          "rotated_from": rotated_from})  # fmt: skip
    return key


def find_key(s: Session, name: str, key: str) -> tuple[Product, ProductKey]:
    """The product and the key, if ``key`` is one of its keys, neither revoked nor expired."""
    product = get(s, name)
    digest = hashlib.sha256((key or "").encode()).hexdigest()
    found = s.scalars(select(ProductKey).where(ProductKey.key_sha256 == digest)).first()
    if found is None or found.product_id != product.id:
        raise AccessDenied(Msg("产品密钥无效", "the product key is not valid for this product"), "bad_product_key")  # fmt: skip
    now = datetime.now(UTC)
    if found.revoked_at is not None and _aware(found.revoked_at) <= now:
        raise AccessDenied(Msg("产品密钥已吊销", "the product key is revoked"), "key_revoked")
    if found.expires_at is not None and _aware(found.expires_at) <= now:
        raise AccessDenied(Msg("产品密钥已过期", "the product key has expired"), "key_expired")
    return product, found


def admit_key(s: Session, name: str, key: str, scenario: str | None) -> tuple[Product, ProductKey]:
    """The product ``key`` opens for a query serving ``scenario`` (its own if None): the key is
    valid (:func:`find_key`) and not stopped, the product is live (its tenant admitted, its
    scenario neither revoked nor rejected)."""
    product, found = find_key(s, name, key)
    if found.stopped_at is not None:
        raise AccessDenied(Msg(
            "该密钥因疑似批量核验已被停用，请联系产品所属单位",
            "this key was stopped after a suspected verification sweep; contact the product's company",
        ), "key_stopped")  # fmt: skip
    if scenario and scenario not in (str(product.scenario_id), product.scenario.name):
        raise AccessDenied(
            Msg(f"产品 {name} 只服务于场景 {product.scenario.name}", f"product {name} serves only scenario {product.scenario.name}"),
            "wrong_scenario",
        )  # fmt: skip
    closed = product.scenario.status.value in ("revoked", "rejected")
    if product.status != "active" or closed or lifecycle.frozen(product.request):
        raise Conflict(Msg(f"产品 {name} 已暂停", f"product {name} is paused"), "product_paused")
    return product, found


def _own(product: Product, tenant_id: int) -> None:
    if product.tenant_id != tenant_id:
        raise AccessDenied(Msg("只有产品所属单位能管理密钥", "only the product's company manages its keys"), "other_tenant")  # fmt: skip


def revoke_key(s: Session, product: Product, tenant_id: int, actor: str, prefix: str) -> None:
    _own(product, tenant_id)
    for k in s.scalars(
        select(ProductKey).where(ProductKey.product_id == product.id, ProductKey.prefix == prefix)
    ):
        k.revoked_at = datetime.now(UTC)
    audit.append(s, "product.key_revoked", actor=actor, tenant=product.tenant.group,
                 object=f"product:{product.name}", details={"prefix": prefix})  # fmt: skip


def rotate_key(
    s: Session, product: Product, tenant_id: int, actor: str, prefix: str, grace_seconds: int = 0
) -> str:
    """A new key for the consumer of the live key ``prefix``, with its expiry and limits; the
    old key stays valid ``grace_seconds`` (at most a day; 0: revoked at once). Audited."""
    _own(product, tenant_id)
    if not 0 <= grace_seconds <= MAX_GRACE.total_seconds():
        raise BadRequest(Msg("宽限期须为 0–86400 秒", "the grace is 0–86400 seconds"), "grace")  # fmt: skip
    now = datetime.now(UTC)
    live = [
        k for k in s.scalars(select(ProductKey).where(
            ProductKey.product_id == product.id, ProductKey.prefix == prefix))
        if (k.revoked_at is None or _aware(k.revoked_at) > now) and k.stopped_at is None
    ]  # fmt: skip
    if len(live) != 1:
        raise NotFound(Msg(f"没有可轮换的密钥 {prefix}", f"no live key {prefix} to rotate"))
    old = live[0]
    key = issue_key(s, product, tenant_id, actor, old.consumer, expires_at=old.expires_at,
                    calls_per_minute=old.calls_per_minute, records_per_day=old.records_per_day,
                    rotated_from=old.id)  # fmt: skip
    old.revoked_at = now + timedelta(seconds=grace_seconds)
    audit.append(s, "product.key_rotated", actor=actor, tenant=product.tenant.group,
                 object=f"product:{product.name}",
                 details={"prefix": prefix, "new_prefix": key[:12], "consumer": old.consumer,
                          "grace_seconds": grace_seconds})  # fmt: skip
    return key


def key_view(k: ProductKey) -> dict:
    def when(t: datetime | None) -> str | None:
        return _aware(t).isoformat() if t else None

    return {"prefix": k.prefix, "consumer": k.consumer, "issued_by": k.issued_by,
            "created_at": when(k.created_at), "expires_at": when(k.expires_at),
            "revoked_at": when(k.revoked_at), "stopped_at": when(k.stopped_at),
            "stop_reason": k.stop_reason, "calls_per_minute": k.calls_per_minute,
            "records_per_day": k.records_per_day}  # fmt: skip


def model_of(product: Product) -> onnxmodel.OnnxModel:
    """The product's model, loaded once per process (by its approved hash): its onnxruntime
    session is built at the first query and kept with it."""
    model = _MODELS.get(product.model_sha256)
    if model is None:
        data = Path(product.model_path).read_bytes()
        if hashlib.sha256(data).hexdigest() != product.model_sha256:
            raise Conflict(Msg("模型文件与批准的内容不一致", "the model differs from what was approved"), "tampered")  # fmt: skip
        try:
            model = onnxmodel.load(data)
        except onnxmodel.ModelFormatError:  # e.g. a model of the retired format, not migrated
            raise Conflict(Msg(f"产品 {product.name} 的模型无法使用，已暂停", f"the model of product {product.name} cannot be used; it is paused"), "product_paused") from None  # fmt: skip
        _MODELS[product.model_sha256] = model
        while len(_MODELS) > 16:
            _MODELS.popitem(last=False)
    return model


def _keyed_rows(
    s: Session, product: Product, model: onnxmodel.OnnxModel, keys: list, store: Path
) -> pd.DataFrame:
    spec = model.key or {}
    found = approved_columns(s, product.scenario_id).get(spec.get("dataset", ""))
    dataset = found[0] if found else None
    if dataset is None or not {spec["column"], *model.features} <= set(found[1]):
        raise BadRequest(
            Msg("该产品不支持按键查询", "this product does not answer by key"), "no_key"
        )
    path = store_of(store).fetch(dataset.path)
    cache = (str(path), path.stat().st_mtime_ns, spec["column"])
    frame = _KEYED.get(cache)
    if frame is None:
        columns = list(dict.fromkeys([spec["column"], *model.features]))
        frame = (
            pd.read_parquet(path, columns=columns)
            .drop_duplicates(spec["column"])
            .set_index(spec["column"])
        )
        _KEYED[cache] = frame
        while len(_KEYED) > 4:
            _KEYED.popitem(last=False)
    return frame.reindex([str(k) for k in keys])


def answer(
    s: Session, product: Product, mode: str, body: dict, store: Path, max_records: int
) -> tuple[dict, int]:
    """Scores or yes/no answers for the records (or keys) in ``body``, and how many of the keys
    were absent (the consumer cannot tell; the platform counts them)."""
    if mode not in MODES:
        raise NotFound(Msg(f"产品不支持 {mode}", f"products do not answer {mode}"))
    records, keys = body.get("records"), body.get("keys")
    if mode == "score" and records is None and keys is not None:
        # A score looked up by identifier is a derived value of one resident's raw record: only
        # yes/no 核验 answers by key, whoever asks (a consumer or a workspace).
        raise BadRequest(Msg(
            "评分只接受记录（records，模型的特征）；按键查询请用核验（verify）",
            "scoring takes records (the model's features); look identifiers up with verify",
        ), "score_by_key")  # fmt: skip
    model = model_of(product)
    items = records if records is not None else keys
    if not isinstance(items, list) or not items or len(items) > max_records:
        raise BadRequest(Msg(f"请提供 1–{max_records} 条记录（records）或键（keys）", f"send 1–{max_records} records or keys"), "records")  # fmt: skip
    if records is not None:
        if not all(isinstance(r, dict) for r in records):
            raise BadRequest(Msg("每条记录须为对象", "each record must be an object"), "records")
        frame, found = (
            pd.DataFrame.from_records(records),
            pd.Series(True, index=range(len(records))),
        )
    else:
        frame = _keyed_rows(s, product, model, keys, store)
        found = frame.notna().any(axis=1).reset_index(drop=True)
        frame = frame.reset_index(drop=True)
    try:
        values = model.answer(frame) if mode == "verify" else model.predict(frame)
    except ValueError as e:
        zh, en = getattr(e, "message_zh", str(e)), getattr(e, "message_en", str(e))
        raise BadRequest(Msg(f"记录不符合模型的输入：{zh}", f"the records do not fit the model: {en}"), "records") from None  # fmt: skip
    except Exception:  # noqa: BLE001 - onnxruntime refusing the input (a type it cannot take)
        log.warning("product %s could not score the records", product.name, exc_info=True)
        raise BadRequest(Msg("记录不符合模型的输入", "the records do not fit the model's inputs"), "records") from None  # fmt: skip
    if mode == "verify":  # an absent key is a plain "no", as a present one failing would be
        out = [bool(v) and bool(ok) for v, ok in zip(values, found, strict=True)]
    else:  # an absent key scores as a record the model knows nothing of
        out = [round(float(v), 6) for v in values]
    absent = 0 if records is not None else int((~found.astype(bool)).sum())
    return {"product": product.name, "mode": mode, "answers": out}, absent


SWEEP = "product.sweep"
QUERY = MeterKind.PRODUCT_QUERY


@dataclass(frozen=True)
class Usage:
    """What one key did recently: calls in the last minute, records in the last day, and of
    those the records looked up by key and the keys that were absent."""

    calls_minute: int
    records_day: int
    by_key_day: int
    absent_day: int


def usage(s: Session, key: ProductKey, now: datetime | None = None) -> Usage:
    """The key's use from its metered calls (a day is the last 24 hours)."""
    now = now or datetime.now(UTC)
    rows = s.execute(
        select(MeterEvent.at, MeterEvent.quantity, MeterEvent.details).where(
            MeterEvent.kind == QUERY,
            MeterEvent.at >= now - timedelta(days=1),
            MeterEvent.details["key_id"].as_integer() == key.id,
        )
    ).all()
    minute = now - timedelta(minutes=1)
    calls = records = by_key = absent = 0
    for at, quantity, details in rows:
        details = details or {}
        if details.get("key_id") != key.id:
            continue
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        calls += at >= minute
        records += quantity
        by_key += quantity if details.get("by_key") else 0
        absent += int(details.get("absent") or 0)
    return Usage(calls, records, by_key, absent)


def admit_call(s: Session, key: ProductKey, records: int, rules: ProductionRules) -> None:
    """Refuse a call over the key's limits (calls a minute, records a day)."""
    s.execute(
        select(ProductKey.id).where(ProductKey.id == key.id).with_for_update()
    )  # one at a time
    used = usage(s, key)
    calls = key.calls_per_minute or rules.product_calls_per_minute
    quota = key.records_per_day or rules.product_records_per_day
    if used.calls_minute >= calls:
        raise RateLimited(Msg(
            f"该密钥每分钟最多调用 {calls} 次，请稍后再试",
            f"this key may call {calls} times a minute; try again later",
        ), "rate_limited")  # fmt: skip
    if used.records_day + records > quota:
        raise RateLimited(Msg(
            f"该密钥 24 小时内最多查询 {quota} 条记录，已用 {used.records_day} 条",
            f"this key may query {quota} records in 24 hours; {used.records_day} are used",
        ), "daily_quota")  # fmt: skip


def record_call(
    s: Session, product: Product, key: ProductKey, caller, mode: str, answers: int,
    absent: int, by_key: bool, rules: ProductionRules, *, charge: dict | None = None,
    stop: bool = False,
) -> None:  # fmt: skip
    """Meter the call (with ``charge``: what a consumer pays for it, see
    :mod:`hub.production.consumers`); raise a sweep alert (once a day per key) when the key has
    looked up many people by key in the last day, or many who are not there (a tenth of that),
    and with ``stop`` stop the key: its next call is refused."""
    meter.record(
        s, caller.tenant_id, QUERY, answers,
        {"product": product.name, "mode": mode, "key": key.prefix, "key_id": key.id,
         "by_key": by_key, "absent": absent, **(charge or {})},
        actor=caller.username, scenario=product.scenario_id,
    )  # fmt: skip
    s.flush()
    if not by_key:
        return
    used = usage(s, key)
    limit = rules.product_sweep_keys_per_day
    if used.by_key_day < limit and used.absent_day < max(1, limit // 10):
        return
    if stop and key.stopped_at is None:
        key.stopped_at, key.stop_reason = datetime.now(UTC), "sweep"
        audit.append(s, "product.key_stopped", actor="platform", tenant=product.tenant.group,
                     object=f"product:{product.name}",
                     details={"key": key.prefix, "key_id": key.id, "consumer": key.consumer,
                              "reason": "sweep"})  # fmt: skip
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    earlier = s.scalars(
        select(AuditEvent.details).where(
            AuditEvent.action == SWEEP, AuditEvent.object == f"product:{product.name}",
            AuditEvent.ts >= since,
        )
    ).all()  # fmt: skip
    if any(json.loads(d or "{}").get("key_id") == key.id for d in earlier):
        return
    audit.append(s, SWEEP, actor=caller.username, tenant=product.tenant.group,
                 object=f"product:{product.name}",
                 details={"key": key.prefix, "key_id": key.id, "consumer": key.consumer,
                          "by_key_day": used.by_key_day, "absent_day": used.absent_day,
                          "limit": limit, "stopped": stop})  # fmt: skip


def alerts(s: Session) -> dict[str, list[dict]]:
    """Sweep alerts per product name, newest first."""
    out: dict[str, list[dict]] = {}
    events = s.scalars(
        select(AuditEvent).where(AuditEvent.action == SWEEP).order_by(AuditEvent.id.desc())
    )
    for e in events:
        view = {"ts": e.ts, "actor": e.actor, **json.loads(e.details or "{}")}
        out.setdefault(e.object.removeprefix("product:"), []).append(view)
    return out
