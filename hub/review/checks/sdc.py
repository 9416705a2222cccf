"""Statistical disclosure control of tables, in the spirit of ACRO.

- **Minimum cell count**: a frequency below ``min_count`` (default 10) may single people out.
- **Zeros** are flagged (a structural zero can disclose that nobody has an attribute).
- **Dominance (n, k)**: in a magnitude table, the ``n`` largest contributors of a cell may not
  make up more than ``k`` of its total (default n = 2, k = 90 %).
- **p-percent**: the rest of a cell (total minus its two largest contributions) must exceed
  ``p`` of the largest contribution (default 10 %), or the second can estimate the first.

Frequencies are the integer columns named like counts (``n``, ``count``, ``人数`` …) or named by
the table's statistics; dominance and p-percent need each cell's largest contributions, which the
SDK's ``sdk.disclosure.crosstab`` sends with the table (``ctx.table``).
"""

from __future__ import annotations

import pandas as pd

from hub.i18n import Msg
from hub.review.checks import FAIL, PASS, WARN, Context, Finding, register
from sdk import disclosure


def frequency_columns(frame: pd.DataFrame, ctx: Context) -> list[str]:
    return disclosure.frequency_columns(frame, ctx.table.get("counts"))


@register("sdc")
def disclosure_control(frame: pd.DataFrame, ctx: Context) -> Finding:
    lim = ctx.limits
    problems, details = [], {}
    for column in frequency_columns(frame, ctx):
        small, zeros = disclosure.small_and_zero(frame[column], lim.min_count)
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
    stats = ctx.table.get("contributions")  # per cell: [top1, top2, total]
    if stats:
        dominated, p_fail = disclosure.magnitude_problems(
            stats, lim.dominance_n, lim.dominance_k, lim.p_percent
        )
        details["magnitude"] = {"dominance": dominated, "p_percent": p_fail}
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
