"""A large raw table stored as a folder of Parquet parts, read lazily by a real production job:
DuckDB groups and joins it inside the sandbox, the run record hashes every part, and DuckDB in
the job reaches the approved columns of its own datasets and nothing else (the attacker's side)."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from sqlalchemy import select

from hub import home, rawstore
from hub.db.models import Dataset
from tests.test_production_lifecycle import CREDIT, act, approve, get, job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the production sandbox runs as root")

GROUP_AND_JOIN = """
import json, os
from sdk import job
visits = job.dataset("medical_visits", columns=["department", "gender", "cost"])
visits.aggregate("department, avg(cost) AS mean_cost", "department").create_view("by_department")
above = job.sql(
    "SELECT count(*) AS n, sum(CASE WHEN v.cost > d.mean_cost THEN 1 ELSE 0 END) AS above "
    "FROM medical_visits v JOIN by_department d USING (department)"
)
women = visits.filter("gender = '女'").aggregate("count(*)").fetchall()[0][0]
threads = job.connection().sql("SELECT current_setting('threads')").fetchall()[0][0]
json.dump({"parts": sorted(os.listdir("/data/medical_visits.parquet")), "rows": int(above.n[0]),
           "above": int(above.above[0]), "women": int(women), "threads": int(threads),
           "scratch": os.environ.get("SHUYU_JOB_SCRATCH")}, open(job.output("seen.json"), "w"))
job.save_metrics(rows=int(above.n[0]))
"""

ATTACKS = """
import json, os
from sdk import job
tries = {{
    "unapproved column": lambda: job.dataset("enterprise_registry", columns=["legal_rep_id"]).df(),
    "unapproved column in sql": lambda: job.sql("SELECT legal_rep_id FROM enterprise_registry"),
    "raw store file": lambda: job.sql("SELECT * FROM read_parquet('{raw}')"),
    "another dataset": lambda: job.sql("SELECT * FROM read_parquet('{other}')"),
    "glob of the root": lambda: job.sql("SELECT * FROM glob('/*')"),
    "glob of the store": lambda: job.sql("SELECT * FROM glob('{store}/*')"),
    "system file": lambda: job.sql("SELECT * FROM read_csv('/etc/passwd')"),
    "attach": lambda: job.sql("ATTACH '/job/scratch/x.db'"),
    "install httpfs": lambda: job.sql("INSTALL httpfs"),
    "load httpfs": lambda: job.sql("LOAD httpfs"),
    "remote file": lambda: job.sql("SELECT * FROM read_parquet('https://example.com/x.parquet')"),
    "reopen files": lambda: job.connection().execute("SET enable_external_access = true"),
    "widen": lambda: job.connection().execute("SET allowed_directories = ['/']"),
    "python open": lambda: open("{raw}", "rb").read(1),
}}
seen = {{}}
for name, attempt in tries.items():
    try:
        attempt()
        seen[name] = "read"
    except Exception as e:
        seen[name] = type(e).__name__
seen["columns"] = sorted(job.dataset("enterprise_registry").columns)
json.dump(seen, open(job.output("attacks.json"), "w"))
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The lifecycle's demo world, its medical visits stored again as a folder of parts."""
    from hub.db.engine import Database
    from hub.demo import world
    from hub.ops.setup import init_home
    from spawner import seccomp

    h = tmp_path_factory.mktemp("lazy")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=1000)
    store = home.domain_store(h)
    with db.session() as s:
        ds = s.scalars(select(Dataset).where(Dataset.name == "medical_visits")).one()
        single = store / ds.path
        table = pd.read_parquet(single)
        saved, rawstore.PART_ROWS = rawstore.PART_ROWS, 300
        try:
            folder = rawstore.write(pa_table(table), single.with_name("medical_visits_parts"))
        finally:
            rawstore.PART_ROWS = saved
        ds.path = str(folder.relative_to(store))
    yield h, db, seccomp.write_filter(h / "job.bpf"), table, folder
    db.dispose()


def pa_table(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def test_when_a_job_groups_and_joins_a_partitioned_table_then_duckdb_reads_it_in_the_sandbox(
    demo,
):
    h, db, _, raw, folder = demo
    request_id = job(demo[:3], GROUP_AND_JOIN)
    approve(db, request_id, "rita", "ryan")
    assert act(demo[:3], request_id) == "succeeded", get(db, request_id).status_reason
    seen = json.loads(
        (home.domain_store(h) / "jobs" / str(request_id) / "output" / "seen.json").read_text()
    )
    mean = raw.groupby("department")["cost"].transform("mean")
    assert seen["rows"] == len(raw) == 1000
    assert seen["above"] == int((raw["cost"] > mean).sum())
    assert seen["women"] == int((raw["gender"] == "女").sum())
    assert len(rawstore.files(folder)) == 4 and len(seen["parts"]) >= 1
    assert seen["threads"] == 1 and seen["scratch"] == "/job/scratch"
    inputs = get(db, request_id).meta["run"]["inputs"]
    assert inputs[0]["sha256"] == rawstore.sha256(folder)


def test_when_a_job_reaches_past_its_approved_columns_through_duckdb_then_every_try_fails(demo):
    h, db, _, _, folder = demo
    store = home.domain_store(h)
    code = ATTACKS.format(
        raw=store / "raw" / "enterprise_registry.parquet", other=folder / "part-00000.parquet",
        store=store,
    )  # fmt: skip
    request_id = job(demo[:3], code, scenario=CREDIT, datasets=("enterprise_registry",))
    approve(db, request_id, "rita", "ryan")
    assert act(demo[:3], request_id) == "succeeded", get(db, request_id).status_reason
    seen = json.loads((store / "jobs" / str(request_id) / "output" / "attacks.json").read_text())
    columns = seen.pop("columns")
    assert "legal_rep_id" not in columns and "address" not in columns and "uscc" in columns
    assert seen and all(outcome != "read" for outcome in seen.values()), seen
