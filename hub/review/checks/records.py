"""Record-level results: a table whose rows are records, not cells of an aggregate.

A grouped table never repeats its key: each combination of its labels (the text, category and
date columns) appears once. A result whose label combinations repeat, that has no labels at all,
or whose rows are keyed by a label unknown to the raw data and different in every row (a
pseudonym, a row number) is a list of records — sample rows, a job's row-level output — whatever its columns are
called, and fails for a reviewer to release with a written reason. Whether its rows match raw
records is the overlap check's question; this one asks what kind of table it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hub.i18n import Msg
from hub.review.checks import values
from hub.review.checks.base import FAIL, PASS, Context, Finding, register
from hub.review.checks.rawmatch import matched, raw_table

ROW_KEYS = 100  # above this many rows, a label unique to each row and unknown to raw data
# is an identifier of records (a pseudonym, a row number), not a grouping


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


def row_identifiers(frame: pd.DataFrame, labels: list[str], ctx: Context) -> list[str]:
    """Label columns holding a different value in every row that no raw column holds: they
    name records, whatever the table looks like (a grouping by day or by hospital is known to
    the raw data; a pseudonym or a row number is not)."""
    if len(frame) <= ROW_KEYS:
        return []
    unique = [c for c in values.columns_of(frame) if c.name in labels and len(c.text) == len(frame)]
    known = set()
    for source in ctx.raw:
        known |= set(matched(unique, raw_table(source)))
    return [c.name for c in unique if c.name not in known]


@register("record_level")
def record_level(frame: pd.DataFrame, ctx: Context) -> Finding:
    labels, repeated = repeated_keys(frame)
    identifiers = [] if repeated else row_identifiers(frame, labels, ctx)
    details = {"labels": labels, "repeated_rows": repeated, "rows": len(frame),
               "row_identifiers": identifiers}  # fmt: skip
    if identifiers:
        what = ", ".join(identifiers)
        return Finding(
            "record_level",
            FAIL,
            Msg(
                f"结果是逐条记录而非汇总表：{what} 每行各不相同，且不是原始数据中的分组",
                f"the result is a list of records, not an aggregate table: {what} differs in "
                "every row and is no grouping the raw data knows",
            ),
            details,
        )
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
