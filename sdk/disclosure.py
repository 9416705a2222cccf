"""Disclosure control on the processor's side: the rules the platform's checks apply to tables,
a ``crosstab`` that carries what they need, and the preflight run before an export is sent.

The platform's own checks (``hub/review/checks``) use these same functions for tables, and the
same identifier arithmetic (:mod:`sdk.identifiers`); the platform's scan also reads free text
with its recognizers and compares with the raw records. Its verdict is what counts.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from sdk.identifiers import find_identifiers, variants

if TYPE_CHECKING:
    import pandas as pd

COUNT_NAMES = re.compile(
    r"(?i)^(n|count|counts|cnt|num|freq|frequency|size|人数|数量|频数|计数|户数)$"
)


class DisclosureWarning(UserWarning):
    """A preflight finding: the platform's checks will probably flag this."""


def frequency_columns(frame: pd.DataFrame, declared: str | list[str] | None = None) -> list[str]:
    """The frequency (count) columns, by content as the platform finds them: every column of
    whole, non-negative numbers (integers or floats, whatever its name), and those declared.

    The platform does not take the declaration's word: naming another column, renaming the count
    or storing it as floats changes nothing (it also counts raw records itself)."""
    import pandas as pd

    names = [declared] if isinstance(declared, str) else list(declared or ())
    out = [str(c) for c in names if c in frame.columns]
    for c in frame.columns:
        v = frame[c].dropna()
        if str(c) in out or not pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v):
            continue
        if len(v) and bool(((v % 1 == 0) & (v >= 0)).all()):
            out.append(str(c))
    return out


def small_and_zero(values, min_count: int) -> tuple[int, int]:
    """How many cells are below ``min_count`` (but not zero), and how many are zero."""
    v = np.asarray(values)
    return int(((v > 0) & (v < min_count)).sum()), int((v == 0).sum())


def magnitude_problems(
    contributions, n: int = 2, k: float = 0.9, p: float = 0.1
) -> tuple[int, int]:
    """Cells failing dominance (the ``n`` largest contributions above ``k`` of the total; n is
    1 or 2) and the p-percent rule, from per-cell ``[largest, second, total]``."""
    if n not in (1, 2):
        raise ValueError("dominance needs n = 1 or 2 (each cell's two largest contributions)")
    top = np.asarray(contributions, dtype=float).reshape(-1, 3)
    top1, top2, total = top[:, 0], top[:, 1], top[:, 2]
    leading = top1 + top2 if n == 2 else top1
    dominated = int((leading > k * total).sum())
    estimable = int(((total - top1 - top2) < p * top1).sum())
    return dominated, estimable


def crosstab(
    frame: pd.DataFrame, index: str | list[str], values: str | None = None, aggfunc: str = "sum"
) -> pd.DataFrame:
    """A table of ``frame`` grouped by ``index``: the count ``n`` of each cell and, with
    ``values``, its ``aggfunc``; the cells' largest contributions go along (``attrs``) so the
    platform can apply the dominance and p-percent rules."""
    keys = [index] if isinstance(index, str) else list(index)
    groups = frame.groupby(keys, dropna=False, observed=True)
    table = groups.size().rename("n").to_frame()
    stats = {"counts": "n"}
    if values is not None:
        table[values] = groups[values].agg(aggfunc)

        def top(s) -> list[float]:
            largest = s.nlargest(2).tolist() + [0.0, 0.0]
            return [float(largest[0]), float(largest[1]), float(s.sum())]

        stats["contributions"] = [top(g) for _, g in groups[values]]
    table = table.reset_index()
    table.attrs["shuyu_sdc"] = stats
    return table


def preflight(frame: pd.DataFrame, min_count: int = 10) -> list[str]:
    """Warn (``DisclosureWarning``, in Chinese and English) about what the checks will flag:
    small or zero counts, dominated cells, and identifiers (checksums verified) in any spelling
    (:func:`sdk.identifiers.variants`: separators, Chinese numerals, reversed, encoded)."""
    import pandas as pd

    found = []
    stats = frame.attrs.get("shuyu_sdc", {})
    for column in frequency_columns(frame, stats.get("counts")):
        small, zeros = small_and_zero(frame[column], min_count)
        if small:
            found.append(
                f"{column}: {small} 个单元格小于 {min_count} / {small} cell(s) below {min_count}"
            )
        if zeros:
            found.append(f"{column}: {zeros} 个零值 / {zeros} zero cell(s)")
    if stats.get("contributions"):
        dominated, estimable = magnitude_problems(stats["contributions"])
        if dominated or estimable:
            found.append(
                f"{dominated} 个单元格被少数贡献者主导，{estimable} 个未通过 p% 规则 / "
                f"{dominated} dominated cell(s), {estimable} failing the p-percent rule"
            )
    for column in frame.columns:
        values = frame[column].dropna()
        if pd.api.types.is_float_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        kinds = Counter(
            next(iter({k for v in variants(value) for k, _ in find_identifiers(v)}), None)
            for value in values.astype(str).unique()[:20_000]
        )
        kinds.pop(None, None)
        if kinds:
            what = ", ".join(f"{kind}×{n}" for kind, n in kinds.items())
            found.append(f"{column}: 含有个人或企业标识 {what} / holds identifiers {what}")
    for message in found:
        warnings.warn(message, DisclosureWarning, stacklevel=3)
    return found
