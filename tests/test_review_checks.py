"""The automated disclosure checks on seeded leaks, and on clean results that must pass."""

from __future__ import annotations

import pandas as pd
import pytest

from hub.demo.datasets import generate, get_spec
from hub.review.checks import (
    CHECKS,
    FAIL,
    PASS,
    WARN,
    Context,
    Limits,
    RawSource,
    register,
    run_all,
    worst,
)
from hub.review.checks.pii import scan_column

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """A raw medical_visits table in a file, as the domain store holds it."""
    frame = generate("medical_visits", 2000, seed=3)
    path = tmp_path_factory.mktemp("raw") / "medical_visits.parquet"
    frame.to_parquet(path)
    spec = get_spec("medical_visits")
    source = RawSource(
        "medical_visits",
        str(path),
        tuple(c.name for c in spec.columns if c.pii not in (None, "free_text", "name")),
        tuple(c.name for c in spec.columns if c.quasi),
    )
    return frame, source


def finding(frame, name, ctx=None):
    (found,) = run_all(frame, ctx or Context(), [name])
    return found


def clean_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district": ["上城区", "拱墅区", "西湖区", "滨江区"],
            "age_band": ["20-29", "30-39", "40-49", "50-59"],
            "n": [120, 85, 64, 33],
            "mean_cost": [310.5, 280.1, 402.9, 515.0],
        }
    )


def test_when_a_result_is_an_aggregate_then_every_check_passes():
    findings = run_all(clean_table(), Context(size_bytes=2_000))
    assert {f.name for f in findings} == set(CHECKS)
    assert worst(findings) == PASS, [f.as_dict() for f in findings if f.verdict != PASS]


@pytest.mark.parametrize(
    "form",
    [
        lambda v: v,
        lambda v: f"{v[:6]} {v[6:14]} {v[14:]}",
        lambda v: f"{v[:6]}-{v[6:14]}-{v[14:]}",
        lambda v: v.translate(FULL_WIDTH),
    ],
    ids=["plain", "spaces", "dashes", "full-width"],
)
def test_when_raw_id_numbers_are_in_a_result_then_the_pii_scan_fails(raw, form):
    ids = raw[0]["patient_id"].head(50).map(form)
    result = clean_table().iloc[[0] * 50].assign(who=ids.to_numpy())
    found = finding(result, "pii_scan")
    assert found.verdict == FAIL
    assert found.details["columns"]["who"]["CN_RESIDENT_ID"] == 50


@pytest.mark.parametrize(
    "form",
    [
        lambda m: m,
        lambda m: f"{m[:3]}-{m[3:7]}-{m[7:]}",
        lambda m: f"+86 {m[:3]} {m[3:7]} {m[7:]}",
        lambda m: m.translate(FULL_WIDTH),
    ],
    ids=["plain", "dashes", "+86 spaces", "full-width"],
)
def test_when_mobiles_are_in_a_result_then_the_pii_scan_fails(raw, form):
    result = pd.DataFrame({"contact": raw[0]["mobile"].head(30).map(form), "n": 30})
    found = finding(result, "pii_scan")
    assert found.verdict == FAIL and found.details["columns"]["contact"]["CN_MOBILE"] == 30


def test_when_mobiles_are_numbers_or_inside_text_then_the_pii_scan_still_finds_them(raw):
    mobiles = raw[0]["mobile"].head(20)
    as_numbers = pd.DataFrame({"phone": mobiles.astype("int64")})
    assert finding(as_numbers, "pii_scan").verdict == FAIL
    notes = pd.DataFrame({"note": "请回电 " + mobiles + " 谢谢"})
    assert scan_column(notes["note"]).get("CN_MOBILE") == 20


def test_when_a_result_is_a_row_level_extract_of_raw_records_then_overlap_fails(raw):
    frame, source = raw
    extract = frame[["visit_id", "patient_id", "gender", "age", "cost"]].head(40)
    found = finding(extract, "raw_overlap", Context(raw=(source,)))
    assert found.verdict == FAIL
    hits = found.details["sources"]["medical_visits"]
    assert hits["identifier_cells"]["patient_id"] == 40
    # without the identifiers, the rare (gender, age) combinations still point at people
    quasi_only = frame[["gender", "age", "cost"]]
    found = finding(quasi_only, "raw_overlap", Context(raw=(source,)))
    assert found.verdict == FAIL and found.details["sources"]["medical_visits"]["rare_quasi_rows"]
    assert finding(clean_table(), "raw_overlap", Context(raw=(source,))).verdict == PASS


def test_when_a_table_has_a_count_of_3_then_sdc_fails_and_zeros_are_flagged():
    small = clean_table().assign(n=[120, 3, 64, 33])
    found = finding(small, "sdc")
    assert found.verdict == FAIL and found.details["n"]["below_min"] == 1
    zero = clean_table().assign(n=[120, 0, 64, 33])
    assert finding(zero, "sdc").verdict == WARN


def test_when_a_cell_is_dominated_or_fails_p_percent_then_sdc_fails():
    table = clean_table()
    # per cell: largest, second largest contribution, total
    ok = [[10, 9, 100]] * 4
    assert finding(table, "sdc", Context(table={"contributions": ok})).verdict == PASS
    dominated = [[50, 41, 100]] + ok[1:]  # two contributors make 91 % of the cell
    found = finding(table, "sdc", Context(table={"contributions": dominated}))
    assert found.verdict == FAIL and found.details["magnitude"] == {"dominance": 1, "p_percent": 0}
    estimable = [[80, 15, 100]] + ok[1:]  # the rest (5) is under 10 % of the largest (8)
    found = finding(table, "sdc", Context(table={"contributions": estimable}))
    assert found.verdict == FAIL and found.details["magnitude"]["p_percent"] == 1


def test_when_two_releases_differ_by_one_person_then_differencing_fails():
    before = clean_table()
    after = before.assign(n=[121, 85, 64, 33])  # one more person in 上城区
    found = finding(after, "differencing", Context(releases=(before,)))
    assert found.verdict == FAIL and found.details["hits"]
    far = before.assign(n=[150, 85, 64, 33])
    assert finding(far, "differencing", Context(releases=(before,))).verdict == PASS
    assert finding(after, "differencing", Context()).verdict == PASS  # nothing released yet


def test_when_a_result_is_too_large_then_the_limits_check_fails():
    ctx = Context(limits=Limits(max_rows=3), size_bytes=10)
    assert finding(clean_table(), "limits", ctx).verdict == FAIL
    assert (
        finding(clean_table(), "limits", Context(limits=Limits(max_bytes=5), size_bytes=9)).verdict
        == FAIL
    )


def test_when_a_check_crashes_then_it_fails_instead_of_passing(monkeypatch):
    @register("exploding")
    def exploding(frame, ctx):
        raise RuntimeError("boom")

    try:
        found = finding(clean_table(), "exploding")
        assert found.verdict == FAIL and "RuntimeError" in str(found.reason)
    finally:
        CHECKS.pop("exploding")
