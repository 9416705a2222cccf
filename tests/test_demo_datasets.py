"""Synthetic demo datasets: shape, determinism, valid identifiers, joins and Parquet export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from hub.demo.datasets import DATASETS, generate, get_spec, write_all
from hub.validators import check_mobile, check_resident_id, check_uscc

ROWS = 2_000
NAMES = [spec.name for spec in DATASETS]
DTYPES = {"string": "str", "int": "int64", "float": "float64"}


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {spec.name: generate(spec, ROWS, seed=0) for spec in DATASETS}


def pii_values(frames: dict[str, pd.DataFrame], kind: str) -> list[str]:
    """All non-missing values of every column marked with PII kind ``kind``."""
    values: list[str] = []
    for spec in DATASETS:
        for col in spec.columns:
            if col.pii == kind:
                values += frames[spec.name][col.name].dropna().tolist()
    return values


def test_when_listed_then_the_five_datasets_have_the_agreed_names():
    assert NAMES == [
        "enterprise_registry",
        "tax_records",
        "social_insurance",
        "medical_visits",
        "transit_trips",
    ]
    assert all(1 <= spec.level <= 4 for spec in DATASETS)


def test_when_a_schema_is_serialized_then_it_is_json_with_every_column_in_order():
    for spec in DATASETS:
        schema = json.loads(json.dumps(spec.schema(), ensure_ascii=False))
        assert [c["name"] for c in schema] == [c.name for c in spec.columns]
        assert set(schema[0]) == {"name", "title", "type", "pii", "quasi", "mask"}


@pytest.mark.parametrize("name", NAMES)
def test_when_generated_then_the_frame_has_the_spec_columns_in_order_with_their_dtypes(
    frames, name
):
    spec, frame = get_spec(name), frames[name]
    assert list(frame.columns) == [c.name for c in spec.columns]
    assert len(frame) == ROWS
    for col in spec.columns:
        dtype = str(frame[col.name].dtype)
        assert dtype == DTYPES.get(col.type, "datetime64[ns]"), (col.name, dtype)
        if col.type == "date":
            assert (frame[col.name] == frame[col.name].dt.normalize()).all()


@pytest.mark.parametrize("name", NAMES)
def test_when_the_seed_is_the_same_then_the_frame_is_the_same_and_another_seed_differs(
    frames, name
):
    pd.testing.assert_frame_equal(generate(name, ROWS, seed=0), frames[name])
    assert not generate(name, ROWS, seed=1).equals(frames[name])


def test_when_no_rows_are_asked_then_the_frame_is_empty_but_typed():
    frame = generate("medical_visits", 0)
    assert frame.empty and list(frame.columns) == [
        c.name for c in get_spec("medical_visits").columns
    ]
    assert str(frame["visit_time"].dtype) == "datetime64[ns]"


def test_when_the_name_is_unknown_then_generation_fails():
    with pytest.raises(KeyError):
        generate("no_such_dataset", 10)


def test_when_generated_then_every_resident_id_passes_its_checksum(frames):
    ids = pii_values(frames, "resident_id")
    assert len(ids) > 3 * ROWS  # three full columns plus the registered transit cards
    for value in ids:
        assert check_resident_id(value) == value


def test_when_generated_then_every_credit_code_passes_its_checksum(frames):
    codes = pii_values(frames, "uscc")
    assert len(codes) == 3 * ROWS
    for value in codes:
        assert check_uscc(value) == value
    assert frames["enterprise_registry"]["uscc"].is_unique


def test_when_generated_then_every_mobile_is_a_mainland_number(frames):
    for value in pii_values(frames, "mobile"):
        assert check_mobile(value) == value


def test_when_a_resident_id_is_shown_with_birth_date_gender_and_age_then_they_agree(frames):
    si = frames["social_insurance"]
    assert (pd.to_datetime(si["resident_id"].str[6:14]) == si["birth_date"]).all()
    odd = si["resident_id"].str[16].astype(int) % 2 == 1
    assert (odd == (si["gender"] == "男")).all()

    mv = frames["medical_visits"]
    born, seen = pd.to_datetime(mv["patient_id"].str[6:14]), mv["visit_time"]
    before_birthday = seen.dt.month * 100 + seen.dt.day < born.dt.month * 100 + born.dt.day
    assert (mv["age"] == seen.dt.year - born.dt.year - before_birthday).all()


def test_when_generated_then_tax_and_insurance_credit_codes_join_the_registry(frames):
    registry = set(frames["enterprise_registry"]["uscc"])
    assert set(frames["tax_records"]["uscc"]) <= registry
    assert set(frames["social_insurance"]["employer_uscc"]) <= registry


def test_when_generated_then_enterprises_file_taxes_only_after_they_were_established(frames):
    tax = frames["tax_records"].merge(frames["enterprise_registry"], on="uscc")
    period_end = pd.to_datetime(
        {"year": tax["tax_year"], "month": tax["tax_month"], "day": 1}
    ) + pd.offsets.MonthEnd(0)
    assert (tax["established_date"] <= period_end).all()
    assert set(tax["credit_grade"]) <= set("ABMCD")


def test_when_medical_notes_are_written_then_a_meaningful_share_embeds_the_patients_pii(frames):
    mv = frames["medical_visits"]
    notes = mv["notes"].str.replace(r"[ -]", "", regex=True)
    has_name = pd.Series([n in t for n, t in zip(mv["patient_name"], notes, strict=True)])
    has_mobile = pd.Series([m in t for m, t in zip(mv["mobile"], notes, strict=True)])
    has_id = pd.Series([i in t for i, t in zip(mv["patient_id"], notes, strict=True)])
    share = (has_name | has_mobile | has_id).mean()
    assert 0.3 < share < 0.7
    assert min(has_name.mean(), has_mobile.mean(), has_id.mean()) > 0.05
    assert mv["notes"].str.contains(r"\d{3}-\d{4}-\d{4}").any()  # phones are not always plain


def test_when_bus_plates_are_drawn_then_they_are_zhejiang_a_plates_without_i_or_o(frames):
    trips = frames["transit_trips"]
    plates = trips["bus_plate"].dropna()
    assert len(plates) > 0
    assert plates.str.fullmatch(r"浙A[0-9A-HJ-NP-Z]{5}").all()
    assert not plates.str.contains("[IO]").any()
    assert (trips["bus_plate"].notna() == (trips["mode"] == "公交")).all()


def test_when_a_card_is_anonymous_then_its_trips_have_no_holder_id(frames):
    trips = frames["transit_trips"]
    anonymous = trips["holder_id"].isna()
    assert 0.3 < anonymous.mean() < 0.9
    holders = trips.dropna(subset=["holder_id"]).groupby("card_no")["holder_id"].nunique()
    assert (holders == 1).all()
    assert not set(trips.loc[anonymous, "card_no"]) & set(holders.index)


def test_when_written_then_each_dataset_is_readable_parquet_with_the_returned_row_count(
    tmp_path: Path,
):
    written = write_all(tmp_path, rows=500, seed=3)
    assert [w["name"] for w in written] == NAMES
    for entry in written:
        assert entry["path"] == f"raw/{entry['name']}.parquet"
        assert set(entry) == {"name", "title", "department", "level", "schema", "path", "rows"}
        assert re.search(r"[\u4e00-\u9fff]", entry["title"] + entry["department"])
        frame = pd.read_parquet(tmp_path / entry["path"])
        assert len(frame) == entry["rows"] == 500
        assert list(frame.columns) == [c["name"] for c in entry["schema"]]
        pd.testing.assert_frame_equal(frame, generate(entry["name"], 500, seed=3))
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == sorted(
        f"{n}.parquet" for n in NAMES
    )
