"""Products published in the retired JSON format (``shuyu-model/1``) become ONNX models.

``shuyu models migrate`` runs :func:`migrate`, and so does the production zone each time it starts.
For every product whose model file is the old JSON it writes the equivalent ONNX model
(:func:`sdk.onnxmodel.from_legacy`) beside the old file, points the product at it (path and
SHA-256) and records ``product.model_migrated`` with both hashes. A product already on ONNX is left
alone, so running it again changes nothing. A model that cannot be converted (or whose file is not
the one approved) pauses its product with a bilingual reason (``product.paused``): the start goes
on, and no product ever answers from a file that is not a checked ONNX model. A later run that
converts it (a converter fixed in a new release, say) resumes the product (``product.resumed``):
only the migration pauses a product this way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.db.models import Product
from hub.i18n import Msg
from sdk import onnxmodel

LEGACY = "shuyu-model/1"
MIGRATED = "product.model_migrated"
PAUSED = "product.paused"
RESUMED = "product.resumed"
log = logging.getLogger("shuyu.models")


@dataclass
class Outcome:
    """Product names migrated, paused, and left as they were (already ONNX)."""

    migrated: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def legacy_spec(data: bytes) -> dict | None:
    """The old JSON spec in ``data``, or None when ``data`` is not a ``shuyu-model/1`` file."""
    if data.lstrip()[:1] != b"{":
        return None
    try:
        spec = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return spec if isinstance(spec, dict) and spec.get("format") == LEGACY else None


def _pause(s: Session, product: Product, actor: str, reason: Msg, outcome: Outcome) -> None:
    if product.status == "active":
        product.status = "paused"
        audit.append(s, PAUSED, actor=actor, tenant=product.tenant.group,
                     object=f"product:{product.name}",
                     reason=reason.en, details={"reason_zh": reason.zh, "reason_en": reason.en,
                              "sha256": product.model_sha256})  # fmt: skip
    outcome.paused.append(product.name)


def _convert(data: bytes, spec: dict) -> bytes:
    """The ONNX model of a legacy spec, checked as any published model is read."""
    content = onnxmodel.from_legacy(spec)
    onnxmodel.load(content)  # a converter that wrote a file load refuses is a failure too
    return content


def migrate_product(s: Session, product: Product, actor: str, outcome: Outcome) -> None:
    """Migrate one product's model if it is the old JSON (see the module's docstring)."""
    path = Path(product.model_path)
    try:
        data = path.read_bytes()
    except OSError:  # the product refuses queries anyway (its model cannot be read)
        log.warning("the model file of product %s cannot be read", product.name)
        outcome.unchanged.append(product.name)
        return
    spec = legacy_spec(data)
    if spec is None:
        outcome.unchanged.append(product.name)
        return
    if hashlib.sha256(data).hexdigest() != product.model_sha256:
        _pause(s, product, actor, Msg(
            "旧格式模型文件与批准的内容不一致，无法迁移为 ONNX，产品已暂停",
            "the model file in the retired format differs from what was approved; it is not "
            "migrated to ONNX and the product is paused",
        ), outcome)  # fmt: skip
        return
    try:
        content = _convert(data, spec)
    except Exception as e:  # noqa: BLE001 - any failure pauses the product, never the start
        log.warning("the model of product %s cannot be converted: %r", product.name, e)
        zh = getattr(e, "message_zh", None) or "转换失败"
        en = getattr(e, "message_en", None) or "the conversion failed"
        _pause(s, product, actor, Msg(
            f"旧格式（{LEGACY}）模型无法转换为 ONNX，产品已暂停：{zh}",
            f"the model in the retired format ({LEGACY}) cannot be converted to ONNX; the product is paused: {en}",
        ), outcome)  # fmt: skip
        return
    new_sha = hashlib.sha256(content).hexdigest()
    target = path.with_name(f"{path.stem}.{new_sha[:12]}.onnx")
    if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != new_sha:
        scratch = target.with_name(target.name + ".tmp")
        scratch.write_bytes(content)
        scratch.replace(target)
    old_sha = product.model_sha256
    product.model_path, product.model_sha256 = str(target), new_sha
    audit.append(s, MIGRATED, actor=actor, tenant=product.tenant.group,
                 object=f"product:{product.name}",
                 details={"old_sha256": old_sha, "new_sha256": new_sha, "old_path": str(path),
                          "new_path": str(target), "format": onnxmodel.FORMAT})  # fmt: skip
    if product.status == "paused":  # paused by an earlier run that could not convert it
        product.status = "active"
        audit.append(s, RESUMED, actor=actor, tenant=product.tenant.group,
                     object=f"product:{product.name}",
                     reason="migrated to ONNX", details={"sha256": new_sha})  # fmt: skip
    outcome.migrated.append(product.name)


def migrate(s: Session, actor: str = "system") -> Outcome:
    """Migrate every product whose model is the old JSON; idempotent."""
    outcome = Outcome()
    for product in s.scalars(select(Product).order_by(Product.id)):
        migrate_product(s, product, actor, outcome)
    return outcome


def migrate_at_start(db, actor: str = "system") -> Outcome | None:
    """:func:`migrate` in its own transaction, as the production zone starts: any failure is
    logged (a product that cannot be converted is paused), never raised."""
    try:
        with db.session() as s:
            outcome = migrate(s, actor)
    except Exception:  # noqa: BLE001 - e.g. the DB briefly gone: the next start tries again
        log.exception("the model migration could not run")
        return None
    if outcome.migrated or outcome.paused:
        log.info("models migrated to ONNX: %s; paused: %s", outcome.migrated, outcome.paused)
    return outcome
