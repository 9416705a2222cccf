"""Statistical disclosure control of tables, in the spirit of ACRO, on what the platform derives
itself — never on what the client declares.

- **Frequencies** are recognised by content: every whole-numbered, non-negative numeric column
  (integers or floats, whatever its name), plus any the client names. Renaming a count or
  storing it as a float does not hide it.
- **Minimum cell count**: an exported frequency below ``min_count`` (default 10) may single
  people out; so may a row whose labels describe fewer than ``min_count`` raw records — counted
  by the platform in the raw table, over the columns the row shares with it (matched by name or
  content). A table of magnitudes with no count column gets its counts this way.
- **Zeros** are flagged (a structural zero can disclose that nobody has an attribute).
- **Dominance (n, k)** and **p-percent**: each magnitude cell's contributions are recomputed
  from the raw records in it (the raw column of the same name, or the one whose per-cell sum,
  mean, maximum or minimum the column reproduces); a cell that is a maximum or minimum is one
  record's value. Contributions the client sends can only add failures.
- **Deny by default**: a magnitude column whose contributions the platform cannot recompute fails
  for a reviewer to judge, rather than passing unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hub.i18n import Msg
from hub.review.checks import values
from hub.review.checks.base import FAIL, PASS, WARN, Context, Finding, register
from hub.review.checks.rawmatch import RawTable, matched, raw_cells, raw_table
from sdk import disclosure
from sdk.identifiers import canonical

STATS = ("sum", "mean", "max", "min", "median")
AGREE = 0.8  # share of cells a raw column's statistic must reproduce to be the column's source


def _numeric(frame: pd.DataFrame, name) -> bool:
    kind = frame[name]
    return pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind)


def count_columns(frame: pd.DataFrame, ctx: Context) -> list[str]:
    """Frequency columns by content (whole, non-negative numbers) and those the client names;
    a column named like a raw numeric column (``age``) is that column, not a count."""
    raw_numbers = {canonical(n) for s in ctx.raw for n in raw_table(s).numbers}
    declared = ctx.table.get("counts")
    declared = {declared} if isinstance(declared, str) else set(declared or ())
    out = []
    for name in frame.columns:
        if not _numeric(frame, name):
            continue
        v = frame[name].dropna()
        whole = bool(len(v)) and bool(((v % 1 == 0) & (v >= 0)).all())
        named = disclosure.COUNT_NAMES.match(str(name)) is not None
        if str(name) in declared or (whole and (named or canonical(name) not in raw_numbers)):
            out.append(str(name))
    return out


def _labels(frame: pd.DataFrame, counts: list[str]) -> list[values.Column]:
    return [c for c in values.columns_of(frame) if c.name not in counts]


def _cell_stats(cell: np.ndarray, raw: np.ndarray, rows: int) -> pd.DataFrame:
    """Per result row (cell): the raw column's statistics and its two largest contributions."""
    keep = (cell >= 0) & ~np.isnan(raw)
    c, v = cell[keep], raw[keep]
    stats = pd.Series(v).groupby(c).agg(list(STATS))
    a = np.abs(v)
    order = np.lexsort((-a, c))
    c, a = c[order], a[order]
    starts = np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, dtype=bool)
    rank = np.arange(len(c)) - np.maximum.accumulate(np.where(starts, np.arange(len(c)), 0))
    stats["top1"] = pd.Series(a[rank == 0], index=c[rank == 0])
    stats["top2"] = pd.Series(a[rank == 1], index=c[rank == 1])
    stats["top2"] = stats["top2"].fillna(0.0)
    stats["abs_total"] = pd.Series(a).groupby(c).sum()
    return stats.reindex(range(rows))


def _source(values_: pd.Series, stats: dict[str, pd.DataFrame]) -> tuple[str, str] | None:
    """The raw column and statistic the exported magnitudes reproduce, if any."""
    v = values_.to_numpy(dtype=float, na_value=np.nan)
    for raw_name, table in stats.items():
        for stat in STATS:
            ref = table[stat].to_numpy(dtype=float)
            both = ~np.isnan(v) & ~np.isnan(ref)
            if both.sum() and np.isclose(v[both], ref[both], rtol=1e-6, atol=0.006).mean() >= AGREE:
                return raw_name, stat
    return None


@dataclass(frozen=True)
class RawCells:
    """One raw source seen through a table: which result columns are raw columns, and the
    result row (cell) each raw record falls in (-1: none)."""

    name: str
    table: RawTable
    mapping: dict[str, str]
    cell: np.ndarray


def _raw_cells(labels: list[values.Column], ctx: Context) -> list[RawCells]:
    out = []
    for source in ctx.raw:
        table = raw_table(source)
        mapping = matched(labels, table)
        if mapping:
            out.append(RawCells(source.name, table, mapping, raw_cells(labels, mapping, table)))
    return out


def _magnitudes(
    frame: pd.DataFrame, counts: list[str], cells: list[RawCells]
) -> tuple[dict, list[str]]:
    """Per magnitude column (numeric, neither a count nor a raw column itself), its
    contributions recomputed from raw records (``[top1, top2, total]`` per cell) and the raw
    statistic it reproduces; and the columns that could not be recomputed."""
    mapped = {name for c in cells for name in c.mapping}
    names = [
        str(n) for n in frame.columns
        if _numeric(frame, n) and str(n) not in counts and str(n) not in mapped
    ]  # fmt: skip
    found, unverified = {}, list(names)
    for raw in cells:
        if not unverified:
            break
        stats = {n: _cell_stats(raw.cell, v, len(frame)) for n, v in raw.table.numbers.items()}
        by_name = {canonical(n): n for n in stats}
        for name in list(unverified):
            same = by_name.get(canonical(name))
            hit = _source(frame[name], stats)
            raw_name, stat = hit if hit else (same, None)
            if raw_name is None:
                continue
            s = stats[raw_name].dropna(subset=["top1"])
            found[name] = {
                "raw": f"{raw.name}.{raw_name}",
                "statistic": stat,
                "contributions": s[["top1", "top2", "abs_total"]].to_numpy().tolist(),
            }
            unverified.remove(name)
    return found, unverified


def _raw_small(rows: int, cells: list[RawCells], min_count: int) -> dict:
    """Per raw source: rows whose labels describe fewer than ``min_count`` raw records."""
    out = {}
    for raw in cells:
        freq = np.bincount(raw.cell[raw.cell >= 0], minlength=rows)
        small = int(((freq > 0) & (freq < min_count)).sum())
        if small:
            out[raw.name] = {"rows": small, "columns": raw.mapping}
    return out


@register("sdc")
def disclosure_control(frame: pd.DataFrame, ctx: Context) -> Finding:
    lim = ctx.limits
    problems, details = [], {}
    counts = count_columns(frame, ctx)
    for column in counts:
        small, zeros = disclosure.small_and_zero(frame[column].fillna(0), lim.min_count)
        details[column] = {"below_min": small, "zeros": zeros}
        if small:
            problems.append(
                (FAIL, f"{column} 有 {small} 个单元格小于 {lim.min_count}",
                 f"{column} has {small} cell(s) below {lim.min_count}")
            )  # fmt: skip
        if zeros:
            problems.append(
                (WARN, f"{column} 有 {zeros} 个零值单元格", f"{column} has {zeros} zero cell(s)")
            )
    cells = _raw_cells(_labels(frame, counts), ctx)
    raw_small = _raw_small(len(frame), cells, lim.min_count)
    if raw_small:
        n = sum(v["rows"] for v in raw_small.values())
        details["raw_frequency"] = raw_small
        problems.append(
            (FAIL, f"{n} 行对应的原始记录少于 {lim.min_count} 条",
             f"{n} row(s) describe fewer than {lim.min_count} raw records")
        )  # fmt: skip
    magnitudes, unverified = _magnitudes(frame, counts, cells)
    contributions = [c for m in magnitudes.values() for c in m["contributions"]]
    contributions += list(ctx.table.get("contributions") or [])  # can only add failures
    extremes = [n for n, m in magnitudes.items() if m["statistic"] in ("max", "min")]
    if contributions:
        dominated, p_fail = disclosure.magnitude_problems(
            contributions, lim.dominance_n, lim.dominance_k, lim.p_percent
        )
        details["magnitude"] = {"dominance": dominated, "p_percent": p_fail,
                                "columns": {n: m["raw"] for n, m in magnitudes.items()}}  # fmt: skip
        if dominated:
            problems.append(
                (FAIL, f"{dominated} 个单元格由前 {lim.dominance_n} 名贡献者主导（>{lim.dominance_k:.0%}）",
                 f"{dominated} cell(s) dominated by the top {lim.dominance_n} contributors "
                 f"(> {lim.dominance_k:.0%})")
            )  # fmt: skip
        if p_fail:
            problems.append(
                (FAIL, f"{p_fail} 个单元格未通过 p% 规则（p={lim.p_percent:.0%}）",
                 f"{p_fail} cell(s) fail the p-percent rule (p = {lim.p_percent:.0%})")
            )  # fmt: skip
    if extremes:
        details["extremes"] = extremes
        what = ", ".join(extremes)
        problems.append(
            (FAIL, f"{what} 为各组最大或最小值，即单条记录的数值",
             f"{what} are per-group maxima or minima: one record's value each")
        )  # fmt: skip
    if unverified:
        details["unverified"] = unverified
        what = ", ".join(unverified)
        problems.append(
            (FAIL, f"无法用原始数据核算 {what} 的贡献（优势与 p% 规则），需人工审核",
             f"the contributions behind {what} cannot be recomputed from raw data (dominance, "
             "p-percent): a reviewer must judge")
        )  # fmt: skip
    if not problems:
        checked = ", ".join(details) or "—"
        return Finding(
            "sdc",
            PASS,
            Msg(
                f"统计披露控制通过（检查：{checked}）",
                f"disclosure control passed (checked: {checked})",
            ),
            details,
        )
    verdict = FAIL if any(p[0] == FAIL for p in problems) else WARN
    return Finding(
        "sdc",
        verdict,
        Msg("；".join(p[1] for p in problems), "; ".join(p[2] for p in problems)),
        details,
    )
