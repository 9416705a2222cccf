"""Validation rules as tables: id, input, expected value or the field of the error."""

import pytest

from hub.i18n import UserError
from hub.validators import (
    check_mobile,
    check_real_name,
    check_resident_id,
    check_uscc,
    check_username,
    parse_date,
    resident_id_check_char,
    uscc_check_char,
)

VALID_ID = "33010619900101123X"
VALID_USCC = "91330106MA2H0A1B2T"


@pytest.mark.parametrize(
    "case, value, expected",
    [
        ("valid with X check", VALID_ID, VALID_ID),
        ("lowercase x is normalized", VALID_ID.lower(), VALID_ID),
        ("surrounding spaces stripped", f" {VALID_ID} ", VALID_ID),
        ("wrong check char", "330106199001011231", None),
        ("17 digits", VALID_ID[:17], None),
        ("letters inside", "33010619900A01123X", None),
        ("impossible date", "330106199002301230", None),
        ("born in the future", "330106209901011230", None),
        ("empty", "", None),
    ],
)
def test_resident_id_table(case, value, expected):
    if expected is None:
        with pytest.raises(UserError) as e:
            check_resident_id(value)
        assert e.value.field == "id_number"
        assert "/" in str(e.value.msg)  # bilingual
    else:
        assert check_resident_id(value) == expected


def test_when_check_char_is_recomputed_then_a_known_id_matches():
    # GB 11643 example from public documentation: 11010519491231002X
    assert resident_id_check_char("11010519491231002") == "X"


@pytest.mark.parametrize(
    "case, value, ok",
    [
        ("valid", VALID_USCC, True),
        ("lowercase normalized", VALID_USCC.lower(), True),
        ("wrong checksum", VALID_USCC[:-1] + "0", False),
        ("forbidden letter I", "91330106MA2H0AIB2" + "0", False),
        ("too short", VALID_USCC[:10], False),
        ("empty", "", False),
    ],
)
def test_uscc_table(case, value, ok):
    if ok:
        assert check_uscc(value) == VALID_USCC
    else:
        with pytest.raises(UserError) as e:
            check_uscc(value)
        assert e.value.field == "uscc"


def test_when_uscc_check_char_computed_then_a_published_code_validates():
    # A real, published credit code (Alibaba (China) Co., Ltd.): 91330100799655058B
    assert uscc_check_char("91330100799655058") == "B"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("12812345678", None),
        ("1381234567", None),
        ("", None),
    ],
)
def test_mobile_table(value, expected):
    if expected is None:
        with pytest.raises(UserError):
            check_mobile(value)
    else:
        assert check_mobile(value) == expected


@pytest.mark.parametrize(
    "value, ok",
    [
        ("alice", True),
        ("a.b-c_1", True),
        ("Alice", False),
        ("1abc", False),
        ("a", False),
        ("", False),
        ("a b", False),
    ],
)
def test_username_table(value, ok):
    if ok:
        assert check_username(value) == value
    else:
        with pytest.raises(UserError):
            check_username(value)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("张三", True),
        ("阿卜杜·热合曼", True),
        ("John Smith", True),
        ("", False),
        ("   ", False),
        ("张三<script>", False),
    ],
)
def test_real_name_table(value, ok):
    if ok:
        assert check_real_name(value) == value.strip()
    else:
        with pytest.raises(UserError):
            check_real_name(value)


def test_when_date_is_malformed_then_the_error_names_the_input():
    with pytest.raises(UserError) as e:
        parse_date("2026-13-01", "start")
    assert "2026-13-01" in str(e.value.msg)
