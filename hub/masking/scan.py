"""The scrub every served text cell goes through, whatever its column's policy.

A column's operator masks what the catalog says the column holds; what it does not say — a
mobile in a remarks column, a plate column no detector recognised, a name typed into a kept
column — is found here, cell by cell, so nothing is served raw because a detector missed a
column (deny by default). Two passes:

1. :func:`scrub_known` replaces, in each row's text, that row's own identifying values (its
   name, ID, mobile ... from the identifying columns, which the hub reads even when they are not
   served), matched on compact forms so ``110101 19900307 1233`` in a note matches the ID column.
2. :func:`scrub_text` replaces everything the recognizers find with ``<ENTITY>``. It runs the
   recognizers' own patterns and validators directly (no presidio engine per cell: a third of the
   cost), once per distinct value, and only on values that could hold an entity at all.

Numbers are scanned too (:func:`scrub_numbers`): an identifier stored as an integer is nulled.
The ``free_text`` operator (``--mask notes=free_text``) is this scrub registered by name.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
from presidio_analyzer import RecognizerResult

from hub.masking import operators
from hub.masking.normal import SEP, compact, fold, squeeze
from hub.masking.recognizers import (
    _CONTEXT_ONLY as CONTEXT_ONLY,
)
from hub.masking.recognizers import (
    COMPOUND_SURNAMES,
    HAN,
    LOCAL_COMPACT,
    PHONE_WORDS,
    RARE_SURNAMES,
    SURNAMES,
    AddressRecognizer,
    CnRecognizer,
    NameRecognizer,
    _name_char,
    name_valid,
)

_FLAGS = re.DOTALL | re.MULTILINE | re.IGNORECASE  # presidio's pattern flags
# A value can hold an entity only if it has a digit (any width, or a Chinese numeral), an @ or
# a spelling of one (#, [at], " at ", 艾特), a surname or an address unit followed by more Han
# text.
_MAYBE = re.compile(
    "[0-9０-９@＠#＃〇零一二三四五六七八九幺壹贰叁肆伍陆柒捌玖]"
    "|(?i:[(\\[{<（【] ?at ?[)\\]}>）】]|\\sat\\s)|艾特|爱特|小老鼠|圈a"
    f"|{HAN} ?[·.•・･] ?{HAN}"  # 达瓦·次仁: a transliterated name
    f"|(?:[{SURNAMES}{RARE_SURNAMES}{''.join(sorted(CONTEXT_ONLY))}]"
    f"|{'|'.join(COMPOUND_SURNAMES)}) ?{HAN}"
    f"|{HAN}(?:省|市|区|县|镇|乡|村|路|街|巷|弄|道|号|栋|幢|室|社区|小区|花园|大厦|公寓)"
)
_SKIP = (NameRecognizer, AddressRecognizer)  # their own analyze() is the search


@cache
def _recognizers() -> tuple[tuple[CnRecognizer, tuple[tuple[re.Pattern, float], ...]], ...]:
    from hub.masking.detectors import ENTITIES, _recognizer

    out = []
    for entity in ENTITIES:
        rec = _recognizer(entity)
        compiled = ()
        if not isinstance(rec, _SKIP):
            compiled = tuple((re.compile(p.regex, _FLAGS), p.score) for p in rec.patterns)
        out.append((rec, compiled))
    return tuple(out)


def find(text: str) -> list[RecognizerResult]:
    """Every entity the recognizers find in ``text``, overlaps resolved, in text order."""
    from hub.masking.detectors import _resolve

    views = {False: fold(text), True: fold(text, numerals=True)}
    results: list[RecognizerResult] = []
    for rec, compiled in _recognizers():
        if not compiled:
            results += [r for r in rec.analyze(text, [rec.ENTITY]) if r.score >= 0.4]
            continue
        view = views[rec.NUMERIC]
        for regex, score in compiled:
            for m in regex.finditer(view):
                found = m.group()
                verdict = rec.validate_result(found)
                if verdict is False or rec.invalidate_result(found):
                    continue
                results.append(RecognizerResult(rec.ENTITY, m.start(), m.end(), score))
    return _resolve(results)


@cache
def _full() -> tuple[tuple[CnRecognizer, re.Pattern], ...]:
    return tuple(
        (rec, re.compile(f"(?:{rec.full})"))
        for rec, _ in _recognizers()
        if not isinstance(rec, NameRecognizer)
    )


def whole(text: str) -> str | None:
    """The entity a short cell is in its entirety, in any spelling (``谢 明``, ``6 5 2 8 …``):
    its compact or squeezed form matched against each entity's whole-value regex."""
    if len(text) > 64:
        return None
    forms = {"compact": compact(text), "text": squeeze(text)}
    for rec, full in _full():
        form = forms[rec.CANON]
        if full.fullmatch(form) and rec.valid(form):
            return rec.ENTITY
    name = forms["text"]
    if 2 <= len(name) <= 5:
        found = _recognizers()[-1][0].analyze(name, ["CN_NAME"])
        if any(r.start == 0 and r.end == len(name) for r in found) or _lone_name(name):
            return "CN_NAME"
    return None


_ANY_SURNAME = re.compile(
    f"(?:{'|'.join(COMPOUND_SURNAMES)}|[{SURNAMES}{RARE_SURNAMES}{''.join(CONTEXT_ONLY)}])"
)


def _lone_name(value: str) -> bool:
    """A cell holding nothing but a name whose surname is rare or also a word (佟曌凤, 常洁):
    alone in its cell, it is read as a name when its given name is made of name characters."""
    m = _ANY_SURNAME.match(value)
    given = value[m.end() :] if m else ""
    return 1 <= len(given) <= 2 and all(_name_char(c) for c in given) and name_valid(value)


def mask(text: str) -> str:
    """``text`` with every finding replaced by ``<ENTITY>`` (a cell that is one entity in its
    entirety, however spelt, by one tag)."""
    if not isinstance(text, str) or not _MAYBE.search(text):
        return text
    entity = whole(text)
    if entity is not None:
        return f"<{entity}>"
    out, pos = [], 0
    for r in find(text):
        out += [text[pos : r.start], f"<{r.entity_type}>"]
        pos = r.end
    return "".join(out) + text[pos:] if out else text


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


# A header naming a phone: its cells are phone numbers, a local one without its area code too.
_PHONE_HEADER = re.compile("|".join((*PHONE_WORDS, "phone")), re.IGNORECASE)
_LOCAL_NUMBER = re.compile(LOCAL_COMPACT)


def _masker(header: object):
    """:func:`mask`, or for a column whose header names a phone, :func:`mask` that also reads a
    cell holding only a local number (``8765 4321``) as a landline."""
    if not _PHONE_HEADER.search(str(header or "")):
        return mask

    def masked(text):
        if isinstance(text, str) and _LOCAL_NUMBER.fullmatch(compact(text)):
            return "<CN_LANDLINE>"
        return mask(text)

    return masked


def scrub_text(series: pd.Series) -> pd.Series:
    """Every string cell of ``series`` masked by :func:`mask` (its header read as context: see
    :func:`_masker`), once per distinct value; other cells (nulls, numbers in an object column)
    unchanged."""
    if series.empty:
        return series
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object)
    cell = _masker(series.name)
    masked = np.array([cell(v) for v in values.tolist()] + [None], dtype=object)
    out = pd.Series(masked[codes], index=series.index, name=series.name, dtype=object)
    return out.where(series.notna(), series.astype(object))


# Whole-number identifiers stored as numbers: mobiles, 15/18-digit IDs, 16-19-digit cards.
_NUMBER_IDS = re.compile(r"1[3-9][0-9]{9}|[1-9][0-9]{14}(?:[0-9]{2}[0-9X])?|[0-9]{16,19}")


def _number_identifies(text: str) -> bool:
    from hub.masking.detectors import _recognizer

    if not _NUMBER_IDS.fullmatch(text):
        return False
    return any(
        _recognizer(e).valid(text) for e in ("CN_MOBILE", "CN_RESIDENT_ID", "CN_BANK_CARD")
    ) and (len(text) != 11 or text.startswith("1"))


def scrub_numbers(series: pd.Series) -> pd.Series:
    """``series`` (numbers) with the cells that are identifiers written as numbers nulled."""
    numbers = pd.to_numeric(series, errors="coerce")
    big = numbers.abs() >= 1e10  # the shortest identifier (a mobile) has 11 digits
    if not bool(big.fillna(False).any()):
        return series
    candidates = numbers[big.fillna(False)]
    whole = candidates[candidates == candidates.round()]
    hits = [i for i, v in whole.items() if _number_identifies(str(int(v)))]
    if not hits:
        return series
    out = series.astype("float64") if series.dtype.kind in "iu" else series.copy()
    out.loc[hits] = np.nan
    return out


def scrub(series: pd.Series, known: pd.DataFrame | None = None, tags: dict | None = None):
    """The served cells of one column: text scrubbed of the row's ``known`` values (tagged by
    ``tags``: column → ``<ENTITY>``) and of everything the recognizers find; numbers scrubbed of
    identifiers; dates and booleans as they are."""
    kind = series.dtype.kind
    if kind in "iuf":
        return scrub_numbers(series)
    if kind in "bmMc" or not _is_text(series):
        return series
    if known is not None and tags:
        series = scrub_known(series, known, tags)
    return scrub_text(series)


# --- the row's own values --------------------------------------------------------------------------
_SEP_RE = re.compile(SEP[:-1] + "()（）]")


def _compact_map(text: str) -> tuple[str, list[int]]:
    """``text`` compact (see :func:`hub.masking.normal.compact`) and, for each of its characters,
    the offset in ``text`` it came from."""
    folded = fold(text, numerals=True)
    keep = [i for i, c in enumerate(folded) if not _SEP_RE.match(c)]
    return "".join(folded[i] for i in keep).upper(), keep


def known_variants(value: object) -> set[str]:
    """The compact spellings of one identifying value a text may use: as it is, a mobile
    without its country code, an 18-digit ID in its legacy 15-digit form."""
    v = compact(value)
    out = {v}
    if len(v) > 11 and v.lstrip("+").startswith(("86", "0086")):
        out.add(v[-11:])
    if len(v) == 18 and v[:17].isdigit() and v[6:8] == "19":
        out.add(v[:6] + v[8:17])
    return {x for x in out if len(x) >= 2}


def _replace_known(cell: str, variants: list[tuple[str, str]]) -> str:
    flat, where = _compact_map(cell)
    spans = []
    for value, tag in variants:
        start = flat.find(value)
        while start >= 0:
            spans.append((where[start], where[start + len(value) - 1] + 1, tag))
            start = flat.find(value, start + len(value))
    if not spans:
        return cell
    spans.sort(key=lambda s: (s[0], -s[1]))
    out, pos = [], 0
    for start, end, tag in spans:
        if start < pos:
            continue
        out += [cell[pos:start], tag]
        pos = end
    return "".join(out) + cell[pos:]


def scrub_known(text: pd.Series, known: pd.DataFrame, tags: dict[str, str]) -> pd.Series:
    """Replace, in each row's text, the row's own values of the ``known`` columns (any spelling
    of them: separators, full width, case) by their tag — what a detector could miss in free
    text, the record itself names."""
    columns = [c for c in known.columns if c in tags]
    if not columns:
        return text
    rows = known[columns].astype(object).where(known[columns].notna(), None).to_numpy()
    out = []
    for cell, row in zip(text.to_numpy(dtype=object), rows, strict=True):
        if isinstance(cell, str) and cell:
            variants = [
                (v, tags[c])
                for c, value in zip(columns, row, strict=True)
                if value is not None and str(value).strip()
                for v in known_variants(value)
            ]
            variants.sort(key=lambda x: -len(x[0]))
            cell = _replace_known(cell, variants)
        out.append(cell)
    return pd.Series(out, index=text.index, name=text.name, dtype=object)


@operators.register("free_text")
def free_text(series: pd.Series, ctx: operators.MaskContext) -> pd.Series:
    """Scan every cell for personal data and replace each finding by ``<ENTITY>`` (the row's own
    identifying values are scrubbed too when samples are built: :mod:`hub.masking.sample`)."""
    return scrub(series)


@operators.register("keep")
def keep(series: pd.Series, ctx: operators.MaskContext) -> pd.Series:
    """Serve the column as it is — still under the scrub every served text cell goes through."""
    return series
