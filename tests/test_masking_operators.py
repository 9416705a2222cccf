"""Masking operators: outputs on small columns, key separation, and once-per-unique-value work."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from hub.masking import operators
from hub.masking.operators import (
    GENERALIZED,
    OPERATORS,
    SURROGATE_KINDS,
    MaskContext,
    UnknownOperator,
    apply,
    derive_key,
    register,
)

MASTER = b"m" * 32


def ctx_for(tenant: str = "tenant-a", scenario: str = "claims") -> MaskContext:
    return MaskContext(key=derive_key(MASTER, tenant, scenario))


CTX = ctx_for()


# --- keys and registry --------------------------------------------------------------------------
def test_when_tenant_or_scenario_differs_then_derived_keys_differ():
    keys = {
        derive_key(MASTER, "a", "s"),
        derive_key(MASTER, "b", "s"),
        derive_key(MASTER, "a", "t"),
        derive_key(b"other-master", "a", "s"),
    }
    assert len(keys) == 4
    assert derive_key(MASTER, "a", "s") == derive_key(MASTER, "a", "s")
    assert len(derive_key(MASTER, "a", "s")) == 32


def test_when_parts_shift_across_the_boundary_then_keys_still_differ():
    assert derive_key(MASTER, "ab", "c") != derive_key(MASTER, "a", "bc")


def test_when_context_is_printed_then_key_is_not_shown():
    assert CTX.key.hex() not in repr(CTX)
    with pytest.raises(ValueError):
        MaskContext(key=b"")


def test_when_operator_is_unknown_then_unknown_operator_names_the_known_ones():
    with pytest.raises(UnknownOperator) as err:
        apply("shred", pd.Series(["x"]), CTX)
    assert isinstance(err.value, KeyError)
    assert "shred" in str(err.value) and "pseudonym" in str(err.value)


def test_when_registry_is_listed_then_all_operators_are_present():
    expected = {"drop", "mask", "pseudonym", "generalize", "surrogate", "date_shift", "noise"}
    assert expected | {"round"} <= set(OPERATORS)


def test_when_name_is_registered_twice_then_registration_fails():
    with pytest.raises(ValueError):
        register("mask")(lambda series, ctx: series)


def test_when_operator_gets_an_unknown_parameter_then_it_fails_loudly():
    with pytest.raises(TypeError):
        apply("mask", pd.Series(["x"]), CTX, keep_middle=3)


# --- drop and mask ------------------------------------------------------------------------------
def test_when_dropping_then_column_is_none():
    assert apply("drop", pd.Series([1, 2]), CTX) is None


def test_when_masking_resident_id_then_prefix_and_suffix_are_kept():
    out = apply("mask", pd.Series(["330106199001011234", None]), CTX, keep_prefix=6, keep_suffix=4)
    assert out.iloc[0] == "330106********1234"
    assert pd.isna(out.iloc[1])


def test_when_masking_with_defaults_then_last_four_are_kept_and_length_preserved():
    out = apply("mask", pd.Series(["13812345678", "abcdefg"], name="phone"), CTX)
    assert out.tolist() == ["*******5678", "***defg"]
    assert out.name == "phone"


def test_when_value_is_too_short_then_it_is_fully_masked():
    out = apply("mask", pd.Series(["abc", "abcd", ""]), CTX, keep_prefix=1, keep_suffix=3, char="#")
    assert out.tolist() == ["###", "####", ""]


def test_when_masking_numbers_with_nulls_then_no_float_suffix_appears():
    out = apply("mask", pd.Series([13812345678, None]), CTX, keep_prefix=3)
    assert out.iloc[0] == "138****5678"
    assert pd.isna(out.iloc[1])


def test_when_mask_char_is_not_one_character_then_it_fails():
    with pytest.raises(ValueError):
        apply("mask", pd.Series(["x"]), CTX, char="**")


# --- pseudonym ----------------------------------------------------------------------------------
def test_when_pseudonymizing_then_same_value_gives_same_pseudonym_and_nulls_stay():
    out = apply("pseudonym", pd.Series(["张三", "李四", None, "张三"]), CTX)
    assert out.iloc[0] == out.iloc[3] != out.iloc[1]
    assert pd.isna(out.iloc[2])
    assert out.iloc[0].startswith("P") and len(out.iloc[0]) == 17
    assert out.equals(apply("pseudonym", pd.Series(["张三", "李四", None, "张三"]), CTX))


def test_when_prefix_and_length_are_given_then_pseudonym_follows_them():
    out = apply("pseudonym", pd.Series(["x"]), CTX, prefix="C-", length=10)
    assert out.iloc[0].startswith("C-") and len(out.iloc[0]) == 12
    int(out.iloc[0][2:], 16)


def test_when_integers_are_upcast_by_nulls_then_pseudonyms_still_match():
    ints = apply("pseudonym", pd.Series([5, 6]), CTX)
    floats = apply("pseudonym", pd.Series([5.0, np.nan, 6.0]), CTX)
    assert floats.iloc[[0, 2]].tolist() == ints.tolist()


@pytest.mark.parametrize(
    "other", [("tenant-b", "claims"), ("tenant-a", "research")], ids=["tenant", "scenario"]
)
def test_when_tenant_or_scenario_differs_then_pseudonyms_are_disjoint(other):
    values = pd.Series([f"33010619900101{i:04d}" for i in range(500)])
    mine = set(apply("pseudonym", values, CTX))
    theirs = set(apply("pseudonym", values, ctx_for(*other)))
    assert len(mine) == len(theirs) == 500
    assert mine.isdisjoint(theirs)


# --- generalize ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("浙江省杭州市西湖区文三路90号", "浙江省杭州市西湖区"),
        ("杭州市上城区解放路8号", "杭州市上城区"),
        ("北京市朝阳区建国路1号院", "北京市朝阳区"),
        ("上海市浦东新区世纪大道100号", "上海市浦东新区"),
        ("浙江省杭州市建德市新安江街道", "浙江省杭州市建德市"),
        ("山东省济南市市中区经四路5号", "山东省济南市市中区"),
        ("内蒙古自治区锡林郭勒盟锡林浩特市额尔敦路", "内蒙古自治区锡林郭勒盟锡林浩特市"),
        ("四川省凉山彝族自治州西昌市航天大道", "四川省凉山彝族自治州西昌市"),
        ("云南省玉溪市峨山彝族自治县双江街道", "云南省玉溪市峨山彝族自治县"),
        ("文三路90号", GENERALIZED),
        ("浙江省杭州市", GENERALIZED),
        ("杭州市", GENERALIZED),
        ("12 Main Street", GENERALIZED),
    ],
)
def test_when_generalizing_address_then_only_district_remains(address, expected):
    out = apply("generalize", pd.Series([address]), CTX, kind="district")
    assert out.iloc[0] == expected


def test_when_generalizing_addresses_then_nulls_stay_and_originals_never_leak():
    addresses = pd.Series(["浙江省杭州市西湖区文三路90号", None, "某地某路1号", ""])
    out = apply("generalize", addresses, CTX, kind="district")
    assert pd.isna(out.iloc[1])
    assert out.iloc[2] == out.iloc[3] == GENERALIZED
    assert not (out.dropna() == addresses.dropna()).any()


def test_when_generalizing_ages_then_bands_of_width_are_returned():
    out = apply("generalize", pd.Series([34, 30, 39.9, None, 7]), CTX, kind="age_band")
    assert out.tolist()[:3] == ["30-39"] * 3
    assert pd.isna(out.iloc[3]) and out.iloc[4] == "0-9"
    wide = apply("generalize", pd.Series([34]), CTX, kind="age_band", width=5)
    assert wide.tolist() == ["30-34"]


def test_when_generalizing_dates_to_month_then_year_month_strings_are_returned():
    strings = pd.Series(["2024-03-05", None, "2023-12-31T23:59:00"])
    assert apply("generalize", strings, CTX, kind="month").tolist()[::2] == ["2024-03", "2023-12"]
    stamps = pd.Series(pd.to_datetime(["2024-03-05 10:00", None]))
    out = apply("generalize", stamps, CTX, kind="month")
    assert out.iloc[0] == "2024-03" and pd.isna(out.iloc[1])
    dates = pd.Series([date(2020, 2, 29), None])
    assert apply("generalize", dates, CTX, kind="month").iloc[0] == "2020-02"


def test_when_generalizing_by_rounding_then_numbers_snap_to_base():
    out = apply("generalize", pd.Series([123, 125, 4]), CTX, kind="round", base=10)
    assert out.tolist() == [120, 130, 0]


def test_when_generalize_kind_is_unknown_then_it_fails():
    with pytest.raises(ValueError):
        apply("generalize", pd.Series([1]), CTX, kind="zip")


# --- round and noise ----------------------------------------------------------------------------
def test_when_rounding_then_values_go_to_nearest_base_and_nulls_stay():
    out = apply("round", pd.Series([12.0, 17.5, None, -24.0]), CTX)
    assert out.tolist()[:2] == [10.0, 20.0] and out.iloc[3] == -20.0
    assert pd.isna(out.iloc[2])
    ints = apply("round", pd.Series([8712, 8788]), CTX, base=100)
    assert ints.tolist() == [8700, 8800] and ints.dtype == np.int64


def test_when_adding_noise_then_it_is_deterministic_per_key_and_differs_across_keys():
    salaries = pd.Series(np.arange(1000, dtype=float) * 100, name="salary")
    first = apply("noise", salaries, CTX, scale=50.0)
    assert first.equals(apply("noise", salaries, CTX, scale=50.0))
    other = apply("noise", salaries, ctx_for("tenant-b"), scale=50.0)
    assert not np.allclose(first, other)
    assert not np.allclose(first, salaries)
    assert abs((first - salaries).mean()) < 10  # Laplace(0, 50) noise is centred


def test_when_noise_rounds_and_values_are_null_then_nulls_stay_and_decimals_are_cut():
    out = apply("noise", pd.Series([10.0, None, 20.0]), CTX, scale=0.5, round_to=1)
    assert pd.isna(out.iloc[1])
    assert out.dropna().tolist() == out.dropna().round(1).tolist()


# --- surrogate ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SURROGATE_KINDS)
def test_when_surrogating_then_same_input_gives_same_fake_and_never_the_input(kind):
    values = pd.Series([f"原值{i % 50}" for i in range(200)] + [None])
    out = apply("surrogate", values, CTX, kind=kind)
    assert pd.isna(out.iloc[-1])
    assert out.equals(apply("surrogate", values, CTX, kind=kind))
    pairs = pd.DataFrame({"value": values, "fake": out}).dropna()
    assert (pairs.groupby("value")["fake"].nunique() == 1).all()
    assert (pairs["fake"] != pairs["value"]).all()
    assert pairs["fake"].nunique() >= 25  # 50 distinct inputs, mostly distinct fakes


@pytest.mark.parametrize("kind", ["name", "phone_number", "email"])
def test_when_surrogating_distinct_inputs_then_fakes_are_mostly_distinct(kind):
    values = pd.Series([f"张{i}" for i in range(200)])
    assert apply("surrogate", values, CTX, kind=kind).nunique() >= 180


def test_when_surrogate_key_differs_then_fakes_differ():
    values = pd.Series(["张三", "李四", "王五", "赵六", "钱七"])
    mine = apply("surrogate", values, CTX, kind="phone_number")
    theirs = apply("surrogate", values, ctx_for("tenant-b"), kind="phone_number")
    assert (mine != theirs).all()


def test_when_faker_happens_to_return_the_input_then_another_fake_is_chosen(monkeypatch):
    fakes = iter(["张三", "李四"])
    monkeypatch.setattr(operators, "_faker", lambda locale: _StubFaker(fakes))
    assert apply("surrogate", pd.Series(["张三"]), CTX, kind="name").tolist() == ["李四"]


class _StubFaker:
    def __init__(self, fakes):
        self.fakes = fakes

    def seed_instance(self, seed):
        pass

    def name(self):
        return next(self.fakes)


def test_when_surrogate_kind_is_unknown_then_it_fails():
    with pytest.raises(ValueError):
        apply("surrogate", pd.Series(["x"]), CTX, kind="ssn")


# --- date_shift ---------------------------------------------------------------------------------
def test_when_shifting_datetimes_then_intervals_are_kept_and_dtype_stays():
    stamps = pd.Series(
        pd.to_datetime(["2024-01-01", "2024-01-15 08:30", None, "2024-03-01"], format="ISO8601")
    )
    out = apply("date_shift", stamps, CTX)
    assert pd.api.types.is_datetime64_any_dtype(out)
    assert pd.isna(out.iloc[2])
    assert out.diff().iloc[[1, 3]].tolist() == stamps.diff().iloc[[1, 3]].tolist()
    shift = (out - stamps).dropna().unique()
    assert len(shift) == 1 and 0 < abs(shift[0].days) <= 30


def test_when_shifting_date_strings_then_iso_strings_come_back_with_same_gaps():
    strings = pd.Series(["2024-02-27", "2024-03-02", None, "not a date"])
    out = apply("date_shift", strings, CTX, max_days=7)
    assert pd.isna(out.iloc[2]) and pd.isna(out.iloc[3])
    shifted = pd.to_datetime(out.iloc[:2], format="%Y-%m-%d")
    assert (shifted.iloc[1] - shifted.iloc[0]).days == 4
    assert 0 < abs((shifted.iloc[0] - pd.Timestamp("2024-02-27")).days) <= 7


def test_when_shifting_date_objects_then_date_objects_come_back():
    out = apply("date_shift", pd.Series([date(2024, 1, 1), date(2024, 1, 11)]), CTX)
    assert all(isinstance(d, date) for d in out)
    assert (out.iloc[1] - out.iloc[0]).days == 10


def test_when_keys_differ_then_shift_is_per_key_and_within_range():
    shifts = {operators._shift_days(ctx_for(f"t{i}").key, 30) for i in range(200)}
    assert shifts <= set(range(-30, 0)) | set(range(1, 31))
    assert len(shifts) > 20
    assert operators._shift_days(CTX.key, 30) == operators._shift_days(CTX.key, 30)


# --- vectorization ------------------------------------------------------------------------------
def _counting(monkeypatch, name: str) -> list:
    calls = []
    real = getattr(operators, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(operators, name, counted)
    return calls


BIG = pd.Series([f"客户{i % 1000:04d}" for i in range(100_000)])


def test_when_pseudonymizing_100k_rows_then_each_unique_value_is_hashed_once(monkeypatch):
    calls = _counting(monkeypatch, "_pseudonyms_of")
    out = apply("pseudonym", BIG, CTX)
    assert len(calls) == 1 and len(calls[0][1]) == 1000  # one batch of the distinct values
    assert len(out) == 100_000 and out.nunique() == 1000
    assert out.iloc[0] == out.iloc[1000]


def test_when_surrogating_100k_rows_then_each_unique_value_is_faked_once(monkeypatch):
    calls = _counting(monkeypatch, "_surrogate_of")
    out = apply("surrogate", BIG, CTX, kind="name")
    assert len(calls) == 1000
    assert len(out) == 100_000 and out.iloc[5] == out.iloc[99_005]


@pytest.mark.parametrize(
    ("name", "values", "params"),
    [
        ("mask", ["13812345678", None], {}),
        ("pseudonym", ["a", None], {}),
        ("surrogate", ["a", None], {"kind": "company"}),
        ("generalize", [34, None], {"kind": "age_band"}),
        ("generalize", ["2024-01-02", None], {"kind": "month"}),
        ("generalize", ["北京市朝阳区建国路1号院", None], {"kind": "district"}),
        ("round", [12.0, None], {}),
        ("noise", [12.0, None], {}),
        ("date_shift", ["2024-01-02", None], {}),
    ],
)
def test_when_masking_a_column_then_index_name_and_nulls_are_kept(name, values, params):
    column = pd.Series(values, index=[7, 3], name="col")
    out = apply(name, column, CTX, **params)
    assert out.name == "col" and out.index.tolist() == [7, 3]
    assert out.notna().tolist() == [True, False]


@pytest.mark.parametrize("key", [b"k", b"k" * 64, b"k" * 65, bytes(range(200))])
def test_when_the_fast_hmac_computes_then_it_equals_the_standard_library(key):
    import hashlib
    import hmac

    from hub.masking.operators import FastHmac

    mac = FastHmac(key)
    for message in (b"", b"330106199001011234", "杭州".encode()):
        assert mac.digest(message) == hmac.new(key, message, hashlib.sha256).digest()
    assert mac.digest(b"a") == mac.digest(b"a")  # the precomputed states are not consumed


def test_when_emails_are_surrogated_then_fakes_are_consistent_reserved_and_keyed():
    emails = pd.Series(["li.na@163.com", "wang@qq.com", "li.na@163.com", None])
    out = apply("surrogate", emails, CTX, kind="email")
    assert out[0] == out[2] and out[0] != out[1] and pd.isna(out[3])
    assert out.dropna().str.fullmatch(r"[a-z]+\d{1,4}@example\.(com|net|org)").all()
    other = apply("surrogate", emails, MaskContext(b"another tenant's key"), kind="email")
    assert other[0] != out[0]
