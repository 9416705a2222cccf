"""The catalog and data lists from the CLI: one scenario, one list, one approval by the owning
department; bad input fails with its reason and writes nothing."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hub import audit
from hub.db.engine import Database
from hub.ops import Ctx, catalog
from hub.validators import resident_id_check_char
from tests.cli_helpers import snapshot
from tests.conftest import CLI_PASSWORD as PASSWORD

ID2 = "11010519491231002X"
ID3 = "11010519800101001" + resident_id_check_char("11010519800101001")
VALID_IDS = [b + resident_id_check_char(b) for b in ("33010619900101123", "33010619920202123")]


def add_staff(cli, username, id_number, role, *where):
    rc, _, err = cli(
        "staff", "add", "--username", username, "--real-name", "李四", "--id-number", id_number,
        "--mobile", "13812345679", "--role", role, *where, "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert rc == 0, err


@pytest.fixture
def lists(world, tmp_path):
    """A department with a CSV dataset and a provider; a second department; a scenario."""
    cli = world
    csv = tmp_path / "visits.csv"
    csv.write_text(
        "patient_id,name,district,diagnosis,cost\n"
        f"{VALID_IDS[0]},张三,西湖区,J06.9,120.5\n"
        f"{VALID_IDS[1]},李四,上城区,K29.7,88.0\n"
    )
    rc, out, err = cli(
        "dataset", "add", "--name", "visits", "--department", "市卫生健康委员会", "--level", "3",
        "--file", str(csv), "--prohibited-columns", "name", "--quasi", "district",
    )  # fmt: skip
    assert rc == 0, err
    assert "2" in out and "visits" in out
    assert cli("department", "add", "--name", "市交通运输局")[0] == 0
    add_staff(cli, "hpro", ID2, "provider", "--department", "市卫生健康委员会")
    add_staff(cli, "tpro", ID3, "provider", "--department", "市交通运输局")
    rc, _, err = cli(
        "scenario", "add", "--tenant", "甲科技", "--name", "慢病风险", "--field", "医疗健康",
        "--purpose", "慢病风险评估", "--category", "industry",
    )  # fmt: skip
    assert rc == 0, err
    return cli


def request(cli, *columns):
    return cli(
        "datalist", "request", "--scenario", "慢病风险", "--dataset", "visits",
        "--columns", ",".join(columns),
    )  # fmt: skip


def test_when_a_dataset_is_added_then_its_schema_is_read_and_the_raw_file_is_in_the_domain_store(
    lists, shuyu_home, db_url
):
    db = Database(db_url)
    with db.session() as s:
        from hub.db.models import Dataset

        ds = s.query(Dataset).filter_by(name="visits").one()
        types = {c["name"]: c["type"] for c in ds.schema}
        assert types == {
            "patient_id": "string",  # identifiers stay text, leading digits and all
            "name": "string",
            "district": "string",
            "diagnosis": "string",
            "cost": "float",
        }
        assert [c["name"] for c in ds.schema if c["prohibited"]] == ["name"]
        assert [c["name"] for c in ds.schema if c["quasi"]] == ["district"]
        assert ds.path.startswith(str(shuyu_home / "domain" / "raw"))
        table = pq.read_table(ds.path)
        assert table.num_rows == ds.rows == 2
        assert table.column("patient_id").to_pylist()[0] == VALID_IDS[0]


def test_when_the_owning_department_approves_then_exactly_those_columns_are_served(lists, db_url):
    cli = lists
    rc, out, err = request(cli, "patient_id", "district", "cost")
    assert rc == 0, err
    assert cli("datalist", "approve", "1", "--by", "hpro", "--reason", "符合场景需要")[0] == 0
    db = Database(db_url)
    with db.session() as s:
        ctx = Ctx(s, "test")
        scenario = catalog.find_scenario(ctx, "慢病风险")
        assert catalog.approved_columns(ctx, scenario, "visits") == [
            "patient_id",
            "district",
            "cost",
        ]
    rc, out, _ = cli("datalist", "list", "--scenario", "慢病风险")
    assert "approved" in out and "hpro" in out
    assert cli("datalist", "revoke", "1", "--by", "hpro", "--reason", "场景变更")[0] == 0
    with db.session() as s:
        ctx = Ctx(s, "test")
        scenario = catalog.find_scenario(ctx, "慢病风险")
        assert catalog.approved_columns(ctx, scenario, "visits") == []  # at the next call
        actions = [e.action for e in s.query(audit.AuditEvent).order_by(audit.AuditEvent.id)]
    assert actions[-3:] == ["datalist.request", "datalist.approved", "datalist.revoked"]
    assert audit.verify(db.engine).ok


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("request", "patient_id", "name"), "may never be authorized"),
        (("request", "patient_id", "salary"), "does not have: salary"),
        (("request",), "name the columns"),
        (("approve-by", "tpro"), "only staff of 市卫生健康委员会"),
        (("approve-by", "alice"), "only staff of 市卫生健康委员会"),
        (("reject-no-reason", "hpro"), "reason must not be empty"),
        (("revoke-pending", "hpro"), "cannot become revoked"),
        (("approve-missing", "hpro"), "no data-list item #99"),
    ],
)
def test_when_a_list_move_is_not_allowed_then_it_is_refused_with_its_reason_and_nothing_changes(
    lists, db_url, argv, message
):
    cli = lists
    if argv[0] != "request":
        assert request(cli, "patient_id", "cost")[0] == 0
    db = Database(db_url)
    before = snapshot(db.engine)
    kind = argv[0]
    if kind == "request":
        rc, _, err = request(cli, *argv[1:])
    elif kind == "approve-by":
        rc, _, err = cli("datalist", "approve", "1", "--by", argv[1], "--reason", "ok")
    elif kind == "reject-no-reason":
        rc, _, err = cli("datalist", "reject", "1", "--by", argv[1], "--reason", " ")
    elif kind == "revoke-pending":
        rc, _, err = cli("datalist", "revoke", "1", "--by", argv[1], "--reason", "x")
    else:
        rc, _, err = cli("datalist", "approve", "99", "--by", argv[1], "--reason", "x")
    assert rc == 2 and message in err, err
    assert "Traceback" not in err
    assert snapshot(db.engine) == before


def test_when_a_prohibited_dataset_is_requested_then_it_is_refused(lists, tmp_path, db_url):
    cli = lists
    pq.write_table(pa.table({"id": ["a"], "v": [1]}), tmp_path / "secret.parquet")
    rc, _, err = cli(
        "dataset", "add", "--name", "secret_list", "--department", "市卫生健康委员会",
        "--level", "4", "--file", str(tmp_path / "secret.parquet"), "--prohibited",
    )  # fmt: skip
    assert rc == 0, err
    rc, _, err = cli(
        "datalist", "request", "--scenario", "慢病风险", "--dataset", "secret_list",
        "--columns", "v",
    )  # fmt: skip
    assert rc == 2 and "may never be authorized" in err


def test_when_an_item_is_open_then_the_same_dataset_cannot_be_listed_twice(lists):
    assert request(lists, "cost")[0] == 0
    rc, _, err = request(lists, "district")
    assert rc == 2 and "already lists visits as item #1" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--name", "Bad-Name", "--level", "2"), "lower-case"),
        (("--name", "visits", "--level", "2"), "already exists"),
        (("--name", "other", "--level", "7"), "level is 1 to 4"),
        (("--name", "other", "--level", "2", "--department", "不存在的局"), "unknown department"),
        (("--name", "other", "--level", "2", "--quasi", "nope"), "does not have: nope"),
    ],
)
def test_when_a_dataset_is_added_with_bad_input_then_it_is_refused_and_nothing_changes(
    lists, tmp_path, db_url, extra, message
):
    cli = lists
    csv = tmp_path / "other.csv"
    csv.write_text("a,b\n1,2\n")
    args = ["dataset", "add", "--file", str(csv), *extra]
    if "--department" not in extra:
        args += ["--department", "市卫生健康委员会"]
    db = Database(db_url)
    before = snapshot(db.engine)
    rc, _, err = cli(*args)
    assert rc == 2 and message in err, err
    assert snapshot(db.engine) == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.xlsx", b"PK\x03\x04", "only CSV or Parquet"),
        ("broken.parquet", b"not parquet at all", "cannot read the data file"),
        ("missing.csv", None, "no such file"),
    ],
)
def test_when_the_data_file_is_unusable_then_the_reason_is_named(
    lists, tmp_path, name, content, message
):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    rc, _, err = lists(
        "dataset", "add", "--name", "other", "--department", "市卫生健康委员会", "--level", "2",
        "--file", str(path),
    )  # fmt: skip
    assert rc == 2 and message in err, err
    assert "Traceback" not in err


def test_when_a_dataset_is_added_then_detected_pii_gets_a_suggested_mask_that_samples_apply(
    lists, db_url
):
    import pandas as pd

    from hub.db.models import Dataset
    from hub.masking.operators import MaskContext
    from hub.masking.sample import SampleLimits, build_sample

    with Database(db_url).session() as s:
        ds = s.query(Dataset).filter_by(name="visits").one()
        columns = {c["name"]: c for c in ds.schema}
        raw = pd.read_parquet(ds.path)
        schema = ds.schema
    assert columns["patient_id"]["pii"] == "resident_id" and "pii_entity" not in columns["name"]
    assert columns["patient_id"]["mask"]["operator"] == "pseudonym"
    assert columns["name"]["pii"] == "name" and columns["name"]["mask"]["operator"] == "mask"
    assert columns["diagnosis"]["pii"] == "free_text"  # level 3: text is scanned by default
    assert "mask" not in columns["cost"] and "mask" not in columns["diagnosis"]
    served = build_sample(
        raw, schema, ["patient_id", "cost"], tenant="t", scenario="s", dataset="visits",
        ctx=MaskContext(b"k" * 32), limits=SampleLimits(max_fraction=1.0, k=1),
    ).frame  # fmt: skip
    assert len(served) == 2 and not set(served["patient_id"]) & set(raw["patient_id"])


def test_when_masks_are_fixed_at_registration_then_they_replace_the_suggestions(
    lists, tmp_path, db_url
):
    from hub.db.models import Dataset

    csv = tmp_path / "people.csv"
    csv.write_text(f"pid,amount\n{VALID_IDS[0]},1234\n{VALID_IDS[1]},88\n")
    rc, _, err = lists(
        "dataset", "add", "--name", "people", "--department", "市卫生健康委员会", "--level", "2",
        "--file", str(csv), "--mask", "pid=keep", "--mask", "amount=round",
    )  # fmt: skip
    assert rc == 0, err
    with Database(db_url).session() as s:
        columns = {c["name"]: c for c in s.query(Dataset).filter_by(name="people").one().schema}
    assert columns["pid"]["mask"]["operator"] == "keep" and columns["pid"]["pii"] == "resident_id"
    assert columns["amount"]["mask"] == {"operator": "round", "params": {}, "suggested": False}
    csv2 = tmp_path / "people3.csv"
    csv2.write_text(f"pid,born,amount\n{VALID_IDS[0]},1990-05-01,1234\n")
    rc, _, err = lists(
        "dataset", "add", "--name", "people3", "--department", "市卫生健康委员会", "--level", "2",
        "--file", str(csv2), "--mask", "born=generalize:kind=year", "--mask",
        "amount=round:base=100",
    )  # fmt: skip
    assert rc == 0, err
    with Database(db_url).session() as s:
        columns = {c["name"]: c for c in s.query(Dataset).filter_by(name="people3").one().schema}
    assert columns["born"]["mask"]["params"] == {"kind": "year"}
    assert columns["amount"]["mask"]["params"] == {"base": 100}
    for bad, message in (
        ("amount=shred", "unknown masking operator: shred"),
        ("amount", "COLUMN=OPERATOR"),
        ("amount=round:base", "KEY=VALUE"),
        ("amount=generalize:kind=decade", "cannot run on column amount"),
        ("amount=round:colour=red", "cannot run on column amount"),
    ):
        rc, _, err = lists(
            "dataset", "add", "--name", "people2", "--department", "市卫生健康委员会",
            "--level", "2", "--file", str(csv), "--mask", bad,
        )  # fmt: skip
        assert rc == 2 and message in err, err


def test_when_an_export_with_chinese_headers_is_added_then_each_columns_policy_is_shown(
    lists, tmp_path, db_url
):
    """Registration names every column's policy for the department to confirm; the plate
    column in odd spellings is recognised, free text is a registrable operator, and nothing
    undetected is left without one above level 1."""
    from hub.db.models import Dataset

    csv = tmp_path / "export.csv"
    csv.write_text(
        "姓名,车牌号,备注,业务类型,情况\n"
        "欧阳㛃,浙a·12345,客户来电 138 1234 5678,开户,良好\n"
        "司马 昇,京B-D1234,无,变更,一般\n"
        "张堃,沪C 6M789,已办结,注销,良好\n",
        encoding="utf-8",
    )
    rc, out, err = lists(
        "dataset", "add", "--name", "export", "--department", "市卫生健康委员会", "--level", "2",
        "--file", str(csv), "--mask", "情况=free_text", "--mask", "业务类型=keep",
    )  # fmt: skip
    assert rc == 0, err
    assert "姓名: name → mask(keep_prefix=1, keep_suffix=0)" in out
    assert "车牌号: plate → mask(keep_prefix=2, keep_suffix=0)" in out
    assert "备注: free_text → free_text（据列名）" in out
    assert "情况: free_text → free_text（部门指定）" in out
    assert "业务类型: - → keep（部门指定）" in out
    with Database(db_url).session() as s:
        columns = {c["name"]: c for c in s.query(Dataset).filter_by(name="export").one().schema}
    assert {n: c["pii"] for n, c in columns.items()} == {
        "姓名": "name", "车牌号": "plate", "备注": "free_text", "业务类型": None,
        "情况": "free_text",
    }  # fmt: skip
    assert not any("pii_entity" in c for c in columns.values())
