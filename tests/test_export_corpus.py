"""Samples of data as departments really export it: zero raw values served, recall per entity
and shape. The corpus (:mod:`hub.demo.exports`) plants identifiers in the shapes clerks type,
under Chinese headers, and in a remarks column; registration is the real one
(:func:`hub.ops.catalog.suggest_masks`). Run with ``-s`` to see the recall table."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from hub.demo.exports import HEADERS, SHAPES, export, recall, served_raw
from hub.masking.headers import header_kind
from hub.masking.operators import MaskContext
from hub.masking.policy import column_policy, pii_kind
from hub.masking.sample import SampleLimits, build_sample, sample_rows
from hub.masking.scan import mask
from hub.ops.catalog import suggest_masks

ROWS = 2000
LIMITS = SampleLimits(max_rows=ROWS, max_fraction=1.0, k=1)
CTX = MaskContext(b"corpus test key " * 2)


@pytest.fixture(scope="module")
def corpus():
    return export(ROWS, seed=13)


def _register(frame: pd.DataFrame, level: int = 2) -> list[dict]:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = [{"name": n, "title": n, "type": "string"} for n in table.column_names]
    suggest_masks(table, schema, level)
    return schema


def _serve(frame: pd.DataFrame, schema: list[dict], columns=None):
    columns = columns or list(frame.columns)
    served = build_sample(
        frame, schema, columns, tenant="t", scenario="s", dataset="export", ctx=CTX,
        limits=LIMITS,
    ).frame  # fmt: skip
    return served, sample_rows(len(frame), "t", "s", "export", LIMITS)


def test_when_the_corpus_is_built_twice_with_one_seed_then_it_is_the_same(corpus):
    frame, planted = corpus
    again, planted_again = export(50, seed=13)
    pd.testing.assert_frame_equal(frame.head(50), again)
    assert planted_again == [p for p in planted if p.row < 50]
    assert export(50, seed=14)[0]["证件号码"].tolist() != again["证件号码"].tolist()


def test_when_an_export_is_registered_then_every_column_has_a_policy(corpus):
    frame, _ = corpus
    schema = {c["name"]: c for c in _register(frame)}
    kinds = {name: pii_kind(c) for name, c in schema.items()}
    assert kinds == {
        "姓名": "name", "证件号码": "resident_id", "联系电话": "mobile", "银行账号": "bank_card",
        "车牌号": "plate", "电子邮箱": "email", "住址": "address", "统一社会信用代码": "uscc",
        "固定电话": "landline", "备注": "free_text", "沟通记录": "free_text",
        "办理日期": "free_text", "业务类型": "free_text", "金额": None,
    }  # fmt: skip
    text_columns = [n for n in schema if pd.api.types.is_string_dtype(frame[n].dtype)]
    assert len(text_columns) == 13
    assert all(column_policy(schema[n]) is not None for n in text_columns)


def test_when_a_sample_of_the_export_is_served_then_no_planted_value_comes_back(corpus):
    frame, planted = corpus
    served, rows = _serve(frame, _register(frame))
    assert len(served) == ROWS
    leaked = served_raw(served, planted, rows)
    assert not leaked, leaked[:5]
    # the check can fail: the raw rows hold every planted value
    assert len(served_raw(frame, planted, range(ROWS))) == len(planted)


@pytest.mark.parametrize(
    "column",
    ["车牌号", "备注", "沟通记录", "联系电话", "固定电话", "电子邮箱", "证件号码", "姓名", "住址"],
)
def test_when_a_column_has_no_policy_at_all_then_it_is_still_not_served_raw(corpus, column):
    """A plate column no detector recognised (or any other) is scanned cell by cell."""
    frame, planted = corpus
    schema = [{"name": n, "type": "string"} for n in frame.columns]  # nothing detected
    served, rows = _serve(frame, schema, [column])
    mine = [p for p in planted if p.column == column and p.entity != "CN_NAME"]
    assert not served_raw(served, mine, rows)
    names = [p for p in planted if p.column == column and p.entity == "CN_NAME"]
    missed = served_raw(served, names, rows)
    assert len(missed) <= 0.02 * max(len(names), 1)  # names alone, no header, no row: >= 98 %


def test_when_the_recall_per_entity_and_shape_is_measured_then_the_scan_alone_finds_them(
    corpus,
):
    """The cell scan with no help (no header, no policy, no row values): per entity × shape."""
    frame, planted = corpus
    table = recall(frame, planted, mask)
    print(f"\n{'entity':<18}{'shape':<28}{'found':>7}{'of':>7}{'recall':>8}")
    for (entity, shape), (hit, n) in table.items():
        print(f"{entity:<18}{shape:<28}{hit:>7}{n:>7}{hit / n:>8.3f}")
    found = sum(h for h, _ in table.values())
    total = sum(n for _, n in table.values())
    print(f"{'all':<46}{found:>7}{total:>7}{found / total:>8.4f}")
    assert {s for (_, s) in table} >= {s for shapes in SHAPES.values() for s in shapes}
    for (entity, shape), (hit, n) in table.items():
        floor = 0.95 if entity == "CN_NAME" else 1.0
        assert hit / n >= floor, (entity, shape, hit, n)


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        *((h, k if k not in ("notes", "log") else "free_text") for k, h in HEADERS.items()),
        ("公民身份号码", "resident_id"), ("身份证号", "resident_id"), ("sfzh", "resident_id"),
        ("手机号码", "mobile"), ("移动电话", "mobile"), ("lxdh", "mobile"),
        ("固定电话", "landline"), ("办公电话", "landline"), ("座机号码", "landline"),
        ("传真", "landline"), ("fax", "landline"),
        ("银行卡号", "bank_card"), ("开户账号", "bank_card"), ("号牌号码", "plate"),
        ("车辆号牌", "plate"), ("E-mail", "email"), ("家庭住址", "address"),
        ("户籍地址", "address"), ("联系人", "name"), ("法定代表人", "name"),
        ("持卡人身份证号码", "resident_id"), ("联系人电话", "mobile"), ("情况说明", "free_text"),
        ("remark", "free_text"), ("企业名称", None), ("company_name", None), ("金额", None),
        ("办理日期", None),
    ],
)  # fmt: skip
def test_when_a_header_names_a_kind_then_it_is_read(header, kind):
    assert header_kind(header) == kind
