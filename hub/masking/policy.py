"""One key for what a column holds, and the policy a column gets at registration.

A catalog column records its personal-data kind under ``pii`` (``resident_id``, ``mobile``,
``landline``, ``name``, ``address``, ``uscc``, ``bank_card``, ``plate``, ``email`` or
``free_text``) and its
masking under ``mask``. Registrations made before this module wrote the detector's entity under
``pii_entity``; :func:`pii_kind` still reads those (migration 0007 rewrites them).

:func:`classify` decides a column's kind from its values (folded first: see
:mod:`hub.masking.normal`) and its header (:mod:`hub.masking.headers`); above level 1, a text
column that is neither is scanned cell by cell as free text — deny by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Personal-data kinds, as detector entities (whose default operator is suggested).
PII_ENTITIES = {
    "resident_id": "CN_RESIDENT_ID",
    "mobile": "CN_MOBILE",
    "landline": "CN_LANDLINE",
    "name": "CN_NAME",
    "address": "CN_ADDRESS",
    "uscc": "CN_USCC",
    "bank_card": "CN_BANK_CARD",
    "plate": "CN_LICENSE_PLATE",
    "email": "EMAIL_ADDRESS",
}
KIND_OF = {entity: kind for kind, entity in PII_ENTITIES.items()}
FREE_TEXT = "free_text"
KINDS = (*PII_ENTITIES, FREE_TEXT)
# Operators whose output is made by the platform, not cut from the raw value: nothing in it to
# scrub (and scrubbing a surrogate e-mail would only spoil it).
SYNTHETIC = frozenset({"pseudonym", "surrogate", "drop"})


def pii_kind(column: dict) -> str | None:
    """The column's kind: ``pii``, or the entity a legacy registration stored as ``pii_entity``."""
    kind = column.get("pii")
    if kind in KINDS:
        return kind
    return KIND_OF.get(column.get("pii_entity") or "")


def identifying_columns(schema: list[dict]) -> list[str]:
    """The columns whose values identify someone (the kinds other than free text)."""
    return [c["name"] for c in schema if pii_kind(c) in PII_ENTITIES]


def tags(schema: list[dict]) -> dict[str, str]:
    """Identifying column → the tag its values are replaced by in text (``<CN_MOBILE>``)."""
    return {
        c["name"]: f"<{PII_ENTITIES[pii_kind(c)]}>" for c in schema if pii_kind(c) in PII_ENTITIES
    }


def column_policy(column: dict) -> tuple[str, dict] | None:
    """The catalog's masking policy of a column: fixed (``mask``), else suggested from its
    kind; ``None`` for a column with no operator (served under the scrub alone)."""
    from hub.masking.detectors import suggest_policy

    if column.get("mask"):
        return column["mask"]["operator"], dict(column["mask"].get("params", {}))
    kind = pii_kind(column)
    if kind == FREE_TEXT:
        return FREE_TEXT, {}
    if kind in PII_ENTITIES:
        return suggest_policy(PII_ENTITIES[kind])
    return None


@dataclass(frozen=True)
class Classified:
    """What registration concluded about one column, and on what evidence."""

    kind: str | None
    basis: str  # "values", "header", "default" (deny by default) or "none"
    ratio: float = 0.0


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def classify(header: str, values: pd.Series, level: int, sample: int = 1000) -> Classified:
    """A column's kind from its values (most of them are one entity), else its header (姓名,
    证件号码, remark …), else — for text columns of a dataset above level 1, or text in which
    the recognizers find anything — free text, scanned cell by cell."""
    from hub.masking.detectors import detect_column
    from hub.masking.headers import header_kind
    from hub.masking.scan import find

    found = detect_column(values, sample=sample)
    if found is not None:
        return Classified(KIND_OF[found.entity], "values", found.ratio)
    hinted = header_kind(header)
    if hinted is not None:
        return Classified(hinted, "header")
    if not _is_text(values):
        return Classified(None, "none")
    if level > 1:
        return Classified(FREE_TEXT, "default")
    texts = values.dropna().astype(str).unique()[:sample]
    if any(find(t) for t in texts):
        return Classified(FREE_TEXT, "values")
    return Classified(None, "none")
