"""A result's columns matched to a raw table's, by name or by content, in canonical spelling.

The overlap check asks whether a result's rows reproduce raw records on the columns they share;
the disclosure check asks how many raw records stand behind each row of a table. Both need the
same map from result columns to raw columns, computed by the platform from the data it holds:
a column is the raw column of the same (canonical) name, or the raw column that holds nearly all
of its distinct values — renaming a column does not hide it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from hub.review.checks import values
from hub.review.checks.base import RawSource
from sdk.identifiers import canonical

DATE_PARTS = {"·date": "%Y-%m-%d", "·month": "%Y-%m"}  # raw timestamps also match as these
CONTAINED = 0.9  # share of a result column's distinct values a raw column must hold to match it


@dataclass(frozen=True)
class RawTable:
    """A raw file's columns as :class:`values.Column` (cached per version of the file)."""

    rows: int
    columns: dict[str, values.Column]
    numbers: dict[str, np.ndarray]  # numeric raw columns as floats (NaN for nulls)


@lru_cache(maxsize=8)
def _load(path: str, mtime: int) -> RawTable:
    frame = pd.read_parquet(path)
    cols, numbers = {}, {}
    for name in frame.columns:
        col = values.column(frame[name], str(name))
        if col is not None:
            cols[str(name)] = col
        if pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(
            frame[name]
        ):
            numbers[str(name)] = frame[name].to_numpy(dtype=float, na_value=np.nan)
        if pd.api.types.is_datetime64_any_dtype(frame[name]):  # a day or month of a timestamp
            for part, spelling in DATE_PARTS.items():
                derived = frame[name].dt.strftime(spelling)
                cols[f"{name}{part}"] = values.column(derived, f"{name}{part}")
    return RawTable(len(frame), cols, numbers)


def raw_table(source: RawSource) -> RawTable:
    return _load(source.path, os.stat(source.path).st_mtime_ns)


def translate(col: values.Column, raw: values.Column) -> np.ndarray:
    """Per row of ``col``, the code of the same canonical value in ``raw`` (-1: not there)."""
    where = pc.index_in(col.text, value_set=raw.text).to_numpy(zero_copy_only=False)
    where = np.where(np.isnan(where.astype(float)), -1, where).astype(np.int64)
    return np.where(col.codes >= 0, where[np.maximum(col.codes, 0)], -1)


def containment(col: values.Column, raw: values.Column) -> float:
    """The share of ``col``'s distinct values that ``raw`` holds (a sample of 200 first: most
    pairs of columns share nothing)."""
    if not len(col.text):
        return 0.0
    held = raw.memo.get("set")
    if held is None:
        held = raw.memo["set"] = set(raw.text.to_pylist())
    sample = col.text[:200].to_pylist()
    share = sum(v in held for v in sample) / len(sample)
    if len(col.text) <= 200 or share < CONTAINED * 0.9:
        return share
    return float(pc.sum(pc.is_in(col.text, value_set=raw.text)).as_py() or 0) / len(col.text)


def matched(
    columns: list[values.Column], table: RawTable, skip: set[str] = frozenset()
) -> dict[str, str]:
    """Result column -> raw column: the one of the same canonical name (holding half its values
    or more), else the raw column holding at least :data:`CONTAINED` of its distinct values (the
    best one); each raw column used once."""
    by_name = {canonical(n): n for n in table.columns}
    out: dict[str, str] = {}
    for col in columns:
        if col.name in skip:
            continue
        same = by_name.get(canonical(col.name))
        if (
            same is not None
            and same not in out.values()
            and containment(col, table.columns[same]) >= 0.5
        ):
            out[col.name] = same
            continue
        best, score = None, CONTAINED
        for name, raw in table.columns.items():
            if name in out.values() or (raw.numeric and len(col.text) < 5):
                continue
            share = containment(col, raw)
            if share >= score:
                best, score = name, share
        if best is not None:
            out[col.name] = best
    return out


def _keys(
    columns: list[values.Column], mapping: dict[str, str], table: RawTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One compact key per raw record and per result row over the mapped columns, and which
    result rows hold a value the raw column lacks."""
    by_name = {c.name: c for c in columns}
    pairs = [(by_name[a], table.columns[b]) for a, b in mapping.items()]
    rows = len(pairs[0][0].codes)
    both = np.zeros(table.rows + rows, dtype=np.int64)
    missing = np.zeros(rows, dtype=bool)
    for col, raw in pairs:
        here = translate(col, raw)
        missing |= here < 0
        codes = np.concatenate([raw.codes, here]) + 1
        both = pd.factorize(both * (len(raw.text) + 1) + codes)[0].astype(np.int64)
    return both[: table.rows], both[table.rows :], missing


def raw_frequency(
    columns: list[values.Column], mapping: dict[str, str], table: RawTable
) -> np.ndarray:
    """Per result row, how many raw records share its values on every mapped column (0: none;
    the row does not describe raw records on these columns)."""
    raw_key, key, missing = _keys(columns, mapping, table)
    counts = np.bincount(
        raw_key, minlength=int(max(raw_key.max(initial=0), key.max(initial=0))) + 1
    )
    return np.where(missing, 0, counts[key])


def raw_cells(columns: list[values.Column], mapping: dict[str, str], table: RawTable) -> np.ndarray:
    """Per raw record, the result row whose cell it falls in (-1: none); result rows are cells
    here, their mapped values a key (the first row of a repeated key takes the cell)."""
    raw_key, key, missing = _keys(columns, mapping, table)
    first = np.full(int(max(raw_key.max(initial=0), key.max(initial=0))) + 1, -1, dtype=np.int64)
    rows = np.flatnonzero(~missing)[::-1]
    first[key[rows]] = rows  # reversed: the first row wins
    return first[raw_key]
