"""Chinese identifiers: check characters, validators, a quick scan of text for them, and the
one canonical spelling (:func:`canonical`, :func:`variants`) every release path matches on.

Pure Python, shared: the SDK's preflight uses it in the workspace, and the hub's validators, PII
recognizers and disclosure checks import it from here, so the arithmetic and the spelling rules
are written once.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from datetime import date
from urllib.parse import unquote

# Full-width digits, letters, + - @ . _ and the ideographic space map to ASCII, one char each.
FULLWIDTH = {ord(c): ord(c) - 0xFEE0 for c in "０１２３４５６７８９＋－＠．＿"}
FULLWIDTH |= {
    c: c - 0xFEE0 for r in ((0xFF21, 0xFF3A), (0xFF41, 0xFF5A)) for c in range(r[0], r[1] + 1)
}
FULLWIDTH[0x3000] = ord(" ")

PROVINCE_CODES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45}
PROVINCE_CODES |= {46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}

# resident identity card (GB 11643-1999, ISO 7064 MOD 11-2)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# unified social credit code (GB 32100-2015, mod 31)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalize(text: str) -> str:
    """Map full-width digits, letters and ``+ - @ . _`` to ASCII; the length never changes."""
    return text.translate(FULLWIDTH)


# Characters that render as nothing: zero-width spaces and joiners, marks, the soft hyphen, the
# word joiner and invisible operators, the byte-order mark, the Mongolian vowel separator.
INVISIBLE = dict.fromkeys(
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x180E, 0x3164, 0xFEFF, 0xFFA0]
    + list(range(0x200B, 0x2010))
    + list(range(0x202A, 0x202F))
    + list(range(0x2060, 0x2070))
)
# Chinese numerals, everyday and financial (大写) forms, read digit by digit.
CHINESE_DIGITS = str.maketrans(
    {c: str(i) for i, c in enumerate("〇一二三四五六七八九")}
    | {c: str(i) for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
    | {"两": "2", "兩": "2", "幺": "1", "貳": "2", "參": "3", "陸": "6", "○": "0"}
)
NUMERAL_CHARS = "".join(chr(c) for c in CHINESE_DIGITS)
"""Every character :data:`CHINESE_DIGITS` reads as a digit."""
# Separators people put between digits: blanks, dots, dashes (every width), middle dots,
# slashes, underscores, commas, the ideographic comma and full stop.
_SEPARATORS = r"[\s.\-‐‑‒–—―−·•・/_,，、。\\|:;'\"]+"
_BETWEEN_DIGITS = re.compile(rf"(?<=[0-9])(?:{_SEPARATORS})(?=[0-9Xx])")

# Digits spelled as words, in English or pinyin (tone marks or not): read as digits where two or
# more stand together, single digits among them (``three three zero``, ``3 3 zero``,
# ``sansanling`` → ``330``; a check letter may follow), so a word alone (``one of them``,
# ``Wu``) stays a word.
NUMBER_WORDS = {
    **{w: str(i) for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])},
    **{w: str(i) for i, w in enumerate(
        ["ling", "yi", "er", "san", "si", "wu", "liu", "qi", "ba", "jiu"])},
    "yao": "1", "liang": "2", "dong": "0",
}  # fmt: skip
_TONES = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüĀÁǍÀĒÉĚÈĪÍǏÌŌÓǑÒŪÚǓÙ",
                       "aaaaeeeeiiiioooouuuuuuuuuAAAAEEEEIIIIOOOOUUUU")  # fmt: skip
_WORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_WORD_GAP = r"[\s.,，、_\-·]*"
_DIGIT = r"(?<![0-9])[0-9](?![0-9])"
_ITEM = rf"(?:{_WORD}|{_DIGIT})"
_WORD_RUN = re.compile(
    rf"(?<![A-Za-z0-9]){_ITEM}(?:{_WORD_GAP}{_ITEM})+(?![A-WYZa-wyz0-9]|[Xx][A-Za-z0-9])",
    re.IGNORECASE,
)  # digits in a run stand alone, as spelled ones do: ``part one 330106198`` is no run
_ONE_WORD = re.compile(_WORD, re.IGNORECASE)
WORD_RUN_HINT = rf"(?i)({_WORD}){_WORD_GAP}({_WORD}|[0-9])"
"""A looser RE2 form of the word runs: values that may hold one (for bulk pre-filters)."""


def number_words(text: str) -> str:
    """``text`` with runs of two or more digits spelled as words (English, pinyin; mixed with
    digits) written as digits; separators inside a run are kept for the digit rules to drop."""
    plain = text.translate(_TONES)
    if not _ONE_WORD.search(plain):
        return text

    def digits(m: re.Match) -> str:
        return _ONE_WORD.sub(lambda w: NUMBER_WORDS[w.group(0).lower()], m.group(0))

    return _WORD_RUN.sub(digits, plain)


def canonical(text: str) -> str:
    """One spelling per value, so matching is not fooled by how a value is written.

    The rules every release path applies before matching values against identifier patterns or
    raw records: Unicode NFKC (full-width digits, letters and signs become ASCII), characters that
    render as nothing removed (zero-width spaces and joiners, the soft hyphen, the byte-order
    mark), Chinese numerals read as digits (〇一二三四五六七八九, 零壹贰叁肆伍陆柒捌玖, 两, 幺),
    so are runs of digits spelled as English or pinyin words (:func:`number_words`),
    separators between digits removed (blanks, dots, dashes, ·, /, _, commas), surrounding blanks
    trimmed and letters upper-cased. ``"１１０·１０１ 一九九〇0307-123x"`` and ``"110101199003071
    23X"`` read alike. Unlike :func:`normalize`, the length may change: use it for matching, never
    for offsets into the original text.

    Args:
        text: any value; ``str()`` is applied first.

    Returns:
        The canonical spelling.
    """
    value = unicodedata.normalize("NFKC", str(text)).translate(INVISIBLE)
    value = number_words(value.translate(CHINESE_DIGITS))
    return _BETWEEN_DIGITS.sub("", value).strip().upper()


_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]{8,}={0,2}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2}){4,}")


def as_text(raw: bytes) -> str | None:
    """``raw`` as UTF-8 text when it is printable text, else ``None`` (binary, not an evasion)."""
    try:
        out = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return out if out and out.isprintable() else None


def decoded(text: str) -> list[str]:
    """What ``text`` reads as once un-encoded: base64 (standard or URL-safe), hex and percent
    encoding, where the result is printable text. Binary results (a pseudonym's hex) are not
    text and are dropped."""
    value = str(text).strip()
    out = []
    if "%" in value and (plain := unquote(value)) != value:
        out.append(plain)
    if _HEX.fullmatch(value) and (plain := as_text(bytes.fromhex(value))) is not None:
        out.append(plain)
    if _BASE64.fullmatch(value):
        padded = value + "=" * (-len(value) % 4)
        for alphabet in (None, b"-_"):
            try:
                raw = base64.b64decode(padded, altchars=alphabet, validate=True)
            except (binascii.Error, ValueError):
                continue
            if (plain := as_text(raw)) is not None:
                out.append(plain)
                break
    return out


def variants(text: str) -> list[str]:
    """The canonical spellings ``text`` may hide an identifier under: itself, reversed, and
    decoded (base64, hex, percent) — each canonical, each decoded form also reversed.

    The PII scan and the raw-overlap check match every variant, so writing an ID backwards or
    encoding it is no way around them.

    Args:
        text: any value.

    Returns:
        Distinct canonical variants, the plain one first.
    """
    plain = canonical(text)
    out = [plain, plain[::-1]]
    for inner in decoded(str(text).strip()):
        form = canonical(inner)
        out += [form, form[::-1]]
    return list(dict.fromkeys(out))


def resident_id_check_char(first17: str) -> str:
    """Return the check character for the first 17 digits of a resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def uscc_check_char(first17: str) -> str:
    """Return the check character for the first 17 characters of a credit code."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def digits(value: str) -> str:
    """The value without blanks and dashes, upper-cased."""
    return re.sub(r"[\s-]", "", value).upper()


def _birth_ok(year: int, month: int, day: int) -> bool:
    try:
        return date(year, month, day) <= date.today()
    except ValueError:
        return False


def resident_id_valid(value: str) -> bool:
    """18 characters: region, birth date, ISO 7064 check; 15 digits: region and birth date."""
    v = digits(value)
    if int(v[:2]) not in PROVINCE_CODES:
        return False
    if len(v) == 15:
        return int(v[6:8]) >= 20 and _birth_ok(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))
    return (
        len(v) == 18
        and int(v[6:10]) >= 1900
        and _birth_ok(int(v[6:10]), int(v[10:12]), int(v[12:14]))
        and resident_id_check_char(v[:17]) == v[17]
    )


def luhn_valid(value: str) -> bool:
    """Return whether the digits of ``value`` pass the Luhn check."""
    numbers = [int(d) for d in digits(value)][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(numbers))
    return total % 10 == 0


def uscc_valid(value: str) -> bool:
    """Registration authority, region and the GB 32100 mod-31 check character."""
    v = value.upper()
    return (
        v[0] in "123456789ANY"
        and int(v[2:4]) in PROVINCE_CODES
        and uscc_check_char(v[:17]) == v[17]
    )


_CANDIDATES = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}"  # mobile
    r"|\d{6}[ -]?\d{8}[ -]?\d{3}[0-9Xx]|\d{15}"  # resident ID, 18 or 15
    r"|\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?"  # bank card
    r"|[1-9ANY][1-9]\d{6}[0-9A-HJ-NP-RTUW-Y]{10})(?![0-9A-Za-z])"  # credit code
)


def find_identifiers(text: str) -> list[tuple[str, str]]:
    """(kind, value) of the mobiles, resident IDs, bank cards and credit codes in ``text``,
    checksums verified — a quick look, not the platform's full scan."""
    found = []
    for match in _CANDIDATES.finditer(normalize(str(text))):
        value = match.group(0)
        bare = digits(value)
        if value.startswith(("+", "86")) and len(bare) > 11:  # a mobile with its country code
            bare = bare.removeprefix("+").removeprefix("86")
        if re.fullmatch(r"1[3-9]\d{9}", bare):
            found.append(("mobile", value))
        elif len(bare) in (15, 18) and bare[:17].isdigit() and resident_id_valid(bare):
            found.append(("resident_id", value))
        elif bare.isdigit() and 16 <= len(bare) <= 19 and luhn_valid(bare):
            found.append(("bank_card", value))
        elif len(bare) == 18 and uscc_valid(bare):
            found.append(("uscc", value))
    return found
