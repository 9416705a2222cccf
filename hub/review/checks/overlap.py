"""Overlap with raw records: a result that holds a raw identifier (in any spelling, reversed,
encoded, digit-shifted, split over columns — in any order, far apart — or written down the rows of
one), or whose rows reproduce raw records on the columns
they share with the raw table (matched by name or content, not only the declared identifiers and
quasi-identifiers), points at real people."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hub.i18n import Msg
from hub.review.checks import chains, spread, values
from hub.review.checks.base import FAIL, PASS, Context, Finding, RawSource, register
from hub.review.checks.rawmatch import RawTable, matched, raw_frequency, raw_table
from hub.review.checks.sdc import count_columns


@dataclass(frozen=True)
class Known:
    """A source's raw identifiers in every form they are matched in (computed once per version
    of the raw file)."""

    values: pa.Array  # distinct canonical values
    both: pa.Array  # and reversed
    shifted: pa.Array  # shift-free forms of both
    lengths: list[int]  # lengths read down the rows of a column


@lru_cache(maxsize=8)
def _known(path: str, mtime: int, identifiers: tuple[str, ...]) -> Known:
    table = raw_table(RawSource("", path, identifiers, ()))
    parts = [table.columns[c].text for c in identifiers if c in table.columns]
    known = pc.unique(pa.concat_arrays(parts)) if parts else pa.array([], pa.large_string())
    both, shifted = spread.known_forms(known)
    return Known(known, both, shifted, spread.lengths_of(known))


def known_of(source: RawSource) -> Known:
    return _known(source.path, os.stat(source.path).st_mtime_ns, source.identifiers)


def _identifier_hits(
    columns: list[values.Column], headers: values.Column, known: Known
) -> dict[str, int]:
    """Cells (per column, per join of columns, per window down a column, or among the headers)
    holding a raw identifier: as written, reversed, decoded or with its digits shifted. Every
    candidate is matched in one pass (a lookup set is built per pass)."""
    if not len(known.values):
        return {}
    texts, groups = [], []  # groups: (label, owner, counts) per text, or (label, None, None)
    for col in [*columns, headers]:
        if col.decimal:  # no identifier is a fraction
            continue
        text, owner = values.with_variants(col)
        texts.append(text)
        groups.append((col.name, owner, col.counts, False))
    for wide in (False, True):
        for label, text, owner, counts in values.joined(columns, wide):
            texts.append(text)
            groups.append((label, owner, counts, False))
    for label, text in spread.down_rows(columns, known.lengths):
        texts.append(text)
        groups.append((label, None, None, True))
    for label, found in chains.chained(columns).items():  # four pieces or more, any order
        texts.append(pa.array(list(found), pa.large_string()))
        groups.append((label, np.arange(len(found)), np.array(list(found.values())), False))
    if not texts:
        return {}
    sizes = np.cumsum([0] + [len(t) for t in texts])
    everything = pa.concat_arrays([pc.cast(t, pa.large_string()) for t in texts])
    shift = np.ones(len(everything), dtype=bool)  # digits shifted: cells, joins and down rows
    either = spread.matches(everything, known.both, known.shifted, shift)
    hits: dict[str, int] = {}
    for i, (label, owner, counts, window) in enumerate(groups):
        inside = either[sizes[i] : sizes[i + 1]]
        if not inside.any():
            continue
        found = int(inside.sum()) if window else int(counts[np.unique(owner[inside])].sum())
        hits[label] = hits.get(label, 0) + found
    return hits


def _reproduced(columns: list[values.Column], table: RawTable, skip: set[str], k: int) -> tuple:
    """Rows whose values on every column they share with the raw table (two or more) are those
    of fewer than ``k`` raw records, and which columns were compared."""
    mapping = matched(columns, table, skip)
    if len(mapping) < 2:
        return 0, mapping
    freq = raw_frequency(columns, mapping, table)
    return int(((freq > 0) & (freq < k)).sum()), mapping


@register("raw_overlap")
def raw_overlap(frame: pd.DataFrame, ctx: Context) -> Finding:
    columns = values.columns_of(frame)
    counts = set(count_columns(frame, ctx))
    by_source = {}
    for source in ctx.raw:
        table = raw_table(source)
        headers = pd.Series([str(c) for c in frame.columns])  # a header is released as well
        names = values.column(headers, "(column names)")
        ids = _identifier_hits(columns, names, known_of(source))
        rows, mapping = _reproduced(columns, table, counts, ctx.limits.quasi_k)
        if ids or rows:
            by_source[source.name] = {
                "identifier_cells": ids,
                "reproduced_rows": rows,
                "compared": mapping,
            }
    if by_source:
        what = "; ".join(
            f"{name}: {sum(v['identifier_cells'].values())} identifier cells, "
            f"{v['reproduced_rows']} rows reproducing raw records"
            for name, v in by_source.items()
        )
        what_zh = "；".join(
            f"{name}：{sum(v['identifier_cells'].values())} 个标识单元格，"
            f"{v['reproduced_rows']} 行与原始记录一致"
            for name, v in by_source.items()
        )
        return Finding(
            "raw_overlap",
            FAIL,
            Msg(f"结果与原始记录重合（{what_zh}）", f"the result matches raw records ({what})"),
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
