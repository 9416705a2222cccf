"""Differencing: a new frequency table against every table the company released before. Two
releases whose counts differ by fewer than ``min_count`` (but not zero) — in a cell with the same
labels, or in their totals — let a reader subtract one from the other and isolate those few
people. Counts are recognised by content in both tables (a renamed or float count column is
still one), and label columns are paired by name or by the values they hold."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from hub.i18n import Msg
from hub.review.checks import values
from hub.review.checks.base import FAIL, PASS, Context, Finding, register
from hub.review.checks.sdc import count_columns


def _label_pairs(new: pd.DataFrame, old: pd.DataFrame, counts: set[str]) -> list[tuple[str, str]]:
    """New label column -> old label column: same name, else the same set of values."""

    def sets(frame: pd.DataFrame, skip: set[str]) -> dict[str, frozenset]:
        out = {}
        for n in frame.columns:
            if str(n) in skip:
                continue
            col = values.column(frame[n], str(n))
            if col is not None:
                out[str(n)] = frozenset(col.text.to_pylist())
        return out

    old_counts = set(count_columns(old, Context()))
    a, b = sets(new, counts), sets(old, old_counts)
    pairs, used = [], set()
    for name, vals in a.items():
        match = name if name in b else next((o for o, v in b.items() if v == vals), None)
        if match is not None and match not in used:
            pairs.append((name, match))
            used.add(match)
    return pairs


def _key(frame: pd.DataFrame, columns: list[str]) -> list[pd.Series]:
    return [
        pd.Series(values.canonical_array(pa.array(frame[c].astype(str))).to_pylist(),
                  index=frame.index)
        for c in columns
    ]  # fmt: skip


def _isolating(new, old, count: str, old_count: str, pairs, threshold: int) -> int:
    diff_total = abs(float(new[count].sum()) - float(old[old_count].sum()))
    comparable = bool(pairs) or count == old_count  # totals of the same population
    isolated = int(comparable and 0 < diff_total < threshold)
    if pairs:
        a = new[count].groupby(_key(new, [p[0] for p in pairs])).sum()
        b = old[old_count].groupby(_key(old, [p[1] for p in pairs])).sum()
        both = a.index.intersection(b.index)
        diff = (a[both] - b[both]).abs()
        isolated += int(((diff > 0) & (diff < threshold)).sum())
    return isolated


@register("differencing")
def differencing(frame: pd.DataFrame, ctx: Context) -> Finding:
    counts = count_columns(frame, ctx)
    threshold = ctx.limits.min_count
    hits = []
    for i, old in enumerate(ctx.releases):
        old_counts = count_columns(old, Context())
        if not counts or not old_counts:
            continue
        pairs = _label_pairs(frame, old, set(counts))
        for count in counts:
            for old_count in old_counts:
                n = _isolating(frame, old, count, old_count, pairs, threshold)
                if n:
                    hits.append({"release": i, "column": count, "earlier": old_count, "cells": n})
    if hits:
        return Finding(
            "differencing",
            FAIL,
            Msg(
                f"与已发布结果相减可识别少于 {threshold} 人（{len(hits)} 处）",
                f"subtracting an earlier release isolates fewer than {threshold} people "
                f"({len(hits)} case(s))",
            ),
            {"hits": hits},
        )
    return Finding(
        "differencing",
        PASS,
        Msg(
            f"与 {len(ctx.releases)} 个已发布结果无差分风险",
            f"no differencing risk against {len(ctx.releases)} earlier release(s)",
        ),
        {"hits": []},
    )
