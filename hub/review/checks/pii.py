"""PII scan of every cell, with the masking engine's detectors.

Work is per distinct value (a million-row result of categories and numbers has few): whole
values are matched against each entity's regex, vectorized, and checksums run on the matches;
values that look like free text go through the presidio recognizers. Numbers are read as text
only where they are long enough to be an identifier (mobiles are 11 digits).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
# Values worth the presidio recognizers: Chinese text, an @, or a run of 7+ digits that is not
# part of a longer token of letters and digits (a pseudonym's hex is such a token).
FREE_TEXT = r"[\x{4e00}-\x{9fff}]|@|(?:^|[^0-9A-Za-z])[0-9０-９][0-9０-９ \-]{6,}"
FULL_WIDTH = "[０-９＋－＠．＿]"


def _anchored(pattern: str) -> str:
    """``pattern`` matching whole values, its global flags (``(?i)``) kept in front (RE2)."""
    flags = re.match(r"\(\?[aiLmsux]+\)", pattern)
    head = flags.group(0) if flags else ""
    return f"{head}^(?:{pattern[len(head) :]})$"


def _candidates(series: pd.Series) -> tuple[pa.Array, np.ndarray] | None:
    """Distinct values that could hold personal data, as normalized text, and how many cells
    hold each; ``None`` when none can (numbers too short to be identifiers, no text)."""
    present = series.dropna()
    if present.empty or pd.api.types.is_bool_dtype(present):
        return None
    if pd.api.types.is_numeric_dtype(present):
        numbers = pd.to_numeric(present)
        present = numbers[(numbers.abs() >= 1e9) & (numbers % 1 == 0)]  # 11+ digit identifiers
        if present.empty:
            return None
        present = present.astype("int64")
    codes, uniques = pd.factorize(present.astype(str))
    text = pa.array(np.asarray(uniques, dtype=object), type=pa.large_string())
    if pc.any(pc.match_substring_regex(text, FULL_WIDTH)).as_py():
        text = pa.array([v.translate(FULLWIDTH) for v in text.to_pylist()], type=pa.large_string())
    text = pc.utf8_trim_whitespace(text)
    return text, np.bincount(codes[codes >= 0], minlength=len(text))


def scan_column(series: pd.Series) -> dict[str, int]:
    """How many cells of ``series`` hold each entity (whole values or inside free text)."""
    candidates = _candidates(series)
    if candidates is None:
        return {}
    text, counts = candidates
    found: dict[str, int] = {}
    matched = np.zeros(len(text), dtype=bool)
    for cls in RECOGNIZERS:
        hits = pc.match_substring_regex(text, _anchored(cls.full)).to_numpy(zero_copy_only=False)
        hits &= ~matched
        if not hits.any():
            continue
        recognizer = _recognizer(cls.ENTITY)
        where = np.flatnonzero(hits)[:MAX_VALIDATIONS]
        good = [i for i in where if recognizer.valid(text[int(i)].as_py())]
        if good:
            matched[good] = True
            found[cls.ENTITY] = found.get(cls.ENTITY, 0) + int(counts[good].sum())
    free = pc.match_substring_regex(text, FREE_TEXT).to_numpy(zero_copy_only=False) & ~matched
    for i in np.flatnonzero(free)[:MAX_FREE_TEXT]:
        for f in scan_text(text[int(i)].as_py()):
            found[f.entity] = found.get(f.entity, 0) + int(counts[i])
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
