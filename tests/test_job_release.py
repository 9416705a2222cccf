"""The release gate of a job's log, metrics and output names, on every spelling of an identifier a
job might use to carry it to its tenant, and on the metrics a job legitimately reports."""

from __future__ import annotations

import base64
import json
import re

import pandas as pd
import pytest

from hub.production import disclosure, outputs, spelling
from hub.production.gate import Gate, problems_by_column
from hub.refusals import NotFound
from hub.review.checks import FAIL, Context, Finding, Msg, RawSource
from sdk.identifiers import resident_id_check_char

FIRST = "33010619880505123"
RID = FIRST + resident_id_check_char(FIRST)
XID = next(
    p + "X"
    for p in (f"1101051949123{i:04d}" for i in range(1000))
    if resident_id_check_char(p) == "X"
)
ZH, CAP = "〇一二三四五六七八九", "零壹贰叁肆伍陆柒捌玖"
FULL = {ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}
EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PINYIN = ["líng", "yī", "èr", "sān", "sì", "wǔ", "liù", "qī", "bā", "jiǔ"]


def spellings(value: str) -> dict[str, str]:
    """One identifier in the spellings a job could print, name or key it with."""
    return {
        "plain": value,
        "dotted": ".".join(value),
        "spaced": " ".join(value),
        "dashed_groups": f"{value[:6]}-{value[6:14]}-{value[14:]}",
        "underscored": "_".join(value),
        "zero_width": "\u200b".join(value),
        "zero_width_joiner": "\u2060".join(value) + "\ufeff",
        "full_width": value.translate(FULL),
        "chinese": "".join(ZH[int(c)] if c.isdigit() else c for c in value),
        "financial": "".join(CAP[int(c)] if c.isdigit() else c for c in value),
        "lower_x": value.lower(),
        "mixed": "".join(ZH[int(c)] if c.isdigit() and i % 2 else c for i, c in enumerate(value)),
        "english_words": " ".join(EN[int(c)] if c.isdigit() else c for c in value),
        "pinyin": "".join(PINYIN[int(c)] if c.isdigit() else c for c in value),
    }


def encodings(value: str) -> dict[str, str]:
    """The identifier hidden rather than spelled: decoding or stripping gives it back."""
    return {
        "lookalike_letters": value.replace("0", "O").replace("1", "l"),
        "reversed": value[::-1],
        "base64": base64.b64encode(value.encode()).decode(),
        "hex": value.encode().hex(),
        "url_escaped": "".join(f"%{ord(c):02X}" for c in value),
        "zero_padded": "000" + value,
        "twice": value + value,
    }


CASES = [(f"{v[:2]}-{how}", text) for v in (RID, XID) for how, text in spellings(v).items()]
HIDDEN = CASES + [
    (f"{v[:2]}-{how}", text) for v in (RID, XID) for how, text in encodings(v).items()
]


def visible(text: str, value: str) -> bool:
    """Whether ``value`` can be read in ``text`` in any spelling (folded, or as digits alone)."""
    folded = spelling.fold(text)
    return spelling.fold(value) in folded or value.upper() in re.sub(r"[^0-9X]", "", folded)


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate(Context())


@pytest.mark.parametrize(("case", "text"), CASES, ids=[c for c, _ in CASES])
def test_when_an_id_is_spelled_oddly_then_folding_gives_it_back(case, text):
    value = XID if case.startswith(XID[:2]) else RID
    assert spelling.fold(text) == value


@pytest.mark.parametrize(("case", "text"), HIDDEN, ids=[c for c, _ in HIDDEN])
def test_when_a_log_line_spells_an_id_oddly_then_the_line_is_withheld_with_a_reason(
    gate, case, text
):
    log = f"epoch 1 loss 0.69\nthe holder {text} rode\nrows 1000\n".encode()
    release = disclosure.release_log(log, gate)
    assert "epoch 1 loss 0.69" in release.shown and "rows 1000" in release.shown
    assert not visible(release.shown, RID) and not visible(release.shown, XID)
    assert text not in release.shown
    assert [h["ref"] for h in release.held] in (["log:2"], [])  # masked in place, or held
    if release.held:
        assert (
            "withheld until a reviewer releases it" in release.shown
            and "待审核员放行" in release.shown
        )


@pytest.mark.parametrize(
    "lines",
    [
        [f"part one {RID[:9]}", f"{RID[9:]} part two"],
        [f"tokens {RID[:6]} and {RID[6:12]} then {RID[12:]}"],
        [f"a {RID[:5]}", f"b {RID[5:11]}", f"c {RID[11:]}"],
        [f"一半 {spellings(RID)['chinese'][:9]}", f"另一半 {'.'.join(RID[9:])}"],
    ],
    ids=["two-lines", "three-tokens", "three-lines", "chinese-then-dotted"],
)
def test_when_an_id_is_split_across_lines_or_tokens_then_every_piece_is_withheld(gate, lines):
    release = disclosure.release_log(("start\n" + "\n".join(lines) + "\nend\n").encode(), gate)
    assert not visible(release.shown, RID)
    assert len(release.held) == len(lines) and {h["what"] for h in release.held} == {"log"}
    assert release.shown.startswith("start\n") and release.shown.endswith("end\n")


def test_when_a_training_log_only_reports_progress_then_every_line_flows(gate):
    lines = [
        f"epoch {i} step {i * 137 % 9973} loss {1 / (i + 2):.6f} auc {0.5 + i / 5000:.4f} 平均费用 {i * 3.7:.2f}"
        for i in range(1500)
    ]  # fmt: skip
    release = disclosure.release_log("\n".join(lines).encode(), gate)
    assert release.held == [] and release.shown == "\n".join(lines)


def test_when_metrics_carry_ids_in_keys_values_and_floats_then_only_the_legitimate_ones_flow(gate):
    metrics = {
        "rows": 1000, "auc": 0.731, "loss": 0.6931471805599453, "big_total": 123456.5,
        "tiny": 3, "tiny_float": 3.0, "zero": 0,
        RID: 12, f"k_{'.'.join(RID)}": 40, "by_id": {spellings(RID)["chinese"]: 30, "ok": 20},
        "as_int": int(RID), "as_float": float(RID), "as_text": " ".join(RID),
        "halves": [int(RID[:9]), int(RID[9:])], "fractions": [float(f"0.{RID[:9]}"), float(f"0.{RID[9:]}")],
        "nested": {"deeper": {"small": 2.0}},
    }  # fmt: skip
    release = disclosure.release_metrics(json.dumps(metrics).encode(), 10, gate)
    shown = release.shown
    assert (shown["rows"], shown["auc"], shown["loss"], shown["big_total"]) == (
        1000, 0.731, 0.6931471805599453, 123456.5,
    )  # fmt: skip
    assert shown["tiny"] is None and shown["tiny_float"] is None and shown["zero"] == 0
    assert shown["nested"]["deeper"]["small"] is None and shown["by_id"]["ok"] == 20
    suppressed = release.extra["suppressed"]
    assert suppressed == ["$.tiny", "$.tiny_float", "$.nested.deeper.small"]
    everything = json.dumps([shown, suppressed, disclosure.withheld_view(release.held)])
    assert not visible(everything, RID)
    assert shown["as_int"] is None and shown["as_float"] is None and shown["as_text"] is None
    assert shown["halves"] == [None, None] and shown["fractions"] == [None, None]
    refs = {h["ref"] for h in release.held}
    assert {"metric:$.as_int", "metric:$.halves[0]", "metric:$.halves[1]"} <= refs
    assert all(h["reason_zh"] and h["reason_en"] for h in release.held)


def test_when_a_reviewer_releases_the_metrics_then_small_counts_stay_suppressed(gate):
    raw = json.dumps({"rows": 1000, RID: 40, "tiny": 3.0}).encode()
    release = disclosure.release_metrics(raw, 10, None)
    assert release.shown == {"rows": 1000, RID: 40, "tiny": None}


def test_when_outputs_are_named_with_ids_then_the_tenant_sees_platform_names(gate):
    names = ["metrics.json", "model.json", "cost_by_gender.parquet", f"{RID}.parquet",
             f"by_id/{'.'.join(RID)}.csv", f"{spellings(RID)['zero_width']}.txt",
             f"{spellings(RID)['financial']}", f"{RID[:9]}/{RID[9:]}.bin", "output-2.parquet",
             f"{encodings(RID)['base64']}.json", f"v{encodings(RID)['zero_padded']}.png"]  # fmt: skip
    found = [{"name": n, "bytes": 123_456, "sha256": "0" * 64} for n in names]
    release = disclosure.release_outputs(found, gate)
    shown = [o["name"] for o in release.shown]
    assert shown[:3] == ["metrics.json", "model.json", "cost_by_gender.parquet"]
    assert shown[3:] == ["output-4.parquet", "output-5.csv", "output-6.txt", "output-7",
                         "output-8.bin", "output-9.parquet", "output-10.json", "output-11.png"]  # fmt: skip
    assert {o["bytes"] for o in release.shown} == {120_000}
    assert [disclosure.about(n) for n in (0, 1, 33, 999, 1000, 33_499, 330_106)] == [
        0, 1000, 1000, 1000, 1000, 33_000, 330_000,
    ]  # fmt: skip
    assert not visible(json.dumps([release.shown, disclosure.withheld_view(release.held)]), RID)
    run = {"files": found}
    assert outputs.resolve(run, "output-4.parquet") == f"{RID}.parquet"
    assert outputs.resolve(run, "cost_by_gender.parquet") == "cost_by_gender.parquet"
    with pytest.raises(NotFound):
        outputs.resolve(run, f"{RID}.parquet")  # the real name is no door to the file


@pytest.fixture(scope="module")
def raw_gate(tmp_path_factory) -> Gate:
    """A scenario whose raw data holds identifiers with no checksum: only overlap finds them."""
    path = tmp_path_factory.mktemp("raw") / "people.parquet"
    pd.DataFrame({"member": ["M20240001", "M20240002"], "mobile": ["13912345678", "13987654321"],
                  "code": ["771234567", "771234568"], "plate": ["浙A8K123", "浙B77777"],
                  "age": [30, 40]}).to_parquet(path)  # fmt: skip
    source = RawSource("people", str(path), ("member", "mobile", "code", "plate"), ())
    return Gate(Context(raw=(source,)))


@pytest.mark.parametrize(
    "line",
    ["member m2024.0001 seen", "phone 139.1234.5678", "phone 139 1234\n5678 ok",
     "code ７７１２３４５６７", "code 七七一二三四五六七", "code 77 12 34 567", "bus 浙A·8K123 ran"],
)  # fmt: skip
def test_when_a_log_line_holds_a_raw_record_identifier_then_it_is_withheld(raw_gate, line):
    release = disclosure.release_log(f"start\n{line}\nend\n".encode(), raw_gate)
    masked_in_place = not release.held and sum(release.extra["masked"].values()) == 1
    assert len(release.held) == line.count("\n") + 1 or masked_in_place
    assert release.shown.startswith("start\n") and release.shown.endswith("end\n")
    for value in ("M20240001", "13912345678", "771234567", "浙A8K123"):
        assert not visible(release.shown, value) and value not in re.sub(r"\W", "", release.shown)


def test_when_a_metric_value_equals_a_raw_identifier_then_it_is_withheld(raw_gate):
    raw = json.dumps({"rows": 2, "code": 771234567, "member": "m20240002", "ok": 771234000})
    release = disclosure.release_metrics(raw.encode(), 1, raw_gate)
    assert release.shown == {"rows": 2, "code": None, "member": None, "ok": 771234000}


def test_when_the_checks_cannot_run_then_everything_is_withheld(tmp_path):
    broken = Gate(Context(raw=(RawSource("gone", str(tmp_path / "gone.parquet"), ("id",), ()),)))
    release = disclosure.release_metrics(json.dumps({"rows": 1000}).encode(), 10, broken)
    assert release.shown == {"<withheld-1>": None}  # the key, and with it its value
    assert release.held[0]["reason_en"] == "could not be checked"


@pytest.mark.parametrize(
    "lines",
    [
        ["code 7712", "34567 done"],
        ["phone 139", "1234", "5678 ok"],
        ["编号 七七一二", "三四 五六七"],
    ],
    ids=["two-lines", "three-lines", "chinese-numerals"],
)
def test_when_a_raw_identifier_is_split_across_lines_then_each_piece_is_withheld(raw_gate, lines):
    """The checks name a value found across neighbouring lines by both (``g3+g4``): each line
    that holds a piece is withheld."""
    release = disclosure.release_log(("start\n" + "\n".join(lines) + "\nend\n").encode(), raw_gate)
    assert release.shown.startswith("start\n") and release.shown.endswith("end\n")
    digits = re.sub(r"\D", "", release.shown)
    for value in ("771234567", "13912345678"):
        assert value not in digits and not visible(release.shown, value)
    assert len(release.held) == len(lines)


@pytest.fixture(scope="module")
def id_gate(tmp_path_factory) -> Gate:
    """A scenario whose raw data holds resident IDs (and a million-ID store would not change the
    odds for ordinary numbers: see hub.production.pieces)."""
    path = tmp_path_factory.mktemp("ids") / "people.parquet"
    pd.DataFrame({"person": [RID, XID], "age": [30, 40]}).to_parquet(path)
    return Gate(Context(raw=(RawSource("people", str(path), ("person",), ()),)))


@pytest.mark.parametrize(
    "lines",
    [
        [f"head {RID[:9]} then", "epoch 3 loss 0.1234 step 77", f"tail {RID[9:]} done"],
        [
            f"a {RID[:7]}",
            "epoch 1 rows 1000",
            f"b {RID[7:12]}",
            "epoch 2 rows 2000",
            f"c {RID[12:]}",
        ],
        [f"tail {XID[10:]}", f"head {XID[:10]}"],
        [
            f"后半 {spellings(RID)['chinese'][8:]}",
            "step 12",
            f"前半 {spellings(RID)['chinese'][:8]}",
        ],
    ],
    ids=["noise-between", "three-far-pieces", "out-of-order", "chinese-out-of-order"],
)
def test_when_pieces_of_a_raw_id_are_far_apart_or_out_of_order_then_each_is_withheld(
    id_gate, lines
):
    """Other numbers between the pieces, or the pieces in another order: they are chained back,
    and only the lines with pieces are held."""
    release = disclosure.release_log(("\n".join(lines) + "\n").encode(), id_gate)
    runs = re.findall(r"[0-9X]+", spelling.fold(release.shown))
    assert not {RID, XID} & {a + b for a in runs for b in runs}
    assert not {RID, XID} & {a + b + c for a in runs for b in runs for c in runs}
    held = {int(h["ref"].split(":")[1]) - 1 for h in release.held}
    assert held == {i for i, line in enumerate(lines) if not line.startswith(("epoch", "step"))}


def test_when_metric_values_spell_a_raw_id_in_pieces_then_they_are_withheld(id_gate):
    raw = json.dumps(
        {"a": int(RID[:9]), "loss": 0.12, "steps": 77, "b": int(RID[9:]), "rows": 1000}
    )
    release = disclosure.release_metrics(raw.encode(), 1, id_gate)
    assert release.shown["a"] is None and release.shown["b"] is None
    assert release.shown["loss"] == 0.12 and release.shown["rows"] == 1000


def test_when_an_ordinary_log_is_screened_against_raw_ids_then_its_numbers_still_flow(id_gate):
    lines = [f"epoch {i} step {i * 137 % 9973} loss {1 / (i + 2):.6f} rows {i * 7}" for i in range(800)]  # fmt: skip
    release = disclosure.release_log("\n".join(lines).encode(), id_gate)
    assert release.held == [] and release.shown == "\n".join(lines)


def test_when_a_training_log_is_screened_against_raw_data_then_its_numbers_still_flow(raw_gate):
    """Joining numbers at the raw identifiers' lengths does not hold back ordinary progress."""
    lines = [
        f"epoch {i} step {i * 137 % 9973} loss {1 / (i + 2):.6f} rows {i * 7}" for i in range(800)
    ]
    release = disclosure.release_log("\n".join(lines).encode(), raw_gate)
    assert release.held == [] and release.shown == "\n".join(lines)


def test_when_a_finding_names_joined_or_unknown_columns_then_each_named_or_every_one_is_held():
    found = [
        Finding("pii_scan", FAIL, Msg("", ""), {"columns": {"g1+g2": {"CN_RESIDENT_ID": 1}}}),
        Finding(
            "raw_overlap",
            FAIL,
            Msg("", ""),
            {"sources": {"s": {"identifier_cells": {"g0+g1+g3": 1}}}},
        ),  # fmt: skip
    ]
    assert problems_by_column(found, 5) == {
        0: {"raw"},
        1: {"identifier", "raw"},
        2: {"identifier"},
        3: {"raw"},
    }
    odd = [Finding("pii_scan", FAIL, Msg("", ""), {"columns": {"value": {"PERSON": 1}}})]
    assert problems_by_column(odd, 3) == {i: {"name_or_address"} for i in range(3)}


def _shift(value: str, k: int) -> str:
    return "".join(str((int(c) + k) % 10) if c.isdigit() else c for c in value)


@pytest.mark.parametrize(
    "hidden",
    [
        base64.b32encode(b"13912345678").decode(),
        base64.b32encode(b"13912345678").decode().rstrip("=").lower(),
        base64.b85encode(b"13912345678").decode(),
        base64.a85encode(b"13987654321", adobe=True).decode(),
        base64.urlsafe_b64encode(b"13912345678").decode().rstrip("="),
        _shift("13912345678", 6),
    ],
    ids=["base32", "base32-lower-unpadded", "base85", "ascii85", "urlsafe-unpadded", "shifted"],
)
def test_when_a_log_line_encodes_a_raw_identifier_otherwise_then_it_is_withheld(raw_gate, hidden):
    release = disclosure.release_log(f"start\nvalue {hidden} ok\nend\n".encode(), raw_gate)
    assert [h["ref"] for h in release.held] == ["log:2"], release.shown
    assert hidden not in release.shown
