"""Desensitized samples of the demo datasets: deterministic, capped, masked, k-anonymous, and no
raw identifier in any cell."""

from __future__ import annotations

import pandas as pd
import pytest

from hub.demo.datasets import DATASETS, generate
from hub.masking.operators import MaskContext, derive_key
from hub.masking.sample import SampleLimits, build_sample, sample_rows

MASTER = b"test master key of the platform"
ROWS = 4000
SPECS = {s.name: s for s in DATASETS}


@pytest.fixture(scope="module")
def tables():
    return {name: generate(spec, ROWS, seed=7) for name, spec in SPECS.items()}


DEFAULT = SampleLimits()
NO_K = SampleLimits(k=1)


def sample(tables, name, tenant="tenant-a", scenario="s1", limits=DEFAULT, columns=None):
    spec = SPECS[name]
    schema = spec.schema()
    approved = columns or [c["name"] for c in schema]
    ctx = MaskContext(derive_key(MASTER, tenant, scenario))
    return build_sample(
        tables[name], schema, approved, tenant=tenant, scenario=scenario, dataset=name,
        ctx=ctx, limits=limits,
    )  # fmt: skip


def test_when_a_sample_is_drawn_twice_then_it_is_the_same_rows_and_within_the_cap(tables):
    a, b = sample(tables, "medical_visits"), sample(tables, "medical_visits")
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.rows_drawn == int(ROWS * 0.05)  # 5 % of 4,000 (under 10,000 rows)
    other = sample_rows(ROWS, "tenant-b", "s1", "medical_visits", SampleLimits())
    assert set(other) != set(sample_rows(ROWS, "tenant-a", "s1", "medical_visits", SampleLimits()))
    assert len(sample_rows(10**6, "t", "s", "d", SampleLimits())) == 10_000


@pytest.mark.parametrize("name", sorted(SPECS))
def test_when_a_sample_is_served_then_no_raw_identifier_appears_in_any_cell(tables, name):
    spec = SPECS[name]
    identifying = [c.name for c in spec.columns if c.pii and c.pii != "free_text"]
    raw_values = set()
    for column in identifying:
        raw_values |= {str(v) for v in tables[name][column].dropna().unique() if len(str(v)) >= 4}
    served = sample(tables, name, limits=NO_K).frame
    text = "\0".join(str(v) for v in served.to_numpy().ravel())  # every cell, as served
    leaked = {value for value in raw_values if value in text}
    assert not leaked, sorted(leaked)[:5]


def test_when_tenants_or_scenarios_differ_then_pseudonyms_do_not_join(tables):
    cols = ["patient_id", "cost"]
    a = sample(tables, "medical_visits", "tenant-a", "s1", NO_K, cols).frame
    b = sample(tables, "medical_visits", "tenant-b", "s1", NO_K, cols).frame
    c = sample(tables, "medical_visits", "tenant-a", "s2", NO_K, cols).frame
    assert a["patient_id"].str.startswith("P").all()
    assert not set(a["patient_id"]) & set(b["patient_id"])
    assert not set(a["patient_id"]) & set(c["patient_id"])


def test_when_quasi_identifiers_are_rare_then_their_rows_are_suppressed(tables):
    s = sample(tables, "medical_visits", limits=SampleLimits(k=20))
    sizes = s.frame.groupby(["gender", "age"], dropna=False).size()
    assert (sizes >= 20).all()
    # the rare rows stay, their quasi-identifiers blanked together
    assert s.suppressed > 0 and len(s.frame) == s.rows_drawn
    blanked = s.frame["gender"].isna() & s.frame["age"].isna()
    assert blanked.sum() == s.suppressed


def test_when_fewer_than_k_rows_are_rare_then_they_are_dropped():
    from hub.masking.sample import k_anonymous

    frame = pd.DataFrame({"q": ["a"] * 6 + ["b", "c"], "v": range(8)})
    kept, affected = k_anonymous(frame, ["q"], 5)
    assert affected == 2 and list(kept["q"]) == ["a"] * 6


def test_when_only_some_columns_are_approved_then_only_those_are_served(tables):
    s = sample(tables, "medical_visits", columns=["age", "cost", "mobile"], limits=NO_K)
    assert list(s.frame.columns) == ["age", "cost", "mobile"]
    assert s.frame["mobile"].str.fullmatch(r"1\d\d\*{4}\d{4}").all()
    assert s.frame["age"].str.fullmatch(r"\d+-\d+").all()  # the catalog fixes age to bands
    assert s.masked_cells == 2 * s.rows_drawn  # age and mobile, not cost


def test_when_no_column_has_a_policy_then_the_scrub_still_serves_no_raw_id(tables):
    """Deny by default: with every PII mark taken off, the IDs are still found cell by cell —
    and the same check finds them in the raw rows, so it can fail."""
    schema = [{**c, "pii": None, "mask": None} for c in SPECS["medical_visits"].schema()]
    ctx = MaskContext(derive_key(MASTER, "tenant-a", "s1"))
    served = build_sample(
        tables["medical_visits"], schema, ["patient_id", "mobile"], tenant="tenant-a",
        scenario="s1", dataset="medical_visits", ctx=ctx, limits=NO_K,
    ).frame  # fmt: skip
    raw_ids = tables["medical_visits"]["patient_id"].unique()
    served_text = "\0".join(served.astype(str).to_numpy().ravel())
    raw_text = "\0".join(tables["medical_visits"]["patient_id"].astype(str))
    assert not [v for v in raw_ids if v in served_text]
    assert any(v in raw_text for v in raw_ids[:10])
    assert served["patient_id"].eq("<CN_RESIDENT_ID>").all()
    assert served["mobile"].eq("<CN_MOBILE>").all()


def test_when_identifiers_are_stored_as_numbers_then_those_cells_are_withheld():
    from hub.masking.sample import desensitize

    frame = pd.DataFrame({"n": [13812345678, 42, 6222021234567890128], "x": [1.5, 2.0, 3.0]})
    out, _ = desensitize(frame, [{"name": "n"}, {"name": "x"}], MaskContext(b"k" * 32))
    assert out["n"].iloc[1] == 42 and out["n"].iloc[[0, 2]].isna().all()  # a mobile, a card
    assert out["x"].tolist() == [1.5, 2.0, 3.0]


@pytest.mark.parametrize(
    "policy",
    [None, {"operator": "keep", "params": {}}, {"operator": "free_text", "params": {}}],
)
def test_when_a_column_is_kept_or_has_no_policy_then_its_text_is_still_scrubbed(policy):
    from hub.masking.sample import desensitize

    frame = pd.DataFrame({"c": ["请致电 139 8765 4321", "浙A·12345", "正常"]})
    out, _ = desensitize(frame, [{"name": "c", "mask": policy}], MaskContext(b"k" * 32))
    assert out["c"].tolist() == ["请致电 <CN_MOBILE>", "<CN_LICENSE_PLATE>", "正常"]
