"""Identifiers written down a column: a digit or a few characters per row, top to bottom or
bottom to top, whole again when consecutive cells are read as one value.

Every window of consecutive cells that starts and ends at a cell's edge and is as long as a raw
identifier is a candidate, in row order and in reverse row order; there is at most one window per
starting row and length, so the cost is a few array operations per column and length. Windows
are matched against the raw identifiers only (as written, reversed, or with digits shifted by a
constant): a pattern scan of every window of an ordinary column of amounts would find mobiles
and card numbers by chance.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.review.checks import encodings
from hub.review.checks.values import Column

MAX_WINDOW_ROWS = 64  # cells one window may span (empty and null cells count as cells)
MAX_LENGTHS = 6  # identifier lengths read down the rows (the most common among the raw ones)
MIN_LENGTH = 11  # shorter identifiers are made of consecutive cells too often by chance
CHUNK = 262_144  # windows built at once


def lengths_of(known: pa.Array) -> list[int]:
    """The byte lengths of the raw identifiers made of digits and letters, most common first."""
    shaped = pc.filter(known, pc.match_substring_regex(known, r"^[0-9A-Z]+$"))
    if not len(shaped):
        return []
    sizes = pc.binary_length(pc.cast(shaped, pa.large_binary())).to_numpy(zero_copy_only=False)
    found, counts = np.unique(sizes, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [int(n) for n in found[order] if n >= MIN_LENGTH][:MAX_LENGTHS]


def cells(col: Column) -> pa.Array:
    """The column's canonical cells in row order (nulls empty)."""
    text = col.text.take(pa.array(np.maximum(col.codes, 0)))
    return pc.if_else(pa.array(col.codes >= 0), text, pa.scalar("", pa.large_string()))


def windows(seq: pa.Array, length: int):
    """Batches of (first row, text) of the windows of ``seq`` of ``length`` bytes spanning two
    or more cells, the first and last not empty."""
    data, cum = encodings.as_bytes(seq)
    n = len(seq)
    if n < 2 or not len(data):
        return
    starts = np.arange(n)
    target = cum[:-1] + length
    end = np.searchsorted(cum, target, side="left")
    inside = end <= n
    end = np.minimum(end, n)
    span = end - starts
    ok = (
        inside
        & (cum[end] == target)
        & (span >= 2)
        & (span <= MAX_WINDOW_ROWS)
        & (cum[starts + 1] > cum[starts])  # the first cell holds something
        & (cum[end] > cum[np.maximum(end - 1, 0)])  # and so does the last
    )
    first = np.flatnonzero(ok)
    for i in range(0, len(first), CHUNK):
        rows = first[i : i + CHUNK]
        matrix = data[cum[rows][:, None] + np.arange(length)]
        yield rows, encodings.from_matrix(matrix)


def known_forms(known: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The raw identifiers as written and reversed, and the shift-free forms of both."""
    both = pc.unique(pa.concat_arrays([known, pc.utf8_reverse(known)]))
    return both, pc.unique(encodings.unshifted(both)[0])


def matches(text: pa.Array, exact: pa.Array, shifted: pa.Array) -> np.ndarray:
    """Which of ``text`` is a raw identifier: as written, reversed or digit-shifted."""
    hit = pc.is_in(text, value_set=exact).to_numpy(zero_copy_only=False).copy()
    forms, owner = encodings.unshifted(text)
    if len(forms) and len(shifted):
        inside = pc.is_in(forms, value_set=shifted).to_numpy(zero_copy_only=False)
        hit[owner[inside]] = True
    return hit


def down_rows(columns: list[Column], known: pa.Array) -> dict[str, int]:
    """Per column (labelled ``name↓`` or ``name↑``), how many windows of consecutive cells read
    as a raw identifier."""
    hits: dict[str, int] = {}
    lengths = lengths_of(known)
    if not lengths or not len(known):
        return hits
    exact, shifted = known_forms(known)
    for col in columns:
        if col.decimal or len(col.codes) < 2:
            continue
        forward = cells(col)
        backward = forward.take(pa.array(np.arange(len(forward) - 1, -1, -1)))
        for arrow, seq in (("↓", forward), ("↑", backward)):
            found = 0
            for length in lengths:
                for _, text in windows(seq, length):
                    found += int(matches(text, exact, shifted).sum())
            if found:
                hits[f"{col.name}{arrow}"] = found
    return hits
