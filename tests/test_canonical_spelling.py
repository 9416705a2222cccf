"""``sdk.identifiers.canonical`` and ``variants``: one spelling per value, whatever the writing."""

from __future__ import annotations

import base64

import pyarrow as pa
import pytest

from hub.review.checks.values import canonical_array
from sdk.identifiers import canonical, normalize, variants

ID = "11010519491231002X"

SPELLINGS = [
    ("plain", ID, ID),
    ("lower-x", ID.lower(), ID),
    ("spaces", "110105 19491231 002x", ID),
    ("dots", ".".join(ID), ID),
    ("dashes-of-every-width", "110105–19491231—002‐X", ID),
    ("middle-dot-slash-underscore", "110105·19491231/002_X", ID),
    ("commas", "110,105,194,912,310,02X", ID),
    ("full-width", "１１０１０５１９４９１２３１００２Ｘ", ID),
    ("ideographic-space", "110105\u300019491231\u3000002X", ID),
    ("zero-width", "\u200b".join(ID), ID),
    ("soft-hyphen-and-joiners", "1101\u00ad05\u200d1949\u20601231\ufeff002X", ID),
    ("chinese-numerals", "一一〇一〇五一九四九一二三一〇〇二X", ID),
    ("financial-numerals", "壹壹零壹零伍壹玖肆玖壹贰叁壹零零贰X", ID),
    ("liang-and-yao", "幺三八两两三四五六七八", "13822345678"),
    ("surrounding-blanks", "  13800001111\t", "13800001111"),
    ("letters-upper", "user@Example.com", "USER@EXAMPLE.COM"),
    ("words-keep-their-blanks", "上城区 a b", "上城区 A B"),
    (
        "english-words",
        "one one zero one zero five one nine four nine one two three one zero zero two X",
        ID,
    ),
    ("english-words-run-together-any-case", "OneOneZeroOneZeroFive", "110105"),
    ("words-and-digits-mixed", "1 1 zero 1-0-five", "110105"),
    ("pinyin-with-tones", "yāo yāo líng yāo líng wǔ", "110105"),
    ("pinyin-run-together", "yiyilingyilingwu", "110105"),
    ("a-number-word-alone-stays", "one of them, Wu", "ONE OF THEM, WU"),
    ("a-word-before-a-number-stays", "part one 330106198", "PART ONE 330106198"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in SPELLINGS],
                         ids=[i for i, _, _ in SPELLINGS])  # fmt: skip
def test_when_a_value_is_spelled_differently_then_its_canonical_form_is_the_same(text, expected):
    assert canonical(text) == expected


def test_when_arrow_canonicalises_a_column_then_it_agrees_with_the_python_reference():
    texts = [t for _, t, _ in SPELLINGS] + ["1 2 3 4", "20-29", "2024-01-05 08:00:00", "a.b", ""]
    assert canonical_array(pa.array(texts)).to_pylist() == [canonical(t) for t in texts]


@pytest.mark.parametrize(
    "encode",
    [lambda v: v[::-1], lambda v: base64.b64encode(v.encode()).decode(),
     lambda v: base64.urlsafe_b64encode(v.encode()).decode().rstrip("="),
     lambda v: v.encode().hex(), lambda v: "".join(f"%{b:02X}" for b in v.encode()),
     lambda v: base64.b64encode(v[::-1].encode()).decode()],
    ids=["reversed", "base64", "base64-url-unpadded", "hex", "percent", "base64-of-reversed"],
)  # fmt: skip
def test_when_a_value_is_encoded_or_reversed_then_a_variant_is_the_canonical_value(encode):
    assert ID in variants(encode(ID))


def test_when_a_value_is_binary_hex_then_no_decoded_variant_is_made():
    assert variants("deadbeefcafebabe") == ["DEADBEEFCAFEBABE", "EBABEFACFEEBDAED"]


def test_when_normalize_is_used_for_offsets_then_its_length_never_changes():
    text = "电话：１３８\u200b0013 8000"
    assert len(normalize(text)) == len(text)
