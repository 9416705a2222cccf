"""PII scan of every cell, with the masking engine's detectors.

Work is per distinct value (a million-row result of categories and numbers has few): whole
values are matched against each entity's regex, vectorized, and checksums run on the matches;
values that look like free text go through the presidio recognizers. Numbers are read as text
only where they are long enough to be an identifier (mobiles are 11 digits).
"""

from __future__ import annotations

import re

import pandas as pd

from hub.i18n import Msg
from hub.masking.detectors import _recognizer, scan_text
from hub.masking.recognizers import FULLWIDTH, RECOGNIZERS
from hub.review.checks import FAIL, PASS, WARN, Context, Finding, register

# Findings of these entities fail the result; names and addresses only warn (a reviewer judges
# whether a business or place name is a person's).
IDENTIFYING = {
    "CN_RESIDENT_ID", "CN_MOBILE", "CN_BANK_CARD", "CN_USCC", "CN_LICENSE_PLATE", "EMAIL_ADDRESS",
}  # fmt: skip
MAX_VALIDATIONS = 5_000  # per entity and column: enough to prove a leak, bounded in time
MAX_FREE_TEXT = 20_000  # distinct free-text values scanned per column
_FREE_TEXT = re.compile(r"[\u4e00-\u9fff].{5,}|[0-9０-９][0-9０-９ \-]{6,}|@", re.S)


def _distinct_text(series: pd.Series) -> pd.Series:
    """Distinct values as normalized text, indexed by text, valued by how many cells hold it."""
    counts = series.value_counts(dropna=True, sort=False)
    if counts.empty:
        return pd.Series(dtype="int64")
    values = counts.index.to_series(index=range(len(counts)))
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values)
        keep = (numbers.abs() >= 1e9) & (numbers % 1 == 0)  # identifiers have 11+ digits
        values, counts = numbers[keep].astype("int64").astype(str), counts[keep.to_numpy()]
    else:
        values = values.astype(str).str.translate(FULLWIDTH).str.strip()
    out = pd.Series(counts.to_numpy(), index=values.to_numpy())
    return out.groupby(level=0).sum()


def _whole(pattern: str) -> str:
    """``pattern`` as one group, its global flags (``(?i)``) kept in front."""
    flags = re.match(r"\(\?[aiLmsux]+\)", pattern)
    head = flags.group(0) if flags else ""
    return f"{head}(?:{pattern[len(head) :]})"


def scan_column(series: pd.Series) -> dict[str, int]:
    """How many cells of ``series`` hold each entity (whole values or inside free text)."""
    distinct = _distinct_text(series)
    if distinct.empty:
        return {}
    text = pd.Series(distinct.index, dtype=object)
    found: dict[str, int] = {}
    matched = pd.Series(False, index=text.index)
    for cls in RECOGNIZERS:
        hits = text[text.str.fullmatch(_whole(cls.full)).fillna(False).astype(bool) & ~matched]
        if hits.empty:
            continue
        recognizer = _recognizer(cls.ENTITY)
        good = [i for i in hits.index[:MAX_VALIDATIONS] if recognizer.valid(text[i])]
        if good:
            matched[good] = True
            found[cls.ENTITY] = found.get(cls.ENTITY, 0) + int(distinct.iloc[good].sum())
    rest = text[~matched]
    free = rest[rest.str.contains(_FREE_TEXT, regex=True)]
    for i in free.index[:MAX_FREE_TEXT]:
        for f in scan_text(text[i]):
            found[f.entity] = found.get(f.entity, 0) + int(distinct.iloc[i])
    return found


@register("pii_scan")
def pii_scan(frame: pd.DataFrame, ctx: Context) -> Finding:
    columns = {}
    for name in frame.columns:
        hits = scan_column(frame[name])
        if hits:
            columns[str(name)] = hits
    failing = {c: h for c, h in columns.items() if set(h) & IDENTIFYING}
    if failing:
        what = "; ".join(
            f"{c}: {', '.join(f'{e}×{n}' for e, n in h.items())}" for c, h in failing.items()
        )
        return Finding(
            "pii_scan",
            FAIL,
            Msg(
                f"结果含有个人或企业标识：{what}",
                f"the result holds personal or company identifiers: {what}",
            ),
            {"columns": columns},
        )
    if columns:
        what = "; ".join(f"{c}: {', '.join(h)}" for c, h in columns.items())
        return Finding(
            "pii_scan",
            WARN,
            Msg(
                f"可能含有姓名或地址，请人工判断：{what}",
                f"may hold names or addresses; a reviewer should judge: {what}",
            ),
            {"columns": columns},
        )
    return Finding(
        "pii_scan", PASS, Msg("未发现个人信息", "no personal data found"), {"columns": {}}
    )
