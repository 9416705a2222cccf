"""The automated disclosure checks on seeded leaks, and on clean results that must pass."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest

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
from tests.raw_tables import medical_visits

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """A raw medical_visits table in a file, as the domain store holds it."""
    return medical_visits(tmp_path_factory.mktemp("raw"))


def finding(frame, name, ctx=None):
    (found,) = run_all(frame, ctx or Context(), [name])
    return found


def clean_table() -> pd.DataFrame:
    """A frequency table with derived labels (no magnitudes to verify)."""
    return pd.DataFrame(
        {
            "district": ["上城区", "拱墅区", "西湖区", "滨江区"],
            "age_band": ["20-29", "30-39", "40-49", "50-59"],
            "n": [120, 85, 64, 33],
        }
    )


def by_department(frame: pd.DataFrame) -> pd.DataFrame:
    """The honest aggregate of the raw table: visits and mean cost per department."""
    return (
        frame.groupby("department")
        .agg(n=("cost", "size"), mean_cost=("cost", "mean"))
        .reset_index()
        .round(2)
    )


def test_when_a_result_is_an_aggregate_then_every_check_passes(raw):
    frame, source = raw
    for table, ctx in (
        (clean_table(), Context(size_bytes=2_000)),
        (by_department(frame), Context(raw=(source,), size_bytes=2_000)),
    ):
        findings = [f for f in run_all(table, ctx) if f.name != "pii_scan"]
        assert {f.name for f in findings} == set(CHECKS) - {"pii_scan"}
        assert worst(findings) == PASS, [f.as_dict() for f in findings if f.verdict != PASS]
    assert finding(clean_table(), "pii_scan").verdict == PASS


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
    assert found.verdict == FAIL and found.details["sources"]["medical_visits"]["reproduced_rows"]
    assert finding(clean_table(), "raw_overlap", Context(raw=(source,))).verdict == PASS


def test_when_a_table_has_a_count_of_3_then_sdc_fails_and_zeros_are_flagged():
    """The platform finds counts by content: named, renamed, or stored as floats."""
    small = clean_table().assign(n=[120, 3, 64, 33])
    found = finding(small, "sdc")
    assert found.verdict == FAIL and found.details["n"]["below_min"] == 1
    zero = clean_table().assign(n=[120, 0, 64, 33])
    assert finding(zero, "sdc").verdict == WARN


def test_when_a_cell_is_dominated_or_fails_p_percent_then_sdc_fails():
    table = clean_table()  # the client's contributions can only add failures
    # per cell: largest, second largest contribution, total
    ok = [[10, 9, 100]] * 4
    assert finding(table, "sdc", Context(table={"contributions": ok})).verdict == PASS
    dominated = [[50, 41, 100]] + ok[1:]  # two contributors make 91 % of the cell
    found = finding(table, "sdc", Context(table={"contributions": dominated}))
    magnitude = found.details["magnitude"]
    assert found.verdict == FAIL and (magnitude["dominance"], magnitude["p_percent"]) == (1, 0)
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


# -- evasions of the PII scan and the overlap check (issue 13, item 8) ----------------------------

CN = str.maketrans("0123456789", "〇一二三四五六七八九")
CN_FINANCIAL = str.maketrans("0123456789", "零壹贰叁肆伍陆柒捌玖")
ZW = "\u200b"
SPELLINGS = [
    ("dotted", lambda v: ".".join(v)),
    ("middle-dots", lambda v: "·".join(v[i : i + 3] for i in range(0, len(v), 3))),
    ("slashes", lambda v: f"{v[:6]}/{v[6:14]}/{v[14:]}"),
    ("reversed", lambda v: v[::-1]),
    ("base64", lambda v: base64.b64encode(v.encode()).decode()),
    (
        "base64-urlsafe-no-padding",
        lambda v: base64.urlsafe_b64encode(v.encode()).decode().strip("="),
    ),
    ("hex", lambda v: v.encode().hex()),
    ("chinese-numerals", lambda v: v.translate(CN)),
    ("financial-numerals", lambda v: v.translate(CN_FINANCIAL)),
    ("zero-width", lambda v: ZW.join(v)),
    ("soft-hyphens", lambda v: "\u00ad".join(v)),
    ("full-width-dotted", lambda v: "．".join(v.translate(FULL_WIDTH))),
    ("lower-x-spaced", lambda v: " ".join(v).lower()),
]


@pytest.mark.parametrize("spelling", [f for _, f in SPELLINGS], ids=[i for i, _ in SPELLINGS])
def test_when_raw_ids_are_spelled_to_evade_then_the_pii_scan_and_overlap_fail(raw, spelling):
    frame, source = raw
    ids = frame["patient_id"].head(30).map(spelling)
    result = pd.DataFrame({"who": ids.to_numpy(), "n": 30})
    found = finding(result, "pii_scan")
    assert found.verdict == FAIL and found.details["columns"]["who"]["CN_RESIDENT_ID"] == 30
    overlap = finding(result, "raw_overlap", Context(raw=(source,)))
    assert overlap.verdict == FAIL
    assert overlap.details["sources"]["medical_visits"]["identifier_cells"]["who"] == 30


@pytest.mark.parametrize(
    "spelling",
    [lambda m: m.translate(CN), lambda m: "幺" + m[1:].translate(CN).replace("二", "两"),
     lambda m: ZW.join(m), lambda m: f"{m[:3]}.{m[3:7]}.{m[7:]}", lambda m: m[::-1]],
    ids=["chinese-numerals", "yao-liang", "zero-width", "dotted", "reversed"],
)  # fmt: skip
def test_when_mobiles_are_spelled_to_evade_then_the_pii_scan_fails(raw, spelling):
    result = pd.DataFrame({"contact": raw[0]["mobile"].head(20).map(spelling)})
    found = finding(result, "pii_scan")
    assert found.verdict == FAIL and found.details["columns"]["contact"]["CN_MOBILE"] == 20


SPLITS = [
    ("text-halves", lambda v: (v[:9], v[9:]), None),
    ("text-6-12", lambda v: (v[:6], v[6:]), None),
    ("text-swapped", lambda v: (v[9:], v[:9]), None),
    ("integers", lambda v: (int(v[:8]), int(v[8:17])), lambda v: v[17]),
    ("three-columns", lambda v: (v[:6], v[6:12]), lambda v: v[12:]),
]


@pytest.mark.parametrize(
    ("cut", "tail"), [(c, t) for _, c, t in SPLITS], ids=[i for i, _, _ in SPLITS]
)
def test_when_an_id_is_split_over_columns_then_the_pii_scan_and_overlap_fail(raw, cut, tail):
    frame, source = raw
    ids = frame["patient_id"][~frame["patient_id"].str[8].eq("0")].head(25)
    parts = ids.map(cut)
    result = pd.DataFrame({"district": "上城区", "a": parts.str[0], "b": parts.str[1]})
    if tail is not None:
        result["c"] = ids.map(tail).to_numpy()
    found = finding(result, "pii_scan")
    assert found.verdict == FAIL, found.details
    assert any("CN_RESIDENT_ID" in hits for hits in found.details["columns"].values())
    overlap = finding(result, "raw_overlap", Context(raw=(source,)))
    assert overlap.verdict == FAIL
    assert overlap.details["sources"]["medical_visits"]["identifier_cells"]


def test_when_values_only_look_encoded_or_are_numbers_then_the_pii_scan_passes(raw):
    table = pd.DataFrame(
        {
            "code": ["I10", "L20.9", "K29.7", "J06.9"],
            "pseudonym": ["P3f9a0c1d2e4b5a6c", "P0a1b2c3d4e5f6a7b", "Pdeadbeefcafe0011", "P1"],
            "hexish": ["deadbeefcafebabe", "0011223344556677", "a1b2c3d4e5f6a7b8", "ffffffff"],
            "n": [12, 40, 33, 25],
        }
    )
    assert finding(table, "pii_scan").verdict == PASS


# -- row-level extracts (item 3) ---------------------------------------------------------------


EXTRACTS = [
    ("amount-date-department", lambda f: f[["cost", "department"]].assign(
        day=f["visit_time"].dt.strftime("%Y-%m-%d"))),
    ("renamed", lambda f: f[["cost", "department"]].set_axis(["金额", "科室"], axis=1)),
    ("amount-as-text", lambda f: pd.DataFrame({"amt": f["cost"].map("{:.2f}".format),
                                               "dept": f["department"]})),
    ("with-a-count-column", lambda f: f[["cost", "hospital", "department"]].assign(n=12)),
    ("timestamps-and-age", lambda f: f[["visit_time", "age", "gender"]]),
    ("no-numbers-day-hospital-diagnosis", lambda f: pd.DataFrame({
        "日": f["visit_time"].dt.strftime("%Y-%m-%d"), "院": f["hospital"],
        "诊断": f["diagnosis_name"]})),
]  # fmt: skip


@pytest.mark.parametrize("make", [m for _, m in EXTRACTS], ids=[i for i, _ in EXTRACTS])
def test_when_sample_rows_of_harmless_columns_are_exported_then_the_overlap_fails(raw, make):
    frame, source = raw
    extract = make(frame.sample(200, random_state=7)).reset_index(drop=True)
    found = finding(extract, "raw_overlap", Context(raw=(source,)))
    assert found.verdict == FAIL, found.details
    assert found.details["sources"]["medical_visits"]["reproduced_rows"] >= 150


@pytest.mark.parametrize(
    ("table", "expect"),
    [
        (pd.DataFrame({"dept": ["a", "a", "b"], "cost": [1.0, 2.0, 3.0]}), FAIL),
        (pd.DataFrame({"cost": [1.5, 2.5, 3.5]}), FAIL),
        (pd.DataFrame({"dept": ["a", "b", "c"], "n": [10, 20, 30]}), PASS),
        (pd.DataFrame({"total": [42]}), PASS),
    ],
    ids=["repeated-keys", "no-labels", "grouped", "one-summary-row"],
)
def test_when_a_table_is_record_level_then_the_record_check_fails(table, expect):
    assert finding(table, "record_level").verdict == expect


# -- disclosure control the client cannot turn off (item 5) -----------------------------------


def small_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A per-hospital-and-diagnosis table: many of its cells hold fewer than 10 visits."""
    return (
        frame.groupby(["hospital", "diagnosis_name"])
        .agg(n=("cost", "size"), total=("cost", "sum"), top=("cost", "max"))
        .reset_index()
    )


TAMPERED = [
    ("renamed-count", lambda t: t.rename(columns={"n": "visits"}), {}),
    ("float-count", lambda t: t.assign(n=t["n"].astype(float)), {}),
    ("declared-missing-column", lambda t: t, {"counts": "nope"}),
    ("magnitudes-only-sum", lambda t: t.drop(columns=["n", "top"]), {}),
    ("magnitudes-only-max", lambda t: t.drop(columns=["n", "total"]), {}),
    ("invented-counts-and-contributions", lambda t: t.assign(n=500),
     {"counts": "n", "contributions": [[1, 1, 100]]}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tamper", "meta"), [(t, m) for _, t, m in TAMPERED], ids=[i for i, _, _ in TAMPERED]
)
def test_when_the_client_hides_or_invents_table_statistics_then_sdc_still_fails(raw, tamper, meta):
    frame, source = raw
    table = tamper(small_cells(frame))
    found = finding(table, "sdc", Context(raw=(source,), table=meta))
    assert found.verdict == FAIL, found.details
    assert found.details["raw_frequency"]["medical_visits"]["rows"] > 0


def test_when_a_magnitude_is_a_per_group_maximum_then_sdc_fails_as_one_records_value(raw):
    frame, source = raw
    table = frame.groupby("department").agg(biggest=("cost", "max")).reset_index()
    found = finding(table, "sdc", Context(raw=(source,)))
    assert found.verdict == FAIL
    # a maximum is one record's value: flagged as an extreme, or matched to the raw column
    # itself, so every row pins a single raw record
    pinned = found.details.get("raw_frequency", {}).get("medical_visits", {})
    assert found.details.get("extremes") == ["biggest"] or pinned["rows"] == len(table)


def test_when_a_sum_is_dominated_by_one_raw_record_then_sdc_fails_from_raw_contributions(raw):
    frame, source = raw
    table = frame.groupby("department").agg(n=("cost", "size"), spent=("cost", "sum"))
    found = finding(table.reset_index(), "sdc", Context(raw=(source,)))
    assert found.details["magnitude"]["columns"] == {"spent": "medical_visits.cost"}
    dominated = frame.assign(cost=np.where(frame.index == 0, 1e7, frame["cost"]))
    path = source.path.replace(".parquet", "-dominated.parquet")
    dominated.to_parquet(path)
    skewed = RawSource("medical_visits", path, source.identifiers, source.quasi)
    again = dominated.groupby("department").agg(n=("cost", "size"), spent=("cost", "sum"))
    found = finding(again.reset_index(), "sdc", Context(raw=(skewed,)))
    assert found.verdict == FAIL and found.details["magnitude"]["dominance"] >= 1


def test_when_magnitudes_cannot_be_recomputed_from_raw_data_then_sdc_denies_by_default(raw):
    table = pd.DataFrame({"band": ["a", "b", "c"], "n": [40, 50, 60], "avg": [1.5, 2.5, 3.5]})
    found = finding(table, "sdc", Context(raw=(raw[1],)))
    assert found.verdict == FAIL and found.details["unverified"] == ["avg"]


def test_when_a_release_is_renamed_or_old_then_differencing_still_finds_it():
    before = clean_table()
    after = before.assign(n=[121, 85, 64, 33]).rename(columns={"n": "人次", "district": "区"})
    older = tuple(clean_table().assign(n=[500, 500, 500, 500]) for _ in range(30)) + (before,)
    found = finding(after, "differencing", Context(releases=older))
    assert found.verdict == FAIL and found.details["hits"][0]["release"] == 30
    as_floats = before.assign(n=before["n"].astype(float) + [1, 0, 0, 0])
    assert finding(as_floats, "differencing", Context(releases=(before,))).verdict == FAIL


@pytest.mark.parametrize(
    "place",
    [
        lambda ids: pd.DataFrame({"n": [20] * len(ids)}, index=pd.Index(ids, name="k")),
        lambda ids: pd.DataFrame([[20] * len(ids)], columns=ids),
        lambda ids: pd.DataFrame(
            {"g": list("abc"), "a": [int(v[:8]) for v in ids], "b": [int(v[8:]) for v in ids]}
        ),
    ],
    ids=["in-the-index", "as-column-names", "integer-halves-losing-zeros"],
)
def test_when_ids_hide_in_the_index_headers_or_lost_zeros_then_pii_and_overlap_fail(raw, place):
    frame, source = raw
    # the second half starts with 0: as an integer it loses it
    pid = frame["patient_id"]
    ids = pid[pid.str[8].eq("0") & ~pid.str.endswith("X")].head(3).tolist()
    result = place(ids)
    assert finding(result, "pii_scan").verdict == FAIL
    assert finding(result, "raw_overlap", Context(raw=(source,))).verdict == FAIL


def test_when_rows_are_keyed_by_a_pseudonym_then_the_record_check_fails_but_days_pass(raw):
    frame, source = raw
    rows = frame.head(300)
    keyed = pd.DataFrame(
        {"who": [f"P{i:08x}" for i in range(300)], "dept": rows["department"].to_numpy(),
         "x": rows["cost"].round().astype(int).to_numpy()}
    )  # fmt: skip
    found = finding(keyed, "record_level", Context(raw=(source,)))
    assert found.verdict == FAIL and found.details["row_identifiers"] == ["who"]
    days = frame.groupby(frame["visit_time"].dt.strftime("%Y-%m-%d")).size().reset_index(name="n")
    assert len(days) > 100
    assert finding(days, "record_level", Context(raw=(source,))).verdict == PASS
