"""PII scan of every cell, with the masking engine's detectors.

Work is per distinct value (a million-row result of categories and numbers has few), in
canonical spelling (:func:`sdk.identifiers.canonical`: separators, full-width, zero-width,
Chinese numerals, case) and in every evasion variant (reversed, base64, hex, percent-encoded):
whole values are matched against each entity's regex, vectorized, and checksums run on the
matches; identifiers inside free text are found by pattern and checksum in every value; names and
addresses go through the presidio recognizers. Neighbouring cells are also read joined, so an
ID split over two columns (text or integers) is still one ID. Numbers are read alone only where
they are long enough to be an identifier (mobiles are 11 digits).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hub.i18n import Msg
from hub.masking.detectors import _recognizer, scan_text
from hub.masking.recognizers import RECOGNIZERS
from hub.review.checks import values
from hub.review.checks.base import FAIL, PASS, WARN, Context, Finding, register

# Findings of these entities fail the result; names and addresses only warn (a reviewer judges
# whether a business or place name is a person's).
IDENTIFYING = {
    "CN_RESIDENT_ID", "CN_MOBILE", "CN_BANK_CARD", "CN_USCC", "CN_LICENSE_PLATE", "EMAIL_ADDRESS",
}  # fmt: skip
CHECKSUMMED = {"CN_RESIDENT_ID", "CN_USCC"}  # proven by check characters, not by shape alone
HEADERS = "(column names)"
MAX_VALIDATIONS = 5_000  # per entity and column: enough to prove a leak, bounded in time
MAX_FREE_TEXT = 20_000  # distinct free-text values scanned per column
# Values worth the presidio recognizers: Chinese text, an @, or a run of 7+ digits that is not
# part of a longer token of letters and digits (a pseudonym's hex is such a token).
FREE_TEXT = r"[\x{4e00}-\x{9fff}]|@|(?:^|[^0-9A-Za-z])[0-9０-９][0-9０-９ \-]{6,}"


def _anchored(pattern: str) -> str:
    """``pattern`` matching whole values, its global flags (``(?i)``) kept in front (RE2)."""
    flags = re.match(r"\(\?[aiLmsux]+\)", pattern)
    head = flags.group(0) if flags else ""
    return f"{head}^(?:{pattern[len(head) :]})$"


def _bounded(pattern: str) -> re.Pattern:
    """``pattern`` as a Python regex matching only where no letter or digit touches it."""
    flags = re.match(r"\(\?[aiLmsux]+\)", pattern)
    head = flags.group(0) if flags else ""
    return re.compile(f"{head}(?<![0-9A-Za-z])(?:{pattern[len(head) :]})(?![0-9A-Za-z])")


def _validated(cls, text: pa.Array, where: np.ndarray, inside: bool) -> list[int]:
    """The indexes of ``where`` whose value is (``inside``: holds) a valid identifier.

    Candidates are checked in batches until one is valid; past :data:`MAX_VALIDATIONS` candidates
    with none valid, the rest count as valid (an export full of identifier-shaped values that
    cannot all be verified is withheld, not released: padding is no way around the check).
    """
    recognizer = _recognizer(cls.ENTITY)
    bounded = _bounded(cls.full) if inside else None

    def ok(value: str) -> bool:
        if bounded is None:
            return recognizer.valid(value)
        return any(recognizer.valid(m.group(0)) for m in bounded.finditer(value))

    good: list[int] = []
    for start in range(0, len(where), MAX_VALIDATIONS):
        batch = where[start : start + MAX_VALIDATIONS]
        if start >= MAX_VALIDATIONS * 20:
            return good or [int(i) for i in where[start:]]
        good += [int(i) for i in batch if ok(text[int(i)].as_py())]
        if good:
            return good
    return good


def _inline(pattern: str) -> str:
    """``pattern`` with its global flags made local (``(?i)x`` -> ``(?i:x)``), to join others."""
    flags = re.match(r"\(\?([aiLmsux]+)\)", pattern)
    if not flags:
        return f"(?:{pattern})"
    return f"(?{flags.group(1)}:{pattern[flags.end() :]})"


# every entity's whole-value pattern in one: a single pass finds the few values worth each
ANY_ENTITY = "^(?:" + "|".join(_inline(cls.full) for cls in RECOGNIZERS) + ")$"


def _scan(text: pa.Array, owner: np.ndarray, counts: np.ndarray, free_text: bool) -> dict:
    """Cells per entity among ``text`` (variants of distinct values: ``owner`` says whose;
    ``counts`` how many cells hold each owner). A cell counts once per entity."""
    found: dict[str, int] = {}
    matched = np.zeros(len(counts), dtype=bool)
    if len(text):
        some = pc.match_substring_regex(text, ANY_ENTITY).to_numpy(zero_copy_only=False)
        where = np.flatnonzero(some)
        whole, whole_owner = text.take(pa.array(where)), owner[where]
    for cls in RECOGNIZERS if len(text) and len(where) else ():
        hits = pc.match_substring_regex(whole, _anchored(cls.full)).to_numpy(zero_copy_only=False)
        hits &= ~matched[whole_owner]
        if not hits.any():
            continue
        good = np.unique(whole_owner[_validated(cls, whole, np.flatnonzero(hits), False)])
        if len(good):
            matched[good] = True
            found[cls.ENTITY] = found.get(cls.ENTITY, 0) + int(counts[good].sum())
    if not free_text:
        return found
    free = (
        pc.match_substring_regex(text, FREE_TEXT).to_numpy(zero_copy_only=False) & ~matched[owner]
    )
    if not free.any():
        return found
    # identifiers inside text: every value, by pattern and checksum
    for cls in RECOGNIZERS:
        if cls.ENTITY not in IDENTIFYING:
            continue
        hits = free & pc.match_substring_regex(text, cls.full).to_numpy(zero_copy_only=False)
        if hits.any():
            where = np.flatnonzero(hits)
            good = np.unique(owner[_validated(cls, text, where, True)])
            if len(good):
                found[cls.ENTITY] = found.get(cls.ENTITY, 0) + int(counts[good].sum())
    # names and addresses (they only warn): presidio on a bounded number of plain values
    seen: set[tuple[int, str]] = set()
    for i in np.flatnonzero(free[: len(counts)])[:MAX_FREE_TEXT]:
        for entity in {f.entity for f in scan_text(text[int(i)].as_py())} - IDENTIFYING:
            if (owner[i], entity) not in seen:
                seen.add((owner[i], entity))
                found[entity] = found.get(entity, 0) + int(counts[owner[i]])
    return found


def _scannable(series: pd.Series, col: values.Column) -> bool:
    """Numbers are identifiers only when whole and long enough (mobiles are 11 digits)."""
    if not col.numeric:
        return True
    numbers = pd.to_numeric(series.dropna())
    return bool(((numbers.abs() >= 1e9) & (numbers % 1 == 0)).any())


def scan_column(series: pd.Series, col: values.Column | None = None) -> dict[str, int]:
    """How many cells of ``series`` hold each entity (whole values or inside free text), read
    in canonical spelling and in every evasion variant (reversed, base64, hex)."""
    col = col or values.column(series, str(series.name))
    if col is None or col.decimal or not len(col.text) or not _scannable(series, col):
        return {}
    text, owner = values.with_variants(col)
    return _scan(text, owner, col.counts, free_text=not col.numeric)


def scan_joined(columns: list[values.Column]) -> dict[str, dict[str, int]]:
    """Identifiers spread over cells of several columns (an ID in two columns, text or
    numbers). Over a pair of neighbouring text columns, every identifier; over a join holding a
    number, three columns or columns that are not neighbours (see :func:`values.combinations`),
    only those of 18 characters a check character proves (resident IDs, credit codes): so many
    combinations of ordinary amounts, counts and dates meet a bare pattern (a mobile's, a
    15-digit ID's) by chance. Raw identifiers split any of these ways are the overlap check's
    to find, whatever their kind."""
    numeric = {c.name: c.numeric for c in columns}
    out = {}
    for wide in (False, True):
        for label, text, owner, counts in values.joined(columns, wide):
            names = label.split("+")
            proven = wide or len(names) > 2 or any(numeric.get(n, True) for n in names)
            if proven:  # only what a check character can prove: 18 characters
                where = pc.equal(pc.utf8_length(text), 18).to_numpy(zero_copy_only=False)
                text, owner = text.filter(pa.array(where)), owner[where]
            found = _scan(text, owner, counts, free_text=False)
            keep = CHECKSUMMED if proven else IDENTIFYING
            hits = {e: n for e, n in found.items() if e in keep}
            if hits:
                out[label] = hits
    return out


@register("pii_scan")
def pii_scan(frame: pd.DataFrame, ctx: Context) -> Finding:
    columns, parsed = {}, values.columns_of(frame)
    for col in parsed:
        hits = scan_column(frame[col.name], col)
        if hits:
            columns[col.name] = hits
    columns |= scan_joined(parsed)
    headers = pd.Series([str(c) for c in frame.columns])  # a header is released as well
    if hits := scan_column(headers, values.column(headers, HEADERS)):
        columns[HEADERS] = hits
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
