"""Size and row limits of a result."""

from __future__ import annotations

import pandas as pd

from hub.i18n import Msg
from hub.review.checks.base import FAIL, PASS, Context, Finding, register


@register("limits")
def size_and_rows(frame: pd.DataFrame, ctx: Context) -> Finding:
    rows, size = len(frame), ctx.size_bytes
    details = {"rows": rows, "bytes": size}
    if rows > ctx.limits.max_rows or size > ctx.limits.max_bytes:
        return Finding(
            "limits",
            FAIL,
            Msg(
                f"结果过大：{rows:,} 行、{size:,} 字节（上限 {ctx.limits.max_rows:,} 行、"
                f"{ctx.limits.max_bytes:,} 字节）",
                f"the result is too large: {rows:,} rows, {size:,} bytes (limits "
                f"{ctx.limits.max_rows:,} rows, {ctx.limits.max_bytes:,} bytes)",
            ),
            details,
        )
    return Finding(
        "limits",
        PASS,
        Msg(f"{rows:,} 行，{size:,} 字节，未超限", f"{rows:,} rows, {size:,} bytes: within limits"),
        details,
    )
