"""Overlap with raw records: a result row that matches a raw record by an identifier, or by a
combination of quasi-identifiers that is rare in the raw table, points at a real person."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hub.i18n import Msg
from hub.masking.recognizers import FULLWIDTH
from hub.review.checks import FAIL, PASS, Context, Finding, RawSource, register
from hub.review.checks.pii import FULL_WIDTH


def _normalized(values: pa.Array) -> pa.Array:
    """Text without surrounding blanks, full-width digits and signs folded (only if any)."""
    if pc.any(pc.match_substring_regex(values, FULL_WIDTH)).as_py():
        values = pa.array([v.translate(FULLWIDTH) for v in values.to_pylist()], pa.large_string())
    return pc.utf8_trim_whitespace(values)


@lru_cache(maxsize=16)
def _raw_identifiers(path: str, mtime: int, columns: tuple[str, ...]) -> pa.Array:
    """Every distinct raw value of the identifying ``columns`` of one raw file (cached per
    version of the file)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=list(columns))
    parts = [
        pc.cast(pc.drop_null(table.column(c)).combine_chunks(), pa.large_string()) for c in columns
    ]
    return pc.unique(_normalized(pa.concat_arrays(parts)))


def _identifier_hits(frame: pd.DataFrame, source: RawSource) -> dict[str, int]:
    if not source.identifiers:
        return {}
    known = _raw_identifiers(source.path, os.stat(source.path).st_mtime_ns, source.identifiers)
    hits = {}
    for name in frame.columns:
        column = frame[name].dropna()
        if (
            column.empty
            or pd.api.types.is_float_dtype(column)
            or pd.api.types.is_bool_dtype(column)
        ):
            continue
        codes, uniques = pd.factorize(column.astype(str))
        values = _normalized(pa.array(np.asarray(uniques, dtype=object), type=pa.large_string()))
        inside = pc.is_in(values, value_set=known).to_numpy(zero_copy_only=False)
        if inside.any():
            hits[str(name)] = int(inside[codes].sum())
    return hits


def _quasi_hits(frame: pd.DataFrame, source: RawSource, k: int) -> int:
    """Result rows whose quasi-identifier combination is shared by fewer than ``k`` raw rows."""
    quasi = list(source.quasi)
    if not quasi or not set(quasi) <= set(frame.columns):
        return 0
    import pyarrow.parquet as pq

    raw = pq.read_table(source.path, columns=quasi).to_pandas().astype(str)
    rare = raw.value_counts().loc[lambda c: c < k].reset_index()[quasi]
    if rare.empty:
        return 0
    return len(frame[quasi].astype(str).merge(rare, on=quasi, how="inner"))


@register("raw_overlap")
def raw_overlap(frame: pd.DataFrame, ctx: Context) -> Finding:
    by_source = {}
    for source in ctx.raw:
        ids = _identifier_hits(frame, source)
        quasi = _quasi_hits(frame, source, ctx.limits.quasi_k)
        if ids or quasi:
            by_source[source.name] = {"identifier_cells": ids, "rare_quasi_rows": quasi}
    if by_source:
        what = "; ".join(
            f"{name}: {sum(v['identifier_cells'].values())} identifier cells, "
            f"{v['rare_quasi_rows']} rows by quasi-identifiers"
            for name, v in by_source.items()
        )
        return Finding(
            "raw_overlap",
            FAIL,
            Msg(f"结果与原始记录重合（{what}）", f"the result matches raw records ({what})"),
            {"sources": by_source},
        )
    return Finding(
        "raw_overlap",
        PASS,
        Msg(
            f"与 {len(ctx.raw)} 个原始数据集无重合",
            f"no overlap with the {len(ctx.raw)} raw dataset(s) of the scenario",
        ),
        {"sources": {}},
    )
