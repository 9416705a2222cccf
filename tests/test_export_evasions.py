"""Identifiers reshaped to slip past the export checks (issue 13, item 8, as a class): spread
down the rows of a column, split over columns that are not neighbours (in tables of many
candidate columns), or encoded in base32, hex, base85, Ascii85, unpadded URL-safe base64, ROT13
or with shifted digits. Each must fail ``raw_overlap``; ordinary tables of counts, amounts and
dates must still pass."""

from __future__ import annotations

import base64
import codecs

import numpy as np
import pandas as pd
import pytest

from hub.review.checks import FAIL, PASS, Context, RawSource, run_all
from tests.raw_tables import medical_visits

ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    frame, source = medical_visits(tmp_path_factory.mktemp("raw"))
    ids = frame["patient_id"].dropna().unique()[:3].tolist()
    mobiles = frame["mobile"].dropna().unique()[:3].tolist()
    return frame, source, ids, mobiles


def overlap(frame: pd.DataFrame, source: RawSource):
    (found,) = run_all(frame, Context(raw=(source,)), ["raw_overlap"])
    return found


def cells(found) -> dict:
    return found.details["sources"].get("medical_visits", {}).get("identifier_cells", {})


def shifted(value: str, k: int) -> str:
    return "".join(str((int(c) + k) % 10) if c.isdigit() else c for c in value)


def one_column(pieces: list[str], name: str = "v") -> pd.DataFrame:
    return pd.DataFrame({"k": [f"r{i}" for i in range(len(pieces))], name: pieces})


DOWN = {
    "digit_per_row": lambda v: list(v),
    "digit_per_row_reversed": lambda v: list(v)[::-1],
    "three_per_row": lambda v: [v[i : i + 3] for i in range(0, len(v), 3)],
    "uneven_pieces_bottom_up": lambda v: [v[:5], v[5:7], v[7:13], v[13:]][::-1],
    "each_piece_reversed": lambda v: [v[i : i + 6][::-1] for i in range(0, len(v), 6)][::-1],
    "digits_shifted_per_row": lambda v: list(shifted(v, 3)),
    "shifted_pieces_bottom_up": lambda v: [shifted(v, 6)[i : i + 4] for i in range(0, 18, 4)][::-1],
}


@pytest.mark.parametrize("shape", sorted(DOWN))
def test_when_an_id_is_written_down_the_rows_of_a_column_then_overlap_fails(raw, shape):
    _, source, ids, mobiles = raw
    for value in (ids[0], mobiles[0]):
        pieces = ["x", *DOWN[shape](value), "y"]  # among other cells
        found = overlap(one_column(pieces), source)
        assert found.verdict == FAIL, (shape, value, found.as_dict())
        assert {"v↓", "v↑"} & set(cells(found)), cells(found)


def test_when_an_id_is_written_down_integer_cells_then_overlap_fails(raw):
    _, source, ids, _ = raw
    value = next(v for v in ids if v[-1].isdigit())
    digits = [int(c) for c in value]
    frame = pd.DataFrame({"k": [f"r{i}" for i in range(18)], "n": digits})
    assert overlap(frame.iloc[::-1].reset_index(drop=True), source).verdict == FAIL
    mobile_frame = pd.DataFrame({"k": list("abcdefghijk"), "n": [int(c) for c in raw[3][1]]})
    assert overlap(mobile_frame, source).verdict == FAIL


def encoders(value: str) -> dict[str, str]:
    data = value.encode()
    return {
        "base32": base64.b32encode(data).decode(),
        "base32_lower_unpadded": base64.b32encode(data).decode().rstrip("=").lower(),
        "hex": data.hex(),
        "hex_upper": data.hex().upper(),
        "base85": base64.b85encode(data).decode(),
        "ascii85": base64.a85encode(data).decode(),
        "ascii85_framed": base64.a85encode(data, adobe=True).decode(),
        "urlsafe_base64_unpadded": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "rot13": codecs.encode(value, "rot13"),
        "digits_shifted": shifted(value, 7),
        "digits_shifted_reversed": shifted(value, 4)[::-1],
        "english_words": " ".join(WORDS[int(c)] if c.isdigit() else c for c in value),
        "pinyin_run_together": "".join(PINYIN[int(c)] if c.isdigit() else c for c in value),
    }


WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PINYIN = ["ling", "yao", "er", "san", "si", "wu", "liu", "qi", "ba", "jiu"]


@pytest.mark.parametrize("encoding", sorted(encoders("110105194912310021")))
def test_when_raw_identifiers_are_encoded_then_overlap_fails(raw, encoding):
    _, source, ids, mobiles = raw
    for value in (ids[2], mobiles[2]):
        encoded = encoders(value)[encoding]
        if encoding == "rot13" and encoded == value:  # ROT13 moves letters; an all-digit ID
            value += "@example.org"  # stays itself. An address does not: see below.
            continue
        frame = pd.DataFrame({"g": ["a", "b", "c"], "code": [encoded, "ok", "fine"]})
        found = overlap(frame, source)
        assert found.verdict == FAIL, (encoding, encoded, found.as_dict())
        assert "code" in cells(found), cells(found)


def test_when_an_id_with_a_check_letter_is_rot13_then_overlap_fails(tmp_path):
    value = "11010519491231002X"
    raw_frame = pd.DataFrame({"patient_id": [value, "330106199003071234"], "n": [1, 2]})
    path = tmp_path / "r.parquet"
    raw_frame.to_parquet(path)
    source = RawSource("r", str(path), ("patient_id",), ())
    frame = pd.DataFrame({"g": ["a", "b"], "code": [codecs.encode(value, "rot13"), "z"]})
    assert value != codecs.encode(value, "rot13")
    assert overlap(frame, source).verdict == FAIL


@pytest.mark.parametrize("where", [(0, 5), (1, 9), (9, 2)])
def test_when_an_id_is_split_over_columns_that_are_not_neighbours_then_overlap_fails(raw, where):
    _, source, ids, _ = raw
    value = ids[0]
    rng = np.random.default_rng(0)
    columns = {f"c{i}": [str(x) for x in rng.integers(100, 999, 3)] for i in range(12)}
    a, b = where
    columns[f"c{a}"][1], columns[f"c{b}"][1] = value[:9], value[9:]
    frame = pd.DataFrame({"g": ["x", "y", "z"], **columns})
    found = overlap(frame, source)
    assert found.verdict == FAIL, found.as_dict()
    assert f"c{a}+c{b}" in cells(found), cells(found)


def test_when_an_id_is_split_in_three_over_scattered_columns_then_overlap_and_pii_fail(raw):
    _, source, ids, _ = raw
    value = ids[1]
    rng = np.random.default_rng(1)
    columns = {f"c{i}": [str(x) for x in rng.integers(10, 99, 3)] for i in range(7)}
    columns["c5"][0], columns["c1"][0], columns["c3"][0] = value[:6], value[6:12], value[12:]
    frame = pd.DataFrame({"g": ["x", "y", "z"], **columns})
    found = run_all(frame, Context(raw=(source,)), ["raw_overlap", "pii_scan"])
    by_name = {f.name: f for f in found}
    assert by_name["raw_overlap"].verdict == FAIL
    assert "c5+c1+c3" in cells(by_name["raw_overlap"])
    assert by_name["pii_scan"].verdict == FAIL
    assert "CN_RESIDENT_ID" in by_name["pii_scan"].details["columns"]["c5+c1+c3"]


@pytest.mark.parametrize(
    "cuts", [(0, 4, 9, 13), (0, 3, 6, 10, 14), (0, 2, 6, 8, 12, 14, 16)], ids=["4", "5", "7"]
)
def test_when_an_id_is_cut_in_four_or_more_pieces_over_far_columns_then_overlap_fails(raw, cuts):
    """Pieces in columns far apart and out of order: the row's pieces are chained back."""
    _, source, ids, _ = raw
    rng = np.random.default_rng(len(cuts))
    pieces = [ids[2][a:b] for a, b in zip(cuts, [*cuts[1:], 18], strict=True)]
    columns = {f"c{i}": [str(x) for x in rng.integers(10, 9999, 3)] for i in range(16)}
    where = rng.permutation(16)[: len(pieces)]  # scattered, in no order
    for column, piece in zip(where, pieces, strict=True):
        columns[f"c{column}"][1] = piece
    frame = pd.DataFrame({"g": ["x", "y", "z"], **columns})
    found = overlap(frame, source)
    assert found.verdict == FAIL, found.as_dict()
    assert any({f"c{k}" for k in where} <= set(label.split("+")) for label in cells(found))


def test_when_code_columns_chain_into_well_formed_ids_then_only_real_ones_fail(raw):
    """Region, year, month, day and sequence codes spell checksum-valid IDs by chance; none is a
    raw resident's, so a table of them passes."""
    frame, source, _, _ = raw
    rng = np.random.default_rng(3)
    n = 2000
    codes = pd.DataFrame({
        "region": rng.choice(["330102", "330105", "330106", "330108"], n),
        "year": [str(y) for y in rng.integers(1950, 2020, n)],
        "month": [f"{m:02d}" for m in rng.integers(1, 13, n)],
        "day": [f"{d:02d}" for d in rng.integers(1, 29, n)],
        "seq": [f"{s:04d}" for s in rng.integers(0, 9999, n)],
        "visits": rng.integers(10, 500, n),
    })  # fmt: skip
    assert overlap(codes, source).verdict == PASS


def legitimate(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(5)
    days = pd.date_range("2024-01-01", periods=400, freq="D")
    return {
        "group_counts": frame.groupby("department").size().reset_index(name="n"),
        "auc": pd.DataFrame({"metric": ["auc", "rows"], "value": [0.7312, 2000]}),
        "amounts_and_dates": pd.DataFrame({
            "day": days.strftime("%Y%m%d"),
            "amount": rng.integers(1, 99_999, len(days)),
            "visits": rng.integers(10, 500, len(days)),
            "month": days.strftime("%Y-%m"),
            "year": days.year,
            "cost": np.round(rng.lognormal(5, 1, len(days)), 2),
        }),
        "many_numeric_columns": pd.DataFrame(
            {f"m{i}": rng.integers(0, 10_000, 300) for i in range(14)}
            | {"label": [f"L{i}" for i in range(300)]}
        ),
        "small_digits": pd.DataFrame({"k": [f"r{i}" for i in range(5000)],
                                      "d": rng.integers(0, 10, 5000)}),
    }  # fmt: skip


@pytest.mark.parametrize(
    "name", ["group_counts", "auc", "amounts_and_dates", "many_numeric_columns", "small_digits"]
)
def test_when_a_result_is_an_ordinary_table_then_overlap_and_pii_still_pass(raw, name):
    frame, source, _, _ = raw
    table = legitimate(frame)[name]
    found = run_all(table, Context(raw=(source,)), ["raw_overlap", "pii_scan"])
    assert found[0].verdict == PASS, found[0].as_dict()
    assert found[1].verdict != FAIL, found[1].as_dict()  # a department's name may warn
