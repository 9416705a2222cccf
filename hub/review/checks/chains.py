"""Resident IDs cut into several pieces over columns that may be far apart, in any order.

The overlap check matches what this finds against the raw identifiers: a chance chain of codes
(a region, a year, a month …) that spells a well-formed ID is common, one that spells a real
resident's is not.

:func:`hub.review.checks.values.joined` reads pairs and triples of fragment columns as one value;
an identifier cut into more pieces is found here. Each distinct row's pieces (digit strings of two
to sixteen characters) are chained in every order that can still become a resident ID, pruned as
they grow: a province code first, a birth date of 1900–2099 at positions 7–14, and at eighteen
characters the GB 11643 check character; :data:`NODE_BUDGET` bounds the search over a table.
"""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import regex

from hub.review.checks.values import Column, fragments
from sdk.identifiers import PROVINCE_CODES, resident_id_valid

MIN_COLUMNS = 4  # fewer fragment columns: values.joined reads every pair and triple already
MAX_COLUMNS = 24  # pieces of one row chained at most
NODE_BUDGET = 500_000  # chain steps over the whole table
_PIECE = r"^[0-9]{2,16}$|^[0-9]{1,16}X$"
_PROVINCES = "|".join(str(c) for c in sorted(PROVINCE_CODES))
# A resident ID, read as a prefix: regex's partial matching says whether a chain can still be one.
_ID = regex.compile(
    rf"(?:{_PROVINCES})[0-9]{{4}}(?:19|20)[0-9]{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9X]"
)


def _ids(pieces: list[str], budget: list[int]) -> set[str]:
    """Every resident ID some order of some of ``pieces`` spells (each piece used once)."""
    found: set[str] = set()
    stack = [("", 0)]
    while stack and budget[0] > 0:
        prefix, used = stack.pop()
        budget[0] -= 1
        for i, piece in enumerate(pieces):
            if used >> i & 1:
                continue
            value = prefix + piece
            if len(value) > 18 or not _ID.fullmatch(value, partial=True):
                continue
            if len(value) == 18:
                if resident_id_valid(value):
                    found.add(value)
            elif not value.endswith("X"):
                stack.append((value, used | 1 << i))
    return found


def chained(columns: list[Column]) -> dict[str, dict[str, int]]:
    """Resident IDs spelled by chaining the pieces of four or more fragment columns of a row:
    ``{"a+b+c+d": {id: rows}}``, the label naming the columns each ID came from."""
    pieces = [c for c in fragments(columns) if len(c.text)][:MAX_COLUMNS]
    if len(pieces) < MIN_COLUMNS:
        return {}
    usable = [
        np.asarray(pc.match_substring_regex(c.text, _PIECE).to_numpy(zero_copy_only=False))
        for c in pieces
    ]
    keep = np.stack(
        [u[np.maximum(c.codes, 0)] & (c.codes >= 0) for c, u in zip(pieces, usable, strict=True)],
        axis=1,
    )
    codes = np.where(keep, np.stack([c.codes for c in pieces], axis=1), -1)
    rows = codes[(codes >= 0).sum(axis=1) >= MIN_COLUMNS]
    if not len(rows):
        return {}
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    texts = [c.text.to_pylist() for c in pieces]
    budget, out = [NODE_BUDGET], {}
    for row, n in zip(distinct, counts, strict=True):
        present = [(k, texts[k][code]) for k, code in enumerate(row) if code >= 0]
        for value in _ids([t for _, t in present], budget):
            label = "+".join(pieces[k].name for k, t in present if t in value)
            found = out.setdefault(label, {})
            found[value] = found.get(value, 0) + int(n)
        if budget[0] <= 0:
            break
    return out
