"""Fold a text into canonical spellings before it is matched against identifiers.

A job that wants an identifier past a release check spells it differently: full-width digits,
dots or spaces between digits, zero-width characters, Chinese numerals (三三〇一…, 叁叁零壹…) or
digits spelled as words (three three zero…, sansanling…),
lower case, or pieces in separate tokens or lines. Matching runs on the folded text, where every
such spelling of one value is the same string, and on the digit runs of a sequence of texts,
where pieces written apart can be joined again.

The numeral table and the printable-text test are :mod:`sdk.identifiers`' (whose ``canonical``
is the same idea for whole export values); ``normalize`` there keeps lengths for offsets, which
folding here does not.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
import unicodedata
from functools import cache, lru_cache
from urllib.parse import unquote

import pyarrow as pa

from hub.review.checks import encodings as bulk_encodings
from sdk.identifiers import CHINESE_DIGITS, NUMERAL_CHARS, as_text, number_words

# Digits written as Chinese numerals: the table sdk.identifiers.canonical reads them with.
NUMERALS = CHINESE_DIGITS
_NUMBER = re.compile(rf"[{NUMERAL_CHARS}0-9](?:[^0-9A-Za-z\u4e00-\u9fff]*[{NUMERAL_CHARS}0-9])*")
_CJK = re.compile(r"[\u4e00-\u9fff]")
INVISIBLE = ("Cf", "Mn", "Me", "Cc")  # format (zero-width), combining marks, controls
# Anything that is neither a letter, a digit nor a CJK character separates, underscore included.
_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])(?:[^0-9A-Za-z\u4e00-\u9fff]|_)+(?=[0-9X])")
_RUNS = re.compile(r"[0-9]+X?")
CACHED = 2048  # texts up to this long are folded once per process (a line is read many times)
LOOKALIKES = {
    **dict.fromkeys("OQD", "0"),
    **dict.fromkeys("IL|", "1"),
    "Z": "2",
    "S": "5",
    "B": "8",
}
_LOOKALIKE = re.compile(  # between digits, or at a token's edge next to one
    r"(?<=[0-9])[OQDIL|ZSB]+(?=[0-9X])|(?<![A-Z0-9])[OQDIL|ZSB]+(?=[0-9])"
    r"|(?<=[0-9])[OQDIL|ZSB]+(?![A-Z0-9])"
)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2}){9,}")
_PRINTABLE_TOKEN = re.compile(r"[!-~]{12,}")


@cache
def _invisible() -> dict[int, None]:
    """Every code point of the invisible categories (built once: ~0.3 s), to delete at C speed."""
    table = {
        c: None for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in INVISIBLE
    }
    for keep in "\n\t":
        table.pop(ord(keep))
    return table


def _visible(text: str) -> str:
    return text.translate(_invisible())


def _numerals(text: str) -> str:
    """Chinese numerals as digits where they spell a number: in a run of two or more numerals or
    digits (separators allowed between), or alone but not inside a word (一 in 另一半 stays)."""

    def digits(m: re.Match) -> str:
        run = m.group(0)
        if sum(c.isdigit() or c in NUMERAL_CHARS for c in run) >= 2 or run.isdigit():
            return run.translate(NUMERALS)
        before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
        if _CJK.match(before) or _CJK.match(after):
            return run
        return run.translate(NUMERALS)

    return _NUMBER.sub(digits, text)


def light(text: str) -> str:
    """``text`` with full-width and compatibility forms folded (NFKC), invisible characters
    removed and Chinese numerals written as digits; case and separators kept."""
    return _light(text) if len(text) <= CACHED else _light.__wrapped__(text)


def fold(text: str) -> str:
    """The canonical spelling of ``text``: :func:`light`, upper-cased, every separator between
    two digits removed (``330.106 198`` → ``330106198``) and letters that look like digits
    written between digits read as them (``33O1O6`` → ``330106``)."""
    return _fold(text) if len(text) <= CACHED else _fold.__wrapped__(text)


@lru_cache(maxsize=8192)
def _light(text: str) -> str:
    return number_words(_numerals(_visible(unicodedata.normalize("NFKC", str(text)))))


@lru_cache(maxsize=8192)
def _fold(text: str) -> str:
    folded = _BETWEEN_DIGITS.sub("", light(text).upper())
    folded = _LOOKALIKE.sub(lambda m: "".join(LOOKALIKES[c] for c in m.group(0)), folded)
    return _BETWEEN_DIGITS.sub("", folded)


def encodings(text: str) -> list[str]:
    """Other readings of ``text`` a job may hide an identifier in: reversed (always first),
    URL-escaped, its base64 or hex tokens decoded (when they decode to printable text), and its
    tokens read as base32, base85, Ascii85 and ROT13 (:mod:`hub.review.checks.encodings`)."""
    lit = light(text)
    found = [lit[::-1]]
    if "%" in lit:
        found.append(unquote(lit))
    for token in _BASE64.findall(lit):
        padded = token + "=" * (-len(token) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = as_text(decode(padded))
            except (binascii.Error, ValueError):
                decoded = None
            if decoded:
                found.append(decoded)
                break
    for token in _HEX.findall(lit):
        decoded = as_text(bytes.fromhex(token))
        if decoded:
            found.append(decoded)
    tokens = _PRINTABLE_TOKEN.findall(lit)
    if tokens:  # base32, base85, Ascii85, ROT13: read in bulk, as the export checks read cells
        bulk, _ = bulk_encodings.decoded(pa.array(tokens, pa.large_string()))
        found += [t for t in bulk.to_pylist() if t not in found]
    return found


def digit_runs(text: str) -> list[str]:
    """The runs of digits of the folded ``text`` (a run may end in the check letter ``X``)."""
    return _RUNS.findall(fold(text))


def joined_runs(
    runs: list[tuple[str, int]], lengths: frozenset[int]
) -> list[tuple[str, tuple[int, ...]]]:
    """Strings made of two or more consecutive whole ``runs`` whose length is in ``lengths``,
    each with the owners of the runs it joins: an identifier written in pieces (``330106198``
    on one line, ``805051234`` on the next) is whole again here. Only whole runs are joined, so a
    stream of unrelated numbers rarely forms a candidate by chance."""
    out = []
    longest = max(lengths)
    for i in range(len(runs)):
        text, owners = runs[i][0], [runs[i][1]]
        for j in range(i + 1, len(runs)):
            if text.endswith("X"):
                break  # a check letter ends an identifier
            text += runs[j][0]
            owners.append(runs[j][1])
            if len(text) > longest:
                break
            if len(text) in lengths:
                out.append((text, tuple(dict.fromkeys(owners))))
    return out
