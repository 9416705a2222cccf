"""``job.dataset`` as a lazy DuckDB relation over a job's Parquet (one file, or a folder of parts
as the production zone writes a large table), sharing one confined connection with ``job.sql``;
and the raw store's two shapes, hashed and projected in constant memory."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hub import rawstore
from sdk import InvalidRequest, job

ROWS = 5_000


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A job's data folder: ``loans`` in three parts, ``branches`` a single file."""
    folder = tmp_path / "data"
    parts = folder / "loans.parquet"
    parts.mkdir(parents=True)
    loans = pd.DataFrame({
        "id": range(ROWS), "branch": [i % 7 for i in range(ROWS)],
        "amount": [float(i % 100) for i in range(ROWS)], "secret_note": ["x"] * ROWS,
    })  # fmt: skip
    for n, start in enumerate(range(0, ROWS, 2_000)):
        loans.iloc[start : start + 2_000].to_parquet(parts / f"part-{n:05d}.parquet")
    branches = pd.DataFrame({"branch": range(7), "city": [f"c{i}" for i in range(7)]})
    branches.to_parquet(folder / "branches.parquet")
    (tmp_path / "outside.parquet").write_bytes((folder / "branches.parquet").read_bytes())
    monkeypatch.setenv("SHUYU_JOB_DATA", str(folder))
    monkeypatch.setenv("SHUYU_JOB_SCRATCH", str(tmp_path))
    monkeypatch.setenv("SHUYU_JOB_CPUS", "2")
    monkeypatch.setenv("SHUYU_JOB_MEMORY_BYTES", str(1 << 30))
    monkeypatch.delenv("SHUYU_JOB_READS", raising=False)
    job.close()
    yield tmp_path
    job.close()


def test_when_a_dataset_is_asked_for_then_it_is_a_lazy_relation_over_every_part(data):
    loans = job.dataset("loans")
    assert isinstance(loans, duckdb.DuckDBPyRelation)
    frame = loans.df()
    assert len(frame) == ROWS and frame["id"].tolist() == list(range(ROWS))


def test_when_columns_and_a_filter_are_asked_then_both_are_pushed_down_to_the_scan(data):
    relation = job.dataset("loans", columns=["id", "amount"]).filter("amount > 97")
    plan = relation.explain()
    assert "READ_PARQUET" in plan.upper()
    assert "amount>97" in plan.replace(" ", "") or "amount > 97" in plan
    assert "secret_note" not in plan and "branch" not in plan
    frame = relation.df()
    assert list(frame.columns) == ["id", "amount"]
    assert len(frame) == ROWS // 100 * 2 and (frame["amount"] > 97).all()


def test_when_job_sql_runs_then_it_shares_the_connection_and_joins_a_relation(data):
    job.dataset("loans").filter("amount >= 50").create_view("big")  # a view on the connection
    by_city = job.sql(
        "SELECT b.city, count(*) AS n FROM big JOIN branches b USING (branch) GROUP BY 1 ORDER BY 1"
    )
    assert isinstance(by_city, pd.DataFrame)
    assert by_city["n"].sum() == ROWS // 2 and len(by_city) == 7
    assert job.connection() is job.connection()


def test_when_the_connection_opens_then_it_runs_within_the_jobs_cpus_memory_and_scratch(data):
    settings = dict(job.connection().sql(
        "SELECT name, value FROM duckdb_settings() WHERE name IN "
        "('threads', 'memory_limit', 'temp_directory', 'enable_external_access', 'lock_configuration')"
    ).fetchall())  # fmt: skip
    assert settings["threads"] == "2"
    assert settings["memory_limit"].startswith("614")  # 60 % of 1 GiB, in MiB
    assert settings["temp_directory"] == str(data / "duckdb")
    assert settings["enable_external_access"] == "false"
    assert settings["lock_configuration"] == "true"


@pytest.mark.parametrize(
    "attack",
    [
        "SELECT * FROM read_parquet('{outside}')",
        "SELECT * FROM glob('{root}/*')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('{data}/../outside.parquet')",
        "ATTACH '{root}/other.db'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET lock_configuration = false",
    ],
    ids=["other-file", "glob", "etc", "dotdot", "attach", "install", "load", "reopen",
         "widen", "unlock"],
)  # fmt: skip
def test_when_job_sql_reaches_past_its_datasets_then_duckdb_refuses(data, attack):
    text = attack.format(outside=data / "outside.parquet", root=data, data=data / "data")
    with pytest.raises(InvalidRequest):
        job.sql(text)
    with pytest.raises(duckdb.Error):
        job.connection().execute(text)


def test_when_a_dataset_or_column_is_not_the_jobs_then_the_error_says_so(data):
    with pytest.raises(InvalidRequest, match="branches, loans"):
        job.dataset("people")
    with pytest.raises(InvalidRequest):
        job.dataset("loans", columns=["nope"])


def test_when_a_dry_run_reads_then_the_rows_are_noted_and_never_in_a_job(data, monkeypatch):
    job.dataset("loans")  # not a dry run: nothing noted, nothing counted
    reads = data / "reads.jsonl"
    assert not reads.exists()
    monkeypatch.setenv("SHUYU_JOB_READS", str(reads))
    job.dataset("loans", columns=["id"])
    job.sql("SELECT count(*) FROM branches")
    noted = [json.loads(line) for line in reads.read_text().splitlines()]
    assert noted == [{"dataset": "loans", "rows": ROWS}, {"dataset": "branches", "rows": 7}]


def test_when_a_large_table_is_stored_then_it_is_parts_and_reads_back_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(rawstore, "PART_ROWS", 1_000)
    table = pa.table({"id": range(2_500), "v": [i * 0.5 for i in range(2_500)]})
    stored = rawstore.write(table, tmp_path / "big")
    assert stored == tmp_path / "big"
    assert [p.name for p in rawstore.files(stored)] == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"
    ]  # fmt: skip
    assert pq.read_table(stored).to_pandas().equals(table.to_pandas())
    assert rawstore.write(table.slice(0, 10), tmp_path / "small") == tmp_path / "small.parquet"


def test_when_a_folder_is_hashed_then_the_digest_follows_every_part_and_not_the_place(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(rawstore, "PART_ROWS", 1_000)
    table = pa.table({"id": range(2_500)})
    first, second = rawstore.write(table, tmp_path / "a"), rawstore.write(table, tmp_path / "b")
    assert rawstore.sha256(first) == rawstore.sha256(second)
    pq.write_table(pa.table({"id": [1]}), first / "part-00001.parquet")
    assert rawstore.sha256(first) != rawstore.sha256(second)


def test_when_a_dataset_is_projected_then_only_approved_columns_reach_the_parts(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(rawstore, "PART_ROWS", 1_000)
    monkeypatch.setattr(rawstore, "BATCH_ROWS", 300)
    source = pd.DataFrame({"id": range(2_500), "name": ["n"] * 2_500, "age": range(2_500)})
    source.to_parquet(tmp_path / "people.parquet")
    assert rawstore.project(tmp_path / "people.parquet", ["id", "age"], tmp_path / "out") == 2_500
    parts = rawstore.files(tmp_path / "out")
    assert len(parts) == 3
    back = pd.read_parquet(tmp_path / "out")
    assert list(back.columns) == ["id", "age"] and back["id"].tolist() == list(range(2_500))
    assert all(pq.ParquetFile(p).schema_arrow.names == ["id", "age"] for p in parts)


class _Samples:
    """The SDK's dataset collection at its network boundary: each sample as the gateway gives it."""

    def __init__(self, frames: dict[str, pd.DataFrame]):
        self.frames = frames

    def get(self, name: str, scenario: str | None):
        frame = self.frames[name]
        return type("Entry", (), {"sample": lambda self, scenario: frame})()


def test_when_a_job_is_tried_on_the_samples_then_the_same_api_reads_them_and_notes_rows(
    tmp_path, monkeypatch
):
    import io
    import tarfile

    from sdk.dryrun import dry_run

    for name in ("SHUYU_JOB_DATA", "SHUYU_JOB_CPUS", "SHUYU_JOB_MEMORY_BYTES", "SHUYU_JOB_READS"):
        monkeypatch.delenv(name, raising=False)
    code = (
        b"from sdk import job\n"
        b"big = job.dataset('loans', columns=['amount']).filter('amount > 10').df()\n"
        b"n = job.sql('SELECT count(*) AS n FROM branches').n[0]\n"
        b"job.save_metrics(big=len(big), branches=int(n))\n"
    )
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(code)
        tar.addfile(info, io.BytesIO(code))
    samples = _Samples({
        "loans": pd.DataFrame({"amount": [float(i) for i in range(40)]}),
        "branches": pd.DataFrame({"branch": range(3)}),
    })  # fmt: skip
    seen = dry_run(out.getvalue(), "train.py", samples, ["loans", "branches"], {}, None, 60)
    assert seen.read == {"loans": 40, "branches": 3}
    assert seen.metrics == {"big": 29, "branches": 3}
