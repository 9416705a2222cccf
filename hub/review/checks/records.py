"""Record-level results: a table whose rows are records, not cells of an aggregate.

A grouped table never repeats its key: each combination of its labels (the text, category and
date columns) appears once. A result whose label combinations repeat, or that has no labels at
all, is a list of records — sample rows, a job's row-level output — whatever its columns are
called, and fails for a reviewer to release with a written reason. Whether its rows match raw
records is the overlap check's question; this one asks what kind of table it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hub.i18n import Msg
from hub.review.checks import FAIL, PASS, Context, Finding, register, values


def repeated_keys(frame: pd.DataFrame) -> tuple[list[str], int]:
    """The label columns and how many rows repeat a label combination of an earlier row."""
    labels = [
        str(n)
        for n in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[n]) or pd.api.types.is_bool_dtype(frame[n])
    ]
    if not labels:
        return labels, max(len(frame) - 1, 0)
    key = np.zeros(len(frame), dtype=np.int64)
    for col in values.columns_of(frame):
        if col.name in labels:
            key = pd.factorize(key * (len(col.text) + 1) + col.codes + 1)[0].astype(np.int64)
    return labels, int(len(frame) - len(np.unique(key)))


@register("record_level")
def record_level(frame: pd.DataFrame, ctx: Context) -> Finding:
    labels, repeated = repeated_keys(frame)
    details = {"labels": labels, "repeated_rows": repeated, "rows": len(frame)}
    if repeated:
        what = ", ".join(labels) or "—"
        return Finding(
            "record_level",
            FAIL,
            Msg(
                f"结果是逐条记录而非汇总表：{repeated} 行的分组键（{what}）重复",
                f"the result is a list of records, not an aggregate table: {repeated} row(s) "
                f"repeat the key of another ({what})",
            ),
            details,
        )
    return Finding(
        "record_level",
        PASS,
        Msg("结果为汇总表（每行分组键唯一）", "an aggregate table (each row's key is unique)"),
        details,
    )
