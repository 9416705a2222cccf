"""Encodings an identifier may hide under, decoded for a whole array of values at once.

Base64, hex and percent encoding are read per value (:func:`sdk.identifiers.decoded`); the ones
here are read in bulk, so a million pseudonyms cost a few array operations rather than a million
Python calls: base32 (padded or not, either case), base85 and Ascii85 (each five characters four
bytes), ROT13 on letters, and digits shifted by a constant (every digit ``d`` written as
``(d + k) mod 10``), which is matched by its shift-free form (:func:`unshifted`).

A decoding is kept only where every decoded byte is printable ASCII: a pseudonym's characters
decode to binary and are dropped, and what an identifier decodes to is text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK = 200_000  # values decoded at once (bounds the memory of the digit matrices)
MIN_ENCODED = 12  # characters: the shortest identifier worth matching (9 bytes) in base85
_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True


def _table(alphabet: bytes, fold_case: bool = False) -> np.ndarray:
    table = np.full(256, -1, dtype=np.int64)
    for i, c in enumerate(alphabet):
        table[c] = i
        if fold_case:
            table[bytes([c]).lower()[0]] = i
    return table


BASE32 = _table(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", fold_case=True)
BASE85 = _table(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"
)
ASCII85 = _table(bytes(range(33, 118)))
ROT13 = np.arange(256, dtype=np.uint8)
for _lo, _hi in ((ord("A"), ord("Z")), (ord("a"), ord("z"))):
    ROT13[_lo : _hi + 1] = np.roll(np.arange(_lo, _hi + 1, dtype=np.uint8), -13)
_DIGITS = np.zeros(256, dtype=bool)
_DIGITS[ord("0") : ord("9") + 1] = True


def as_bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of ``values`` (no nulls) as one buffer, and each value's offsets into it."""
    binary = pc.cast(values, pa.large_binary())
    binary = pa.concat_arrays([binary]) if binary.offset else binary
    n = len(binary)
    offsets = np.frombuffer(binary.buffers()[1], dtype=np.int64)[: n + 1]
    data = binary.buffers()[2]
    return (
        np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    ), offsets


def from_matrix(matrix: np.ndarray) -> pa.Array:
    """Rows of equal-length ASCII bytes as strings."""
    n, width = matrix.shape
    if not n:
        return pa.array([], pa.large_string())
    if not width:
        return pa.array([""] * n, pa.large_string())
    flat = np.ascontiguousarray(matrix, dtype=np.uint8)
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(flat))


def by_length(values: pa.Array, lengths=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``values`` grouped by byte length (only ``lengths``, if given): per length, the indexes
    of its values and their bytes as an ``(n, length)`` matrix."""
    data, offsets = as_bytes(values)
    size = np.diff(offsets)
    out = []
    wanted = np.unique(size) if lengths is None else [n for n in lengths if n > 0]
    for width in wanted:
        where = np.flatnonzero(size == width)
        if len(where):
            out.append((where, data[offsets[where][:, None] + np.arange(width)]))
    return out


def _radix(matrix: np.ndarray, table: np.ndarray, base: int, group: int, width: int,
           partial: dict[int, int], pad: int, limit: int | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Rows of ``matrix`` read as ``group`` digits of ``base`` per ``width`` bytes (big-endian);
    a last group of ``r`` digits gives ``partial[r]`` bytes (padded with the digit ``pad``).

    Returns:
        Which rows decode to printable ASCII, and their decoded bytes.
    """
    n, length = matrix.shape
    full, rest = divmod(length, group)
    none = np.zeros(n, dtype=bool), np.zeros((n, 0), dtype=np.uint8)
    if (rest and rest not in partial) or not n:
        return none
    digits = table[matrix]
    # the first group alone decides most rows (a pseudonym's first bytes are not printable):
    # the rest is computed only for the rows it leaves
    head = (
        digits[:, :group]
        if full
        else np.concatenate([digits, np.full((n, group - rest), pad, dtype=np.int64)], axis=1)
    )
    keep = (digits >= 0).all(axis=1)
    first = _groups(head[:, None, :], base, width, limit)
    keep &= first[1]
    keep &= _PRINTABLE[first[0][:, : width if full else partial[rest]]].all(axis=1)
    rows = np.flatnonzero(keep)
    ok = np.zeros(n, dtype=bool)
    if not len(rows):
        return none
    digits = digits[rows]
    if rest:
        pad_block = np.full((len(rows), group - rest), pad, dtype=np.int64)
        digits = np.concatenate([digits, pad_block], axis=1)
    out, valid = _groups(digits.reshape(len(rows), -1, group), base, width, limit)
    out = out[:, : full * width + (partial.get(rest, 0) if rest else 0)]
    valid &= out.shape[1] > 0
    valid &= _PRINTABLE[out].all(axis=1)
    ok[rows] = valid
    decoded = np.zeros((n, out.shape[1]), dtype=np.uint8)
    decoded[rows] = out
    return ok, decoded


def _groups(groups: np.ndarray, base: int, width: int, limit: int | None):
    """``(n, g, group)`` digits as ``(n, g * width)`` bytes, and which rows stay under ``limit``."""
    value = np.zeros(groups.shape[:2], dtype=np.uint64)
    for k in range(groups.shape[2]):
        value = value * np.uint64(base) + groups[..., k].astype(np.uint64)
    valid = np.ones(len(groups), dtype=bool)
    if limit is not None:
        valid = (value < np.uint64(limit)).all(axis=1)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(8)
    out = ((value[..., None] >> shifts) & np.uint64(0xFF)).astype(np.uint8)
    return out.reshape(len(groups), -1), valid


def _base32(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _radix(matrix, BASE32, 32, 8, 5, {2: 1, 4: 2, 5: 3, 7: 4}, 0, None)


def _base85(matrix: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _radix(matrix, table, 85, 5, 4, {2: 1, 3: 2, 4: 3}, 84, 2**32)


def decoded(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """What ``values`` read as in base32, base85 and Ascii85 where that is printable text, and
    ROT13 of those holding letters.

    Returns:
        The decoded strings and, for each, the index of the value it came from.
    """
    parts, owners = [], []
    if not len(values):
        return pa.array([], pa.large_string()), np.zeros(0, dtype=np.int64)
    stripped = pc.utf8_rtrim(values, "=")  # base32's padding
    stripped = pc.replace_substring_regex(stripped, r"^<~(.*)~>$", r"\1")  # Ascii85's frame
    ascii_ = pc.string_is_ascii(stripped).to_numpy(zero_copy_only=False)
    size = pc.utf8_length(stripped).to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(ascii_ & (size >= MIN_ENCODED))
    codecs = ((_base32, BASE32, 32, 8, 5, None), (lambda m: _base85(m, BASE85), BASE85, 85, 5, 4, 2**32),
              (lambda m: _base85(m, ASCII85), ASCII85, 85, 5, 4, 2**32))  # fmt: skip
    for start in range(0, len(candidates), CHUNK):
        fit = candidates[start : start + CHUNK]
        data, offsets = as_bytes(stripped.take(pa.array(fit)))
        sizes = np.diff(offsets)
        for width in np.unique(sizes):
            where = np.flatnonzero(sizes == width)
            head = data[offsets[where][:, None] + np.arange(8)]  # every value is 12 or longer
            for decode, table, base, group, nbytes, limit in codecs:
                # the first group alone rules out nearly every pseudonym: gather the rest only
                # for the values whose first bytes are printable
                digits = table[head[:, :group]]
                first, valid = _groups(np.maximum(digits, 0)[:, None, :], base, nbytes, limit)
                alive = where[valid & (digits >= 0).all(axis=1) & _PRINTABLE[first].all(axis=1)]
                if not len(alive):
                    continue
                ok, out = decode(data[offsets[alive][:, None] + np.arange(width)])
                if ok.any():
                    parts.append(from_matrix(out[ok]))
                    owners.append(fit[alive[ok]])
    # ROT13 moves letters only: worth reading where letters are part of an identifier (a credit
    # code or a resident ID's check letter: 18 characters; an e-mail address)
    letters = pc.match_substring_regex(values, r"^[0-9A-Za-z]{17}[0-9A-Za-z]$|@").to_numpy(
        zero_copy_only=False
    )
    lettered = np.flatnonzero(letters & pc.string_is_ascii(values).to_numpy(zero_copy_only=False))
    if len(lettered):
        subset = values.take(pa.array(lettered))
        data, offsets = as_bytes(subset)
        rotated = pa.LargeStringArray.from_buffers(
            len(subset), pa.py_buffer(offsets.copy()), pa.py_buffer(ROT13[data])
        )
        parts.append(rotated)
        owners.append(lettered)
    if not parts:
        return pa.array([], pa.large_string()), np.zeros(0, dtype=np.int64)
    return pa.concat_arrays(parts), np.concatenate(owners).astype(np.int64)


SHIFTED_MIN = 11  # digits: a shorter value (a postcode) meets a shifted raw value by chance


def unshifted(values: pa.Array, minimum: int = SHIFTED_MIN) -> tuple[pa.Array, np.ndarray]:
    """The values of ``minimum`` or more digits (a check letter allowed at the end) with every
    digit shifted so the first is 0: a value and the same value with its digits shifted by a constant read alike.

    Returns:
        The shift-free forms and, for each, the index of the value it came from.
    """
    if not len(values):
        return pa.array([], pa.large_string()), np.zeros(0, dtype=np.int64)
    shaped = pc.match_substring_regex(values, rf"^[0-9]{{{minimum - 1},}}[0-9X]$").to_numpy(
        zero_copy_only=False
    )
    where = np.flatnonzero(shaped)
    parts, owners = [], []
    if len(where):
        for rows, matrix in by_length(values.take(pa.array(where))):
            shifted = (matrix.astype(np.int16) - matrix[:, :1].astype(np.int16)) % 10 + ord("0")
            parts.append(from_matrix(np.where(_DIGITS[matrix], shifted, matrix).astype(np.uint8)))
            owners.append(where[rows])
    if not parts:
        return pa.array([], pa.large_string()), np.zeros(0, dtype=np.int64)
    return pa.concat_arrays(parts), np.concatenate(owners).astype(np.int64)
