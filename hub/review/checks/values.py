"""A result's cells as canonical text, per distinct value, for the checks that match them.

Matching is done on :func:`sdk.identifiers.canonical` spellings, so dots, blanks, full-width
forms, zero-width characters and Chinese numerals do not hide a value. ASCII values (nearly all
of a large result) go through Arrow kernels; the rest through the Python function, which is the
reference. The evasion variants (reversed, decoded) and the concatenations of neighbouring cells
are built here too, so the PII scan and the overlap check see the same candidates.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from itertools import permutations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hub.review.checks import encodings
from sdk.identifiers import WORD_RUN_HINT, canonical, decoded

# canonical()'s separators, as far as ASCII goes (RE2 has no look-around: capture and loop)
_ASCII_BETWEEN = r"([0-9])[\s.\-/_,\\|:;'\"]+([0-9X])"
_ENCODED = r"^(?:[A-Za-z0-9+/\-_]{8,}={0,2}|(?:[0-9A-Fa-f]{2}){4,})$|%[0-9A-Fa-f]{2}"
_FRAGMENT = r"^[0-9]{0,17}[0-9X]$"  # a piece of a numeric identifier
MAX_FRAGMENT_COLUMNS = 8  # beyond this, only neighbouring columns are joined


def canonical_array(values: pa.Array) -> pa.Array:
    """:func:`sdk.identifiers.canonical` of each string of ``values`` (same results)."""
    values = pc.cast(values, pa.large_string())
    wide = pc.or_(  # the slow path: wide characters, or digits that may be spelled as words
        pc.match_substring_regex(values, r"[^\x00-\x7f]"),
        pc.match_substring_regex(values, WORD_RUN_HINT),
    ).to_numpy(zero_copy_only=False)
    text = pc.utf8_upper(values)
    while pc.any(pc.match_substring_regex(text, _ASCII_BETWEEN)).as_py():
        text = pc.replace_substring_regex(text, _ASCII_BETWEEN, r"\1\2")
    text = pc.utf8_trim_whitespace(text)
    if wide.any():
        out = text.to_numpy(zero_copy_only=False).astype(object)
        where = np.flatnonzero(wide)
        out[where] = [canonical(v) for v in values.take(pa.array(where)).to_pylist()]
        text = pa.array(out, type=pa.large_string())
    return text


DECIMAL = r"-?[0-9]{1,15}\.[0-9]{1,6}"


def text_numbers(series: pd.Series) -> pd.Series:
    """Decimals written as text read as the numbers they are (``"248.10"`` is 248.1); digit
    strings stay text (leading zeros are part of an identifier)."""
    present = series.dropna()
    if not (present.dtype == object or pd.api.types.is_string_dtype(present)) or present.empty:
        return present
    head = present.iloc[:100].astype(str).str.fullmatch(DECIMAL).all()
    if head and present.astype(str).str.fullmatch(DECIMAL).all():
        return pd.to_numeric(present)
    return present


def as_text(series: pd.Series) -> pd.Series | None:
    """Non-null cells as the text they spell: integers and whole floats as integers, dates as
    ISO dates (times only where present); ``None`` for booleans and empty columns."""
    present = series.dropna()
    if present.empty or pd.api.types.is_bool_dtype(present):
        return None
    if pd.api.types.is_datetime64_any_dtype(present):
        times = pd.to_datetime(present)
        midnight = bool((times == times.dt.normalize()).all())
        return times.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S")
    present = text_numbers(present)
    if pd.api.types.is_float_dtype(present):
        whole = present % 1 == 0
        if whole.all() and present.abs().max() < 2**63:
            return present.astype("int64").astype(str)
        return present.astype(str)  # shortest round-trip spelling, as repr()
    return present.astype(str)


@dataclass(frozen=True)
class Column:
    """One column's distinct canonical values and, per row, which one it holds (-1: null)."""

    name: str
    codes: np.ndarray
    text: pa.Array
    numeric: bool
    plain: pa.Array  # the distinct spellings before canonical(), for decoding (case matters)
    plain_ids: np.ndarray  # the canonical value each spelling became
    decimal: bool = False  # fractional numbers: their point is no separator, no ID hides there
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # variants, computed once

    @property
    def counts(self) -> np.ndarray:
        return np.bincount(self.codes[self.codes >= 0], minlength=len(self.text))


def column(series: pd.Series, name: str) -> Column | None:
    """``series`` as a :class:`Column`, or ``None`` when it holds no text (booleans, all null).

    Distinct values are found first and only they are spelled out: a million rows of a few
    thousand values cost a few thousand conversions."""
    if pd.api.types.is_bool_dtype(series):
        return None
    codes, found = pd.factorize(series)
    distinct = pd.Series(found)
    text = as_text(distinct)
    if text is None:
        return None
    plain = pa.array(text.to_numpy(dtype=object), type=pa.large_string())
    decimal = (
        bool(len(plain))
        and pc.any(pc.match_substring(plain, ".")).as_py()
        and (
            pd.api.types.is_float_dtype(series)
            or pd.api.types.is_float_dtype(text_numbers(distinct))
        )
    )
    canon = plain if decimal else canonical_array(plain)
    if decimal or pc.all(pc.equal(canon, plain)).as_py() is not False:  # already canonical
        ids, canon_uniques = np.arange(len(plain)), canon
    else:  # distinct spellings may share one canonical form: merge them
        ids, canon_uniques = pd.factorize(canon.to_numpy(zero_copy_only=False))
        codes = np.where(codes >= 0, ids[np.maximum(codes, 0)], -1)
    return Column(
        str(name),
        codes.astype(np.int64),
        canon_uniques
        if isinstance(canon_uniques, pa.Array)
        else pa.array(np.asarray(canon_uniques, dtype=object), type=pa.large_string()),
        pd.api.types.is_numeric_dtype(series),
        plain,
        ids.astype(np.int64),
        decimal,
    )


def _decoded(value: str) -> list[str]:
    """:func:`sdk.identifiers.decoded`, with the cheap refusals first (most candidates are
    pseudonyms: hex or base64-shaped, decoding to binary)."""
    if "%" not in value:
        if len(value) % 4 == 1:  # never base64; hex is of even length
            return []
        try:
            raw = binascii.a2b_base64(value + "=" * (-len(value) % 4))
        except binascii.Error:
            raw = b""
        if raw and not raw.isascii() and len(value) % 2:  # binary, and no hex either
            return []
    return decoded(value)


def with_variants(col: Column) -> tuple[pa.Array, np.ndarray]:
    """``col``'s values followed by each reversed and each encoded-looking spelling decoded
    (base64, hex, percent; from the original spelling, as base64 is case-sensitive), then base32,
    base85, Ascii85 and ROT13 read in bulk (:mod:`hub.review.checks.encodings`). Computed
    once per column: the PII scan and the overlap check share it.

    Returns:
        The variants and, for each, the index of the value of ``col.text`` it came from.
    """
    if "variants" in col.memo:
        return col.memo["variants"]
    n = len(col.text)
    parts, owners = [col.text, pc.utf8_reverse(col.text)], [np.arange(n), np.arange(n)]
    encoded = pc.match_substring_regex(col.plain, _ENCODED).to_numpy(zero_copy_only=False)
    size = pc.utf8_length(col.plain).to_numpy(zero_copy_only=False)
    percent = pc.match_substring(col.plain, "%").to_numpy(zero_copy_only=False)
    # the shortest identifier (a mobile, 11 characters) is 15 characters of base64 and 22 of
    # hex; a length of 4k + 1 is never base64, and hex is of even length
    encoded &= percent | ((size >= 15) & ((size % 4 != 1) | (size % 2 == 0)))
    extra, extra_owner = [], []
    plain = col.plain.to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(encoded):
        for inner in _decoded(plain[i]):
            form = canonical(inner)
            extra += [form, form[::-1]]
            extra_owner += [col.plain_ids[i]] * 2
    if extra:
        parts.append(pa.array(extra, type=pa.large_string()))
        owners.append(np.asarray(extra_owner, dtype=np.int64))
    bulk, bulk_owner = encodings.decoded(col.plain)  # base32, base85, Ascii85, ROT13
    if len(bulk):
        form = canonical_array(bulk)
        parts += [form, pc.utf8_reverse(form)]
        owners += [col.plain_ids[bulk_owner]] * 2
    col.memo["variants"] = (pa.concat_arrays(parts), np.concatenate(owners))
    return col.memo["variants"]


_COLUMNS: dict[int, tuple[object, list[Column]]] = {}


def forget() -> None:
    """Drop the columns kept for the result being checked (``run_all`` calls it before and
    after a run, so a frame changed between runs is read afresh)."""
    _COLUMNS.clear()


def columns_of(frame: pd.DataFrame) -> list[Column]:
    """Every text-bearing column of ``frame`` (computed once per frame for all checks)."""
    held = _COLUMNS.get(id(frame))
    if held is not None and held[0] is frame:
        return held[1]
    out = [c for n in frame.columns if (c := column(frame[n], str(n))) is not None]
    _COLUMNS.clear()  # one result at a time: the one being checked
    _COLUMNS[id(frame)] = (frame, out)
    return out


def fragments(columns: list[Column]) -> list[Column]:
    """Columns whose values can be pieces of a numeric identifier (digits, a final X)."""
    out = []
    for col in columns:
        if (
            not col.decimal
            and len(col.text)
            and pc.any(pc.match_substring_regex(col.text, _FRAGMENT)).as_py()
        ):
            out.append(col)
    return out


PAD_TO = (11, 15, 18)  # mobile, legacy and current resident IDs: an integer part lost its zeros


def _padded(a: pa.Array, b: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``a`` joined to ``b`` with the 1 to 3 leading zeros an integer ``b`` lost put back, where
    that makes an identifier's length; and which pair each came from."""
    la = pc.utf8_length(a).to_numpy(zero_copy_only=False)
    lb = pc.utf8_length(b).to_numpy(zero_copy_only=False)
    parts, owners = [], []
    for total in PAD_TO:
        need = total - la - lb
        for zeros in (1, 2, 3):
            where = np.flatnonzero(need == zeros)
            if len(where):
                take = pa.array(where)
                parts.append(pc.binary_join_element_wise(
                    a.take(take), pa.scalar("0" * zeros, pa.large_string()), b.take(take),
                    pa.scalar("", pa.large_string())))  # fmt: skip
                owners.append(where)
    if not parts:
        return pa.array([], pa.large_string()), np.zeros(0, dtype=np.int64)
    return pa.concat_arrays(parts), np.concatenate(owners)


JOIN_BUDGET = 20_000_000  # rows × column combinations read joined, per kind of join
MAX_COMBINATIONS = 3_000  # column combinations read joined, per kind of join


def combinations(pieces: list[Column], wide: bool) -> list[tuple[Column, ...]]:
    """The column combinations read as one value. Narrow: every ordered pair of fragment columns
    (only neighbours beyond :data:`MAX_FRAGMENT_COLUMNS`) and every run of three neighbours.
    Wide: what narrow leaves out, within :data:`JOIN_BUDGET` and :data:`MAX_COMBINATIONS` —
    every other ordered pair, then every other ordered triple (an identifier split over columns
    that are not neighbours, in any order); what does not fit is left to narrow alone."""
    if len(pieces) > MAX_FRAGMENT_COLUMNS:
        pairs = list(zip(pieces, pieces[1:], strict=False))
        pairs += [(b, a) for a, b in pairs]
    else:
        pairs = list(permutations(pieces, 2))
    triples = list(zip(pieces, pieces[1:], pieces[2:], strict=False))
    if not wide:
        return pairs + triples
    rows = len(pieces[0].codes) if pieces else 0
    narrow = {tuple(id(c) for c in g) for g in pairs + triples}
    out: list[tuple[Column, ...]] = []
    for size in (2, 3):
        extra = [g for g in permutations(pieces, size) if tuple(map(id, g)) not in narrow]
        if extra and len(extra) <= MAX_COMBINATIONS and len(extra) * rows <= JOIN_BUDGET:
            out += extra
    return out


def joined(
    columns: list[Column], wide: bool = False
) -> list[tuple[str, pa.Array, np.ndarray, np.ndarray]]:
    """Cells of several columns read as one value (see :func:`combinations`); an integer second
    part of a pair is also read with the leading zeros a number cannot hold.

    Returns:
        Per join: a label (``a+b``), the candidate values, for each the distinct combination of
        cells it came from, and how many rows hold each combination.
    """
    empty = pa.scalar("", pa.large_string())
    out = []
    for group in combinations(fragments(columns), wide):
        present = np.all([c.codes >= 0 for c in group], axis=0)
        if not present.any():
            continue
        key = np.zeros(int(present.sum()), dtype=np.int64)
        for c in group:  # compact after each step: no overflow
            key = pd.factorize(key * (len(c.text) + 1) + c.codes[present])[0].astype(np.int64)
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        rows = np.flatnonzero(present)[first]
        cells = [c.text.take(pa.array(c.codes[rows])) for c in group]
        text, owner = pc.binary_join_element_wise(*cells, empty), np.arange(len(rows))
        if len(group) == 2 and group[1].numeric:
            extra, extra_owner = _padded(*cells)
            text, owner = pa.concat_arrays([text, extra]), np.concatenate([owner, extra_owner])
        out.append(("+".join(c.name for c in group), text, owner, counts))
    return out
