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
    """Batches of (first row, text, row after the last) of the windows of ``seq`` of ``length``
    bytes spanning two or more cells, the first and last not empty."""
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
        yield rows, encodings.from_matrix(matrix), end[rows]


def known_forms(known: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The raw identifiers as written and reversed, and the shift-free forms of both."""
    both = pc.unique(pa.concat_arrays([known, pc.utf8_reverse(known)]))
    return both, pc.unique(encodings.unshifted(both)[0])


def matches(text: pa.Array, exact: pa.Array, shifted: pa.Array, shift: np.ndarray | None = None):
    """Which of ``text`` is a raw identifier as written or reversed (``exact``) or, where
    ``shift`` says (all, by default), with its digits shifted (``shifted``); only values of the
    raw identifiers' digit lengths are read for shifts."""
    hit = pc.is_in(text, value_set=exact).to_numpy(zero_copy_only=False).copy()
    if not len(shifted):
        return hit
    size = pc.utf8_length(text).to_numpy(zero_copy_only=False)
    wanted = np.unique(pc.utf8_length(shifted).to_numpy(zero_copy_only=False))
    where = np.flatnonzero(np.isin(size, wanted) & (True if shift is None else shift))
    if len(where):
        forms, owner = encodings.unshifted(text.take(pa.array(where)))
        if len(forms):
            inside = pc.is_in(forms, value_set=shifted).to_numpy(zero_copy_only=False)
            hit[where[owner[inside]]] = True
    return hit


def down_rows(columns: list[Column], lengths: list[int]):
    """Per column (labelled ``name↓`` or ``name↑``), the windows of consecutive cells of the
    identifiers' ``lengths``, in batches of ``(label, text)``. Only columns whose cells are
    letters and digits (as identifiers are) and short enough for two to fit in a window are
    read; a cell of anything else breaks the windows around it."""
    if not lengths:
        return
    longest = max(lengths)
    for col in columns:
        if col.decimal or len(col.codes) < 2 or not len(col.text):
            continue
        shaped = pc.match_substring_regex(col.text, r"^[0-9A-Z]+$").to_numpy(zero_copy_only=False)
        size = pc.utf8_length(col.text).to_numpy(zero_copy_only=False)
        short = shaped & (size * 2 <= longest)
        if not short.any():
            continue
        bad = np.where(col.codes >= 0, ~shaped[np.maximum(col.codes, 0)], False)
        forward = cells(col)
        backward = forward.take(pa.array(np.arange(len(forward) - 1, -1, -1)))
        for arrow, seq, broken in (("↓", forward, bad), ("↑", backward, bad[::-1])):
            stops = np.concatenate([[0], np.cumsum(broken)])
            for length in lengths:
                for rows, text, end in windows(seq, length):
                    clean = stops[end] == stops[rows]  # no cell of other characters inside
                    if clean.any():
                        yield f"{col.name}{arrow}", text.filter(pa.array(clean))
