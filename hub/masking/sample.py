"""Desensitized samples: which rows, which columns, masked how, and k-anonymous.

A tenant's scenario sees a sample of a dataset, never the table: the same rows on every call for
one (tenant, scenario, dataset) — so repeated calls cannot rebuild the table — at most
``max_rows`` and ``max_fraction`` of it, only the approved columns, each masked by its catalog
policy (fixed there, or suggested by the column's PII kind), free text masked inline, and rows
whose quasi-identifier combination is shared by fewer than ``k`` sampled rows have those cells
suppressed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hub.masking import operators
from hub.masking.operators import MaskContext

if TYPE_CHECKING:
    import pyarrow as pa

# The demo catalog's PII kinds, as detector entities (whose default operator is suggested).
PII_ENTITIES = {
    "resident_id": "CN_RESIDENT_ID",
    "mobile": "CN_MOBILE",
    "name": "CN_NAME",
    "address": "CN_ADDRESS",
    "uscc": "CN_USCC",
    "bank_card": "CN_BANK_CARD",
    "plate": "CN_LICENSE_PLATE",
    "email": "EMAIL_ADDRESS",
}


@dataclass(frozen=True)
class SampleLimits:
    max_rows: int = 10_000
    max_fraction: float = 0.05
    k: int = 5


@dataclass
class Sample:
    frame: pd.DataFrame
    rows_drawn: int  # before k-anonymity suppression
    suppressed: int  # rows whose quasi-identifiers were suppressed (or that were dropped)
    masked_cells: int


def _seed(*parts: str) -> int:
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def sample_rows(
    total: int, tenant: str, scenario: str, dataset: str, limits: SampleLimits
) -> np.ndarray:
    """Sorted row positions of the sample: fixed per (tenant, scenario, dataset), capped."""
    n = min(limits.max_rows, int(total * limits.max_fraction), total)
    rng = np.random.default_rng(_seed("shuyu.sample.v1", tenant, scenario, dataset))
    return np.sort(rng.choice(total, size=max(n, 0), replace=False))


def column_policy(column: dict) -> tuple[str, dict] | None:
    """The catalog's masking policy of a column: fixed (``mask``), else suggested from its PII
    kind; ``None`` for a column served as it is."""
    from hub.masking.detectors import suggest_policy

    if column.get("mask"):
        return column["mask"]["operator"], dict(column["mask"].get("params", {}))
    kind = column.get("pii")
    if kind == "free_text":
        return "free_text", {}
    if kind in PII_ENTITIES:
        return suggest_policy(PII_ENTITIES[kind])
    return None


def identifying_columns(schema: list[dict]) -> list[str]:
    """The columns whose values identify someone (the PII kinds other than free text)."""
    return [c["name"] for c in schema if c.get("pii") in PII_ENTITIES]


def scrub_known(text: pd.Series, known: pd.DataFrame, schema: list[dict]) -> pd.Series:
    """Replace, in each row's text, the row's own values of the identifying columns ``known``
    holds (its patient's name, ID, mobile …) by their entity tag — what a detector could miss
    in free text, the record itself names."""
    tags = {
        c["name"]: f"<{PII_ENTITIES[c['pii']]}>" for c in schema if c.get("pii") in PII_ENTITIES
    }
    columns = [c for c in known.columns if c in tags]
    if not columns:
        return text
    values = known[columns].astype(object).where(known[columns].notna(), None).to_numpy()
    out = []
    for cell, row in zip(text.to_numpy(), values, strict=True):
        if isinstance(cell, str):
            for column, value in zip(columns, row, strict=True):
                value = "" if value is None else str(value)
                if len(value) >= 2 and value in cell:
                    cell = cell.replace(value, tags[column])
        out.append(cell)
    return pd.Series(out, index=text.index, name=text.name, dtype=object)


def desensitize(
    frame: pd.DataFrame,
    schema: list[dict],
    ctx: MaskContext,
    known: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, int]:
    """Mask every column of ``frame`` by its policy; the masked frame and how many cells changed
    hands through a masking operator (for metering). Free text is scrubbed of the row's values
    in ``known`` (raw identifying columns, aligned with ``frame``), then scanned by the
    detectors."""
    from hub.masking.detectors import mask_text

    by_name = {c["name"]: c for c in schema}
    out, masked = {}, 0
    for name in frame.columns:
        policy = column_policy(by_name.get(name, {}))
        series = frame[name]
        if policy is None:
            out[name] = series
            continue
        op, params = policy
        if op == "free_text":
            scrubbed = series if known is None else scrub_known(series, known, schema)
            result = scrubbed.map(mask_text)
        else:
            result = operators.apply(op, series, ctx, **params)
        masked += int(series.notna().sum())
        if result is not None:
            out[name] = result
    return pd.DataFrame(out, index=frame.index), masked


def k_anonymous(frame: pd.DataFrame, quasi: list[str], k: int) -> tuple[pd.DataFrame, int]:
    """Suppress the ``quasi`` cells of the rows whose combination of them occurs fewer than
    ``k`` times (they become null, so those rows form one class together); if fewer than ``k``
    rows fail, they are dropped instead. Returns the frame and how many rows were affected."""
    present = [q for q in quasi if q in frame.columns]
    if not present or frame.empty:
        return frame, 0
    sizes = frame.groupby(present, dropna=False)[present[0]].transform("size")
    rare = sizes < k
    failing = int(rare.sum())
    if failing == 0:
        return frame, 0
    if failing < k:
        return frame[~rare], failing
    out = frame.copy()
    for column in present:
        out[column] = out[column].astype(object).where(~rare, None)
    return out, failing


def build_sample(
    raw: pd.DataFrame | pa.Table,
    schema: list[dict],
    approved: list[str],
    *,
    tenant: str,
    scenario: str,
    dataset: str,
    ctx: MaskContext,
    limits: SampleLimits = SampleLimits(),  # noqa: B008 - frozen
) -> Sample:
    """The desensitized sample of ``raw`` (a DataFrame or an Arrow table, of which only the
    sampled rows of the approved columns are converted) that ``tenant``'s ``scenario`` may see."""
    rows = sample_rows(len(raw), tenant, scenario, dataset, limits)
    free_text = [c["name"] for c in schema if c.get("pii") == "free_text" and c["name"] in approved]
    wanted = list(dict.fromkeys([*approved, *(identifying_columns(schema) if free_text else [])]))
    if isinstance(raw, pd.DataFrame):
        drawn = raw.iloc[rows][wanted].reset_index(drop=True)
    else:
        drawn = raw.select(wanted).take(rows).to_pandas()
    known = drawn[[c for c in wanted if c in identifying_columns(schema)]] if free_text else None
    masked, cells = desensitize(drawn[list(approved)], schema, ctx, known)
    quasi = [c["name"] for c in schema if c.get("quasi")]
    frame, suppressed = k_anonymous(masked, quasi, limits.k)
    return Sample(frame.reset_index(drop=True), len(rows), suppressed, cells)
