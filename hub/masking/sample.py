"""Desensitized samples: which rows, which columns, masked how, and k-anonymous.

A tenant's scenario sees a sample of a dataset, never the table: the same rows on every call for
one (tenant, scenario, dataset) — so repeated calls cannot rebuild the table — at most
``max_rows`` and ``max_fraction`` of it, only the approved columns, each masked by its catalog
policy (fixed there, or suggested by the column's PII kind), every served cell scrubbed of
personal data whatever its policy (:mod:`hub.masking.scan`), and rows whose quasi-identifier
combination is shared by fewer than ``k`` sampled rows have those cells suppressed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hub.masking import operators
from hub.masking.operators import MaskContext
from hub.masking.policy import (  # noqa: F401 - PII_ENTITIES and column_policy are read from here
    FREE_TEXT,
    PII_ENTITIES,
    SYNTHETIC,
    column_policy,
    identifying_columns,
    tags,
)
from hub.masking.scan import scrub
from hub.settings import SampleLimits  # noqa: F401 - read from here too

if TYPE_CHECKING:
    import pyarrow as pa


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


def desensitize(
    frame: pd.DataFrame,
    schema: list[dict],
    ctx: MaskContext,
    known: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, int]:
    """Mask every column of ``frame`` by its policy, then scrub every served cell: text of the
    row's own values in ``known`` (raw identifying columns, aligned with ``frame``) and of
    everything the detectors find, numbers of identifiers written as numbers. Returns the
    masked frame and how many cells went through a masking operator (for metering).

    The scrub is not a policy: it runs on columns with no operator, on kept ones and on what
    operators cut from the raw value (a mask, a generalisation), so nothing is served raw
    because no detector recognised its column."""
    by_name = {c["name"]: c for c in schema}
    known_tags = tags(schema)
    out, masked = {}, 0
    for name in frame.columns:
        policy = column_policy(by_name.get(name, {}))
        series = frame[name]
        op = None
        if policy is not None:
            op, params = policy
            masked += int(series.notna().sum()) if op != "keep" else 0
            if op not in (FREE_TEXT, "keep"):
                series = operators.apply(op, series, ctx, **params)
        if series is None:
            continue
        out[name] = series if op in SYNTHETIC else scrub(series, known, known_tags)
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
    names = list(raw.columns) if isinstance(raw, pd.DataFrame) else raw.column_names
    ids = [c for c in identifying_columns(schema) if c in names]
    wanted = list(dict.fromkeys([*approved, *ids]))
    if isinstance(raw, pd.DataFrame):
        drawn = raw.iloc[rows][wanted].reset_index(drop=True)
    else:
        drawn = raw.select(wanted).take(rows).to_pandas()
    known = drawn[ids] if ids else None
    masked, cells = desensitize(drawn[list(approved)], schema, ctx, known)
    quasi = [c["name"] for c in schema if c.get("quasi")]
    frame, suppressed = k_anonymous(masked, quasi, limits.k)
    return Sample(frame.reset_index(drop=True), len(rows), suppressed, cells)
