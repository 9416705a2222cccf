"""Differencing: a new frequency table against the tenant's earlier approved ones. Two releases
whose counts differ by fewer than ``min_count`` (but not zero) — in a cell with the same labels,
or in their totals — let a reader subtract one from the other and isolate those few people."""

from __future__ import annotations

import pandas as pd

from hub.i18n import Msg
from hub.review.checks import FAIL, PASS, Context, Finding, register
from hub.review.checks.sdc import frequency_columns


def _isolating(new: pd.DataFrame, old: pd.DataFrame, count: str, threshold: int) -> int:
    labels = [c for c in new.columns if c != count and c in old.columns]
    if count not in old.columns:
        return 0
    diff_total = abs(int(new[count].sum()) - int(old[count].sum()))
    isolated = int(0 < diff_total < threshold)
    if labels:
        key = [new[c].astype(str) for c in labels]
        a = new.groupby(key)[count].sum()
        b = old.groupby([old[c].astype(str) for c in labels])[count].sum()
        both = a.index.intersection(b.index)
        diff = (a[both] - b[both]).abs()
        isolated += int(((diff > 0) & (diff < threshold)).sum())
    return isolated


@register("differencing")
def differencing(frame: pd.DataFrame, ctx: Context) -> Finding:
    counts = frequency_columns(frame, ctx)
    threshold = ctx.limits.min_count
    hits = []
    for i, old in enumerate(ctx.releases):
        for count in counts:
            n = _isolating(frame, old, count, threshold)
            if n:
                hits.append({"release": i, "column": count, "cells": n})
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
