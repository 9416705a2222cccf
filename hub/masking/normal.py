"""Spellings of one value folded to one form, before any detector looks at it.

Departments export identifiers the way their clerks typed them: full-width digits, spaces, dashes,
dots or ``·`` inside numbers, a lower-case ``x``, ``+86`` in front of mobiles, Chinese numerals.
Detection that matches only the textbook spelling serves every other spelling raw, so:

- :func:`fold` maps characters one to one (full-width to ASCII, look-alike separators to ``-``,
  optionally Chinese numerals to digits); offsets found in the folded text hold in the original.
- :data:`SEP` is the regex class of separators the in-text patterns tolerate between characters.
- :func:`compact` and :func:`compact_series` drop separators (and brackets) and upper-case a
  whole value, the form whole-column detection and raw-value comparisons use; :func:`squeeze`
  only folds and drops blanks and middle dots (names, addresses, e-mails keep their letters).
"""

from __future__ import annotations

import re

import pandas as pd

from sdk.identifiers import CHINESE_DIGITS, FULLWIDTH

# Characters people put inside identifiers: blanks, dashes of every width, dots, middle dots,
# underscores, zero-width characters. One regex class, valid in Python re and RE2 alike.
_SEP_CHARS = (
    " \t\u00a0\u2002\u2003\u2009\u202f\u3000\u200b\u200c\u200d\u2060\ufeff"
    ".\u00b7\u2022\u2027\u30fb\uff65_/"
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63-"
)
SEP = "[" + _SEP_CHARS.replace("/", "\\/").replace("-", "\\-") + "]"
"""One separator character (regex class)."""
GAP = f"{SEP}{{0,2}}"
"""What may stand between two characters of an identifier: up to two separators."""

_SEPARATORS = re.compile(SEP)
_DROPPED = re.compile(SEP[:-1] + "()（）]")  # compact forms also lose brackets: (+86)
# Folding maps every separator to itself except the exotic ones, so patterns stay simple.
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | FULLWIDTH  # （＃［ and the rest too
_FOLD |= {ord(c): ord("-") for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"}
_FOLD |= {ord(c): ord(" ") for c in "\u00a0\u2002\u2003\u2009\u202f"}
_FOLD |= {ord(c): ord("·") for c in "\u2022\u2027\u30fb\uff65"}
_NUMERALS = _FOLD | CHINESE_DIGITS  # one character each: offsets still hold


def fold(text: str, numerals: bool = False) -> str:
    """``text`` with full-width forms and look-alike separators mapped to ASCII, one character
    for one; with ``numerals``, Chinese numerals (一二三, 壹贰叁, 〇, 幺) become digits too (the view
    numeric identifiers are searched in, never the one names are)."""
    return text.translate(_NUMERALS if numerals else _FOLD)


def compact(value: object) -> str:
    """A whole value folded (numerals included), separators dropped, upper-cased."""
    return _DROPPED.sub("", fold(str(value), numerals=True)).upper()


def compact_series(values: pd.Series) -> pd.Series:
    """:func:`compact` of every value of a column of strings (vectorized)."""
    s = values.astype("str").str.translate(_NUMERALS)
    return s.str.replace(_DROPPED.pattern, "", regex=True).str.upper()


def strip_country_code(value: str) -> str:
    """A compact mobile number without its ``+86``/``0086``/``86`` prefix."""
    for prefix in ("+86", "0086", "86"):
        if value.startswith(prefix) and len(value) - len(prefix) == 11:
            return value[len(prefix) :]
    return value


_BLANKS = re.compile("[ \t\u00a0\u2002\u2003\u2009\u202f\u3000\u200b\u200c\u200d\u2060\ufeff·]")


def squeeze(value: object) -> str:
    """A whole value folded (no numerals), blanks, zero-width characters and ``·`` dropped."""
    return _BLANKS.sub("", fold(str(value))).strip()


def squeeze_series(values: pd.Series) -> pd.Series:
    """:func:`squeeze` of every value of a column of strings (vectorized)."""
    s = values.astype("str").str.translate(_FOLD)
    return s.str.replace(_BLANKS.pattern, "", regex=True)
