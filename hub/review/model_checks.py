"""Review checks of a model file before it is published as a product that answers queries.

A model is not a table, so the table checks of :mod:`hub.review.checks` do not fit it; these do.
Each returns a :class:`~hub.review.checks.Finding` with a bilingual reason:

- :func:`model_size`: the file is within the zone's size limit (``model_max_bytes``);
- :func:`model_format`: the file is a valid ``shuyu-onnx/1`` model (:func:`sdk.onnxmodel.load`:
  the ONNX checker, the operator allowlist, no custom domain, no external data, no string op);
- :func:`model_card`: the card says what the model is for, what it was trained on, how well it
  does and where it should not be used;
- :func:`model_strings`: no identifier is embedded in the file (every string of the graph: names,
  attributes, string tensors, metadata; one-hot categories are copies of raw values);
- :func:`model_data_strings`: every string that names or carries data (feature names, target,
  category labels, class labels, key column) occurs in the approved training columns, so no text
  comes into the model from anywhere else;
- :func:`membership_inference`: the model cannot tell its training records from unseen ones.
  The attack is the loss threshold (Yeom et al., 2018): a model that memorized its training rows
  has a lower loss on them, so ranking rows by loss separates members from non-members.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hub.i18n import Msg
from hub.masking.detectors import scan_text
from hub.review.checks import FAIL, PASS, WARN, Finding
from hub.review.checks.pii import IDENTIFYING
from sdk.identifiers import find_identifiers
from sdk.onnx_format import text_column, text_value
from sdk.onnxmodel import MAX_BYTES, ModelFormatError, OnnxModel, load

CARD_SECTIONS = ("intended_use", "data", "metrics", "limits")
MIN_SECTION_CHARS = 10
MAX_CARD_BYTES = 64 << 10
MAX_RECOGNIZED_STRINGS = 2_000  # distinct strings read by the presidio recognizers
MAX_RECOGNIZED_CHARS = 200_000
MIN_RECORDS = 50  # per side, for the attack's AUC to mean anything
MAX_TPR_AT_1PCT_FPR = 0.05
_ENTITIES = {
    "resident_id": "CN_RESIDENT_ID", "mobile": "CN_MOBILE", "bank_card": "CN_BANK_CARD",
    "uscc": "CN_USCC",
}  # fmt: skip
# A decimal's fraction is no identifier (0.1234567890123456 would pass a bank card's Luhn
# check one time in ten); its integer part may be one, e.g. a mobile read as a float.
_DECIMAL = r"^(-?\d+)\.\d+(?:[eE][-+]?\d+)?$"


def model_size(content: bytes, max_bytes: int = MAX_BYTES) -> Finding:
    """Fail when the file is larger than ``max_bytes`` (the zone's ``model_max_bytes``)."""
    details = {"bytes": len(content), "max_bytes": max_bytes}
    if len(content) > max_bytes:
        reason = Msg(
            f"模型文件超过大小上限（{len(content):,} > {max_bytes:,} 字节）",
            f"the model file exceeds the size limit ({len(content):,} > {max_bytes:,} bytes)",
        )
        return Finding("model_size", FAIL, reason, details)
    reason = Msg("模型文件大小在上限之内", "the model file is within the size limit")
    return Finding("model_size", PASS, reason, details)


def model_format(content: bytes) -> tuple[Finding, OnnxModel | None]:
    """Whether ``content`` is a valid ``shuyu-onnx/1`` model, and the model when it is; the
    details are the reviewer's summary in numbers (task, features, operators, trees, bytes)."""
    try:
        model = load(content)
        summary = model.summary()
    except ModelFormatError as e:
        reason = Msg(e.message_zh, e.message_en)
        return Finding("model_format", FAIL, reason, {"bytes": len(content)}), None
    details = {
        "format": "shuyu-onnx/1",
        "task": summary.task,
        "target": summary.target,
        "features": len(summary.features),
        "inputs": len(summary.inputs),
        "operators": dict(summary.operators),
        "nodes": sum(summary.operators.values()),
        "trees": summary.trees,
        "max_depth": summary.max_depth,
        "categories": sum(len(v) for v in summary.categories.values()),
        "class_labels": len(summary.class_labels),
        "opset": dict(summary.opset),
        "bytes": len(content),
    }
    reason = Msg("模型文件是有效的 ONNX 模型（shuyu-onnx/1）", "the model file is a valid ONNX model (shuyu-onnx/1)")  # fmt: skip
    return Finding("model_format", PASS, reason, details), model


def _section_ok(name: str, value: object) -> bool:
    if name == "metrics" and isinstance(value, dict):
        return bool(value)
    shortest = 1 if name == "metrics" else MIN_SECTION_CHARS
    return isinstance(value, str) and len(value.strip()) >= shortest


def model_card(card: dict) -> Finding:
    """The card has every section (``intended_use``, ``data``, ``metrics``, ``limits``) and
    fits in 64 KB; prose sections need at least 10 characters, metrics a non-empty dict or text."""
    if not isinstance(card, dict):
        reason = Msg("模型卡不是 JSON 对象", "the model card is not a JSON object")
        return Finding("model_card", FAIL, reason)
    size = len(json.dumps(card, ensure_ascii=False, default=str).encode("utf-8"))
    if size > MAX_CARD_BYTES:
        reason = Msg(
            f"模型卡超过 {MAX_CARD_BYTES >> 10} KB",
            f"the model card exceeds {MAX_CARD_BYTES >> 10} KB",
        )
        return Finding("model_card", FAIL, reason, {"bytes": size})
    missing = [s for s in CARD_SECTIONS if not _section_ok(s, card.get(s))]
    details = {"bytes": size, "missing": missing, "sections": sorted(map(str, card))}
    if missing:
        what = ", ".join(missing)
        reason = Msg(
            f"模型卡缺少或过于简略的部分：{what}", f"the model card lacks or skimps on: {what}"
        )
        return Finding("model_card", FAIL, reason, details)
    return Finding("model_card", PASS, Msg("模型卡完整", "the model card is complete"), details)


def _entity_counts(strings: Sequence[str]) -> tuple[Counter, int]:
    """Identifiers among ``strings``: the checksum scan over all of them, the recognizers over the
    first few thousand (joined, so presidio runs once); and how many the recognizers read."""
    text = pa.array(list(strings), type=pa.large_string())
    text = pc.replace_substring_regex(text, _DECIMAL, r"\1").to_pylist()  # RE2, vectorized
    found = Counter(_ENTITIES[kind] for kind, _ in find_identifiers("\n".join(text)))
    head = text[:MAX_RECOGNIZED_STRINGS]
    recognized = Counter(f.entity for f in scan_text("\n".join(head)[:MAX_RECOGNIZED_CHARS]))
    return Counter({e: max(found[e], recognized[e]) for e in found | recognized}), len(head)


def model_strings(model: OnnxModel) -> Finding:
    """Fail when a string anywhere in the model file (a category, a name, an attribute, a string
    tensor, metadata) is an identifier; warn on names and addresses. Details count entities,
    never show values."""
    strings = model.strings()
    counts, recognized = _entity_counts(strings)
    details = {"strings": len(strings), "recognized": recognized, "entities": dict(counts)}
    what = ", ".join(f"{e}×{n}" for e, n in sorted(counts.items()))
    if set(counts) & IDENTIFYING:
        reason = Msg(f"模型文件中嵌有标识：{what}", f"the model file embeds identifiers: {what}")
        return Finding("model_pii", FAIL, reason, details)
    if counts:
        reason = Msg(
            f"模型文件可能嵌有姓名或地址，请人工判断：{what}",
            f"the model file may embed names or addresses; a reviewer should judge: {what}",
        )
        return Finding("model_pii", WARN, reason, details)
    reason = Msg("模型文件中未发现个人信息", "no personal data found in the model file")
    return Finding("model_pii", PASS, reason, details)


def model_data_strings(model: OnnxModel, training: pd.DataFrame, names: set[str]) -> Finding:
    """Fail when a string that names or carries data does not occur in the approved training
    columns: feature names, the target and the key column among the approved column ``names``;
    each feature's category labels among the cells of its column in ``training``; class labels
    among the target's values. Details count the strings that do not, never show them."""
    feature_names = [*model.features, model.target, *([model.key["column"]] if model.key else [])]
    bad = {"names": sum(n not in names for n in dict.fromkeys(feature_names))}
    cells: dict[str, set[str]] = {}

    def values(column: str) -> set[str]:
        if column not in cells:
            cells[column] = set(text_column(training[column])) if column in training else set()
        return cells[column]

    categories = model.categories()
    bad["categories"] = sum(
        text_value(c) not in values(f) for f, labels in categories.items() for c in labels
    )
    labels = model.class_labels()
    bad["class_labels"] = sum(text_value(c) not in values(model.target) for c in labels)
    known = {*feature_names, *(text_value(c) for v in categories.values() for c in v)}
    known |= {text_value(c) for c in labels}
    others = [s for s in model.data_strings() if s not in known]  # a kind this check does not
    if others:  # name: any approved column name or cell will do
        anywhere = set(names).union(*(values(c) for c in training.columns))
        bad["other"] = sum(s not in anywhere for s in others)
    else:
        bad["other"] = 0
    strings = len(model.data_strings())
    details = {"strings": strings, **{f"unknown_{k}": v for k, v in bad.items()}}
    if total := sum(bad.values()):
        what = ", ".join(f"{k}×{v}" for k, v in bad.items() if v)
        reason = Msg(
            f"模型中有 {total} 个数据字符串不在获准的训练列中（{what}）：字符串只能来自训练数据",
            f"{total} data strings of the model do not occur in the approved training columns "
            f"({what}): its strings may only come from the training data",
        )
        return Finding("model_data_strings", FAIL, reason, details)
    reason = Msg(
        f"模型的 {strings} 个数据字符串均出现在获准的训练列中",
        f"all {strings} data strings of the model occur in the approved training columns",
    )
    return Finding("model_data_strings", PASS, reason, details)


def _finite(losses: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(losses, dtype=float).ravel()
    return values[np.isfinite(values)]


def attack_auc(member_losses: Sequence[float], holdout_losses: Sequence[float]) -> float:
    """AUC of the loss-threshold attack (score = −loss): the chance that a random member scores
    above a random holdout record, ties counted half (the Mann–Whitney U statistic).

    0.5 is no better than a coin; 1.0 separates every member. Non-finite losses are ignored.

    Raises:
        ValueError: either side has no loss.
    """
    members, holdout = _finite(member_losses), _finite(holdout_losses)
    if not (len(members) and len(holdout)):
        raise ValueError("both sides need at least one finite loss")
    ranks = pd.Series(-np.concatenate([members, holdout])).rank(method="average").to_numpy()
    u = ranks[: len(members)].sum() - len(members) * (len(members) + 1) / 2
    return float(u / (len(members) * len(holdout)))


def tpr_at_fpr(
    member_losses: Sequence[float], holdout_losses: Sequence[float], fpr: float = 0.01
) -> float:
    """The share of members the attack recognizes when it may call at most ``fpr`` of the
    holdout records members (a record is called a member when its loss is below a cut).

    Raises:
        ValueError: either side has no loss.
    """
    members, holdout = _finite(member_losses), _finite(holdout_losses)
    if not (len(members) and len(holdout)):
        raise ValueError("both sides need at least one finite loss")
    allowed = int(np.floor(fpr * len(holdout) + 1e-9))  # holdout records that may fall below
    if allowed >= len(holdout):
        return 1.0
    cut = np.partition(holdout, allowed)[allowed]  # strictly below it: at most `allowed` records
    return float(np.mean(members < cut))


def _sample(frame: pd.DataFrame, target: str, max_records: int, seed: int) -> pd.DataFrame:
    """Rows with a target, at most ``max_records`` of them, the same ones for the same seed."""
    if target in frame.columns:
        frame = frame[frame[target].notna()]
    return frame.sample(max_records, random_state=seed) if len(frame) > max_records else frame


def membership_inference(
    model: OnnxModel,
    members: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    max_auc: float = 0.6,
    max_records: int = 5000,
    seed: int = 0,
    max_tpr: float = MAX_TPR_AT_1PCT_FPR,
) -> Finding:
    """Run the loss-threshold attack on training records (``members``) and unseen records from
    the same population (``holdout``), the model evaluated by onnxruntime (``model.loss``).

    Fails when its AUC exceeds ``max_auc`` or either side has fewer than 50 records with a
    target; warns when the AUC is within the limit but over ``max_tpr`` of the members are
    recognized at a 1 % false-positive rate (a memorized subset).
    """
    details = {"attack": "loss-threshold", "max_auc": max_auc}
    try:
        m_loss = _finite(model.loss(_sample(members, model.target, max_records, seed)))
        h_loss = _finite(model.loss(_sample(holdout, model.target, max_records, seed)))
    except ModelFormatError as e:
        return Finding("membership_inference", FAIL, Msg(e.message_zh, e.message_en), details)
    except Exception:  # noqa: BLE001 - onnxruntime refusing the records: not measurable, so no
        reason = Msg("无法用 onnxruntime 在训练与留出记录上运行模型", "the model cannot be run with onnxruntime on the training and held-out records")  # fmt: skip
        return Finding("membership_inference", FAIL, reason, details)
    details |= {"members": len(m_loss), "holdout": len(h_loss)}
    if min(len(m_loss), len(h_loss)) < MIN_RECORDS:
        reason = Msg(
            f"记录太少，无法度量成员推断风险（训练与留出数据各需至少 {MIN_RECORDS} 条带目标值的记录）",
            f"too few records to measure membership inference (at least {MIN_RECORDS} with a "
            "target are needed from both the training and the holdout data)",
        )
        return Finding("membership_inference", FAIL, reason, details)
    auc, tpr = attack_auc(m_loss, h_loss), tpr_at_fpr(m_loss, h_loss, 0.01)
    details |= {"auc": round(auc, 4), "tpr_at_1pct_fpr": round(tpr, 4)}
    if auc > max_auc:
        reason = Msg(
            f"模型能区分训练记录与未见记录（成员推断 AUC {auc:.3f} > {max_auc}），可能记住了训练数据",
            f"the model tells its training records from unseen ones (membership-inference AUC "
            f"{auc:.3f} > {max_auc}): it may have memorized them",
        )
        return Finding("membership_inference", FAIL, reason, details)
    if tpr > max_tpr:
        reason = Msg(
            f"AUC {auc:.3f} 未超限，但在 1% 误报率下可识别 {tpr:.1%} 的训练记录，可能记住了其中一部分",
            f"the AUC {auc:.3f} is within the limit, but {tpr:.1%} of the training records are "
            "recognized at a 1% false-positive rate: a subset may be memorized",
        )
        return Finding("membership_inference", WARN, reason, details)
    reason = Msg(
        f"成员推断攻击无法区分训练记录（AUC {auc:.3f} ≤ {max_auc}）",
        f"the membership-inference attack cannot tell training records apart (AUC {auc:.3f} ≤ "
        f"{max_auc})",
    )
    return Finding("membership_inference", PASS, reason, details)
