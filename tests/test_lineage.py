"""Lineage links are verified by the platform: a tenant's claims never reach another tenant's job,
cell or code, and a claimed cell id is compared exactly, never as a pattern."""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pytest
from sqlalchemy import select

from hub import audit, home
from hub.db.engine import Database
from hub.db.models import Scenario, Staff
from hub.demo import world
from hub.ops.setup import init_home
from hub.review import lifecycle, lineage

ALICE_CELL = "alice-cell_0001"
ALICE_CODE = "secret_pricing_formula = 42  # alice's own code"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    h = tmp_path_factory.mktemp("lineage")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=200)
    yield h, db
    db.dispose()


def parquet(values=(120, 85, 64)) -> bytes:
    out = io.BytesIO()
    pd.DataFrame({"district": ["上城区", "拱墅区", "西湖区"], "n": list(values)}).to_parquet(out)
    return out.getvalue()


def staff_and_scenario(s, user: str):
    staff = s.scalars(select(Staff).where(Staff.username == user)).one()
    scenario = s.scalars(
        select(Scenario).where(Scenario.tenant_id == staff.tenant_id).order_by(Scenario.id)
    ).first()
    return staff, scenario


def cell(demo, user: str, msg_id: str, code: str) -> None:
    """A notebook cell of ``user`` as the gateway audits it."""
    with demo[1].session() as s:
        staff, _ = staff_and_scenario(s, user)
        audit.append(s, "kernel.execute", actor=user, tenant=staff.tenant.group, object="default",
                     details={"code": code, "code_length": len(code), "kernel": "k", "msg_id": msg_id,
                              "session": "s"})  # fmt: skip


def request(demo, user: str, kind: str, content: bytes, meta: dict) -> int:
    h, db = demo
    with db.session() as s:
        staff, scenario = staff_and_scenario(s, user)
        r = lifecycle.create(s, kind=kind, requester=user, tenant_id=staff.tenant_id,
                             scenario_id=scenario.id, purpose="血缘测试 / lineage test", name=kind,
                             meta=meta)  # fmt: skip
        lifecycle.submit(s, r, content, home.domain_store(h), user)
        return r.id


@pytest.fixture(scope="module")
def alice_job(demo):
    """alice's job, run, with one output table, submitted from her audited cell."""
    cell(demo, "alice", ALICE_CELL, ALICE_CODE)
    output = parquet()
    job_id = request(demo, "alice", "job", b"bundle", {"cell": ALICE_CELL})
    with demo[1].session() as s:
        job = lifecycle.get(s, job_id)
        job.meta = {**job.meta, "run": {
            "inputs": [{"dataset": "medical_visits", "sha256": "a" * 64}],
            "outputs": [{"name": "by_district.parquet", "bytes": len(output),
                         "sha256": hashlib.sha256(output).hexdigest()}],
        }}  # fmt: skip
        job.status = lifecycle.SUCCEEDED
    return job_id, output


def trace(demo, request_id: int) -> dict:
    with demo[1].session() as s:
        return json.loads(json.dumps(lineage.trace(s, lifecycle.get(s, request_id)), default=str))


def test_when_a_job_output_is_exported_then_the_export_links_to_the_job_and_its_cell(
    demo, alice_job
):
    job_id, output = alice_job
    export = request(demo, "alice", "export", output,
                     lineage.client_meta({"job": job_id, "cell": ALICE_CELL}))  # fmt: skip
    trail = trace(demo, export)
    assert [n["request"] for n in trail["chain"]] == [job_id, export]
    assert trail["chain"][1]["from_job"] == job_id
    assert trail["chain"][1]["from_output"] == "by_district.parquet"
    assert trail["chain"][0]["cell"]["msg_id"] == ALICE_CELL
    assert trail["chain"][0]["outputs"][0]["name"] == "by_district.parquet"
    assert export in [d["request"] for d in trace(demo, job_id)["derived"]]


def test_when_bob_claims_alices_job_and_cell_then_his_lineage_shows_nothing_of_alices(
    demo, alice_job
):
    job_id, output = alice_job
    # even the very bytes of alice's output: the job is another tenant's
    export = request(demo, "bob", "export", output,
                     lineage.client_meta({"job": job_id, "cell": ALICE_CELL,
                                          "run": {"inputs": ["forged"]}, "output": "x"}))  # fmt: skip
    trail = trace(demo, export)
    text = json.dumps(trail, ensure_ascii=False)
    assert [n["request"] for n in trail["chain"]] == [export]
    node = trail["chain"][0]
    assert node["from_job"] is None and node["cell"] is None and node["inputs"] is None
    assert sorted(node["unverified"]) == ["cell", "job"]
    for secret in ("alice", "by_district", "medical_visits", "secret_pricing_formula"):
        assert secret not in text
    assert export not in [d["request"] for d in trace(demo, job_id)["derived"]]


@pytest.mark.parametrize(
    "claimed",
    ["%", "_", "alice%", "%cell%", "alice-cell_000_", "ALICE-CELL_0001", "alice-cell\\_0001",
     " alice-cell_0001", "alice-cell_0001 ", "alice-cell_000"],
    ids=["percent", "underscore", "prefix", "infix", "wildcard-char", "case", "escaped", "lead-space",
         "trail-space", "truncated"],
)  # fmt: skip
def test_when_a_claimed_cell_id_is_a_pattern_then_it_matches_nothing(demo, alice_job, claimed):
    for user in ("alice", "bob"):  # not even alice's own cell answers a pattern
        export = request(demo, user, "export", parquet((9, 8, 7)),
                         lineage.client_meta({"cell": claimed}))  # fmt: skip
        node = trace(demo, export)["chain"][0]
        assert node["cell"] is None and node["unverified"] == ["cell"]


def test_when_bob_claims_his_own_cell_then_it_links_only_by_its_exact_id(demo):
    cell(demo, "bob", "bob-cell-1", "print('bob')")
    export = request(demo, "bob", "export", parquet((5, 6, 7)),
                     lineage.client_meta({"cell": "bob-cell-1"}))  # fmt: skip
    node = trace(demo, export)["chain"][0]
    assert node["cell"]["msg_id"] == "bob-cell-1" and node["unverified"] == []


def test_when_alice_claims_her_own_job_for_other_content_then_it_is_not_linked(demo, alice_job):
    job_id, _ = alice_job
    export = request(demo, "alice", "export", parquet((1, 2, 3)),
                     lineage.client_meta({"job": job_id}))  # fmt: skip
    trail = trace(demo, export)
    assert [n["request"] for n in trail["chain"]] == [export]
    assert trail["chain"][0]["unverified"] == ["job"]


@pytest.mark.parametrize(
    "meta",
    [None, [], "x", {"job": {"id": 1}}, {"job": True}, {"cell": ["a"]}, {"table": "x"}],
    ids=["none", "list", "text", "job-object", "job-bool", "cell-list", "table-text"],
)
def test_when_client_metadata_is_malformed_then_no_claim_or_statistic_is_kept(meta):
    kept = lineage.client_meta(meta)
    assert "job" not in kept and "cell" not in kept and "run" not in kept
    assert kept.get("claimed", {}).keys() <= {"job", "cell"}
    assert not isinstance(kept.get("table", {}), str)
