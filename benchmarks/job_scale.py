"""Jobs that scale past memory: a 50-million-row table grouped and joined in one production job
under a 2 GiB memory limit, LightGBM trained on 2 million rows in the same job.

    .venv/bin/python -m benchmarks.job_scale [--rows 50000000] [--train-rows 2000000]

Run by hand as root (the production sandbox), not in ``make test``; it takes several minutes
and about 3 GB of disk under ``--dir`` (default: a temporary folder, removed at the end).

A temporary domain store holds ``facts`` (id, grp, amount and five features; stored as a folder
of Parquet parts, as the raw store keeps a large table) and ``regions`` (one row per grp, for the
join). The production zone's own steps run it: the input hashed for the run record, projected to
its approved columns (streaming), then the job in its sandbox (bubblewrap, cgroups with
``--memory-gb`` and ``--cpus``, seccomp, its scratch volume). Measured:

- **lazy job**: ``job.dataset``/``job.sql`` group-by and join, then LightGBM on ``--train-rows``
  rows × 20 features (five stored, fifteen derived in SQL), each phase timed inside the job;
- **old path**: the same group-by as ``pd.read_parquet`` of the whole table, in a job under the
  same limits: whether it runs out of memory, or its time;
- **outside**: the same DuckDB queries on the same files with the same threads and memory limit,
  and the same LightGBM fit, in a plain interpreter with the job's thread settings (no sandbox,
  no cgroup): the sandbox's overhead.

The machine may be shared: lazy jobs and plain runs alternate ``--repeat`` times and each side's
best time is compared; each plain run prints the load average it saw.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from hub import rawstore
from hub.production import executor, jobs, sandbox
from hub.production.executor import system_paths
from hub.production.rules import ProductionRules
from spawner import seccomp
from spawner.job_policy import build_job

GROUPS = 1_000
FEATURES = 20
QUERIES = {
    "group_by": "SELECT grp, count(*) AS n, sum(amount) AS total, avg(f1) AS f1 "
    "FROM facts GROUP BY grp",
    "join": "SELECT r.region, count(*) AS n, avg(f.amount) AS mean_amount "
    "FROM facts f JOIN regions r USING (grp) WHERE f.f2 > 0.1 GROUP BY r.region",
}
# Twenty features: the five stored and fifteen derived; the label depends on a few of them.
TRAIN_SQL = (
    "SELECT f1, f2, f3, f4, f5, f1*f2 AS x1, f2*f3 AS x2, f3*f4 AS x3, f4*f5 AS x4, f1*f5 AS x5, "
    "f1*f1 AS s1, f2*f2 AS s2, f3*f3 AS s3, f4*f4 AS s4, f5*f5 AS s5, f1+f2 AS a1, f3-f4 AS a2, "
    "abs(f5-f1) AS a3, ln(1+f2) AS l1, (grp % 17)::DOUBLE AS g17, "
    "(amount > 500 + 300*f1 - 200*f3)::INT AS label FROM facts WHERE id < {rows}"
)
LGB = {"objective": "binary", "num_leaves": 63, "learning_rate": 0.1, "verbose": -1}
ROUNDS = 100
REPEAT = 3  # each query's time is the median of so many runs

LAZY_JOB = f"""
import json, time
t0 = time.perf_counter()
from sdk import job
timings = {{}}
t = time.perf_counter()
job.connection()  # DuckDB imported, configured, a view per dataset: timed apart from the queries
timings["connect"] = time.perf_counter() - t
for name, text in {QUERIES!r}.items():
    runs = []
    for _ in range({REPEAT}):
        t = time.perf_counter()
        rows = len(job.sql(text))
        runs.append(time.perf_counter() - t)
    timings[name] = sorted(runs)[len(runs) // 2]
    timings[name + "_rows"] = rows
# the same group-by through the relation API, lazily
t = time.perf_counter()
rel = job.dataset("facts", columns=["grp", "amount"]).aggregate("grp, sum(amount) AS total", "grp")
timings["relation_group_by_rows"] = len(rel.df())
timings["relation_group_by"] = time.perf_counter() - t
t = time.perf_counter()
frame = job.sql({TRAIN_SQL!r}.format(rows=job.params()["train_rows"]))
timings["train_rows_to_pandas"] = time.perf_counter() - t
import lightgbm as lgb
t, cpu = time.perf_counter(), time.process_time()
booster = lgb.train({{**{LGB!r}, "num_threads": job.params()["threads"]}},
                    lgb.Dataset(frame.drop(columns="label"), frame["label"]), {ROUNDS})
timings["lightgbm_fit"] = time.perf_counter() - t
timings["lightgbm_fit_cpu"] = time.process_time() - cpu
timings["train_shape"] = list(frame.shape)
timings["in_job"] = time.perf_counter() - t0
import resource
timings["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
json.dump(timings, open(job.output("timings.json"), "w"))
"""

PANDAS_JOB = """
import json, time
t0 = time.perf_counter()
import pandas as pd
from sdk import job
frame = pd.read_parquet("/data/facts.parquet")  # the old job.dataset: the whole table in memory
out = frame.groupby("grp").agg(n=("id", "size"), total=("amount", "sum"), f1=("f1", "mean"))
json.dump({"group_by_rows": len(out), "in_job": time.perf_counter() - t0},
          open(job.output("timings.json"), "w"))
"""


def build_tables(raw: Path, rows: int) -> None:
    """``facts`` as a folder of Parquet parts and ``regions`` as one file, written by DuckDB."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SELECT setseed(0.42)")
    facts = raw / "facts"
    con.execute(f"""
        COPY (SELECT i AS id, (hash(i) % {GROUPS})::INTEGER AS grp, round(random() * 1000, 2) AS amount,
                     random()::FLOAT AS f1, random()::FLOAT AS f2, random()::FLOAT AS f3,
                     random()::FLOAT AS f4, random()::FLOAT AS f5
              FROM range({rows}) t(i))
        TO '{facts}' (FORMAT parquet, FILE_SIZE_BYTES '64MB', ROW_GROUP_SIZE {rawstore.GROUP_ROWS})
    """)  # fmt: skip
    con.execute(f"""
        COPY (SELECT g AS grp, 'region_' || (g % 30) AS region FROM range({GROUPS}) t(g))
        TO '{raw / "regions.parquet"}' (FORMAT parquet)
    """)  # fmt: skip
    con.close()


def run_job(store: Path, job_id: int, code: str, params: dict, resources: dict,
            rules: ProductionRules, bpf: Path) -> tuple[dict, float, dict]:  # fmt: skip
    """One job through the production zone's steps; (timings it wrote, wall s, step times)."""
    folder = store / "jobs" / str(job_id)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "output").mkdir(parents=True, mode=0o700)
    (folder / "code").mkdir()
    (folder / "code" / "main.py").write_text(textwrap.dedent(code))
    (folder / "params.json").write_text(json.dumps(params))
    raw = {"facts": store / "raw" / "facts", "regions": store / "raw" / "regions.parquet"}
    steps = {}
    t = time.perf_counter()
    for path in raw.values():
        executor._file_sha(path)
    steps["hash_inputs"] = time.perf_counter() - t
    columns = {"facts": ["id", "grp", "amount", "f1", "f2", "f3", "f4", "f5"],
               "regions": ["grp", "region"]}  # fmt: skip
    t = time.perf_counter()
    inputs = executor._project({n: (p, columns[n]) for n, p in raw.items()}, folder / "inputs")
    steps["project_inputs"] = time.perf_counter() - t
    job = build_job(
        job_id=job_id, tenant="bench", entrypoint="main.py", code_dir=str(folder / "code"),
        output_dir=str(folder / "output"), params_file=str(folder / "params.json"), inputs=inputs,
        limits=jobs.limits(resources, rules), system_paths=system_paths(), python=sys.executable,
    )  # fmt: skip
    result = sandbox.run(job, folder / "run", folder / "log.txt", bpf)
    steps["sandbox_run"] = result.seconds
    timings_file = folder / "output" / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    timings["exit_code"], timings["timed_out"] = result.exit_code, result.timed_out
    if result.exit_code != 0:
        timings["log_tail"] = (folder / "log.txt").read_text(errors="replace")[-600:]
    return timings, result.seconds, steps


def outside(inputs: Path, threads: int, memory_bytes: int, train_rows: int, scratch: Path) -> dict:
    """The same queries and fit on the same (projected) files, with no sandbox."""
    import duckdb
    import lightgbm as lgb

    limit = f"{int(memory_bytes * 0.6) >> 20}MiB"
    con = duckdb.connect(config={"threads": threads, "memory_limit": limit,
                                 "temp_directory": str(scratch)})  # fmt: skip
    con.execute("SET enable_progress_bar = false")
    for name in ("facts", "regions"):
        files = ", ".join(f"'{p}'" for p in rawstore.files(inputs / f"{name}.parquet"))
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{files}])")
    timings: dict = {"load_average": os.getloadavg()}
    for name, text in QUERIES.items():
        runs = []
        for _ in range(REPEAT):
            t = time.perf_counter()
            con.sql(text).df()
            runs.append(time.perf_counter() - t)
        timings[name] = sorted(runs)[len(runs) // 2]
    frame = con.sql(TRAIN_SQL.format(rows=train_rows)).df()
    t, cpu = time.perf_counter(), time.process_time()
    lgb.train({**LGB, "num_threads": threads},
              lgb.Dataset(frame.drop(columns="label"), frame["label"]), ROUNDS)  # fmt: skip
    timings["lightgbm_fit"] = time.perf_counter() - t
    timings["lightgbm_fit_cpu"] = time.process_time() - cpu
    con.close()
    return timings


def outside_process(inputs: Path, threads: int, memory_gb: float, train_rows: int, scratch: Path) -> dict:  # fmt: skip
    """:func:`outside` in a fresh interpreter with the job's thread settings (no sandbox, no
    cgroup): the same process shape as the job, so only the sandbox differs."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    argv = [sys.executable, "-m", "benchmarks.job_scale", "--outside", str(inputs),
            "--cpus", str(threads), "--memory-gb", str(memory_gb), "--train-rows", str(train_rows),
            "--dir", str(scratch)]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--train-rows", type=int, default=2_000_000)
    parser.add_argument("--memory-gb", type=float, default=2.0)
    parser.add_argument("--cpus", type=float, default=2.0)
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary store goes")
    parser.add_argument("--repeat", type=int, default=2, help="lazy jobs and plain runs")
    parser.add_argument("--outside", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.outside:  # the child of outside_process
        memory = int(args.memory_gb * 1024**3)
        timings = outside(args.outside, int(args.cpus), memory, args.train_rows, args.dir)
        print(json.dumps(timings))
        return
    root = Path(tempfile.mkdtemp(prefix="bench-job-scale-", dir=args.dir))
    store = root / "domain"
    (store / "raw").mkdir(parents=True)
    # The benchmark's own rules: enough wall time for the whole-table path to show what it does.
    rules = ProductionRules(max_cpus=args.cpus, max_memory_gb=args.memory_gb,
                            max_seconds=args.seconds)  # fmt: skip
    resources = {"cpus": args.cpus, "memory_gb": args.memory_gb, "seconds": args.seconds}
    threads = max(1, int(args.cpus))
    params = {"train_rows": args.train_rows, "threads": threads}
    try:
        t = time.perf_counter()
        build_tables(store / "raw", args.rows)
        size = sum(p.stat().st_size for p in (store / "raw").rglob("*.parquet"))
        print(f"built {args.rows:,} rows in {time.perf_counter() - t:.1f} s "
              f"({size / 1e9:.2f} GB of Parquet, {len(rawstore.files(store / 'raw' / 'facts'))} parts)")  # fmt: skip
        bpf = seccomp.write_filter(root / "job.bpf")
        old, old_wall, _ = run_job(store, 1, PANDAS_JOB, params, resources, rules, bpf)
        killed = old["exit_code"] not in (0, None) and "in_job" not in old
        print(f"old whole-table pandas job: exit {old['exit_code']}, sandbox run {old_wall:.1f} s, "
              + ("killed (out of memory)" if killed else f"in the job {old.get('in_job', 0):.1f} s"))  # fmt: skip
        scratch = root / "scratch-outside"
        scratch.mkdir()
        # The machine is shared: sandboxed and plain runs alternate, and each side's best counts.
        lazy_runs, plain_runs = [], []
        for n in range(args.repeat):
            lazy, wall, steps = run_job(store, 2 + n, LAZY_JOB, params, resources, rules, bpf)
            print(f"lazy job #{n + 1} ({args.memory_gb} GiB, {args.cpus} CPUs): exit "
                  f"{lazy['exit_code']}, sandbox run {wall:.1f} s; zone steps: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))  # fmt: skip
            print("  in the job: " + json.dumps({k: round(v, 2) if isinstance(v, float) else v
                                                 for k, v in lazy.items()}))  # fmt: skip
            plain = outside_process(store / "jobs" / "2" / "inputs", threads, args.memory_gb,
                                    args.train_rows, scratch)  # fmt: skip
            print("  outside: " + json.dumps({k: round(v, 2) if isinstance(v, float) else v
                                              for k, v in plain.items()}))  # fmt: skip
            lazy_runs.append(lazy)
            plain_runs.append(plain)
        for name in (*QUERIES, "lightgbm_fit", "lightgbm_fit_cpu"):
            inside = min(r[name] for r in lazy_runs)
            best = min(r[name] for r in plain_runs)
            print(f"{name} (best of {args.repeat}): in the sandbox {inside:.2f} s, outside "
                  f"{best:.2f} s, overhead {inside / best:.2f}x")  # fmt: skip
        both = sum(min(r[n] for r in lazy_runs) for n in QUERIES) / sum(
            min(r[n] for r in plain_runs) for n in QUERIES
        )
        print(f"group-by + join: sandbox / plain DuckDB = {both:.2f}x (goal <= 1.3x)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
