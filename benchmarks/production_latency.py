"""The production zone's overheads: an empty training job end to end, and product queries.

    .venv/bin/python -m benchmarks.production_latency [--jobs 10] [--queries 200]

A fresh hub (tenant sandbox) with the demo world. **Jobs**: bob (a public-governance scenario, so
policy approves a job whose checks pass) submits ``--jobs`` empty jobs one after another through
the SDK; each is timed from the submit call to the SDK seeing ``succeeded``, and split by the audit
trail's timestamps into checks and auto-approval, the wait for the production service, and the
sandbox run (bubblewrap, cgroups, projection of the raw input, disclosure of the log). **Products**:
alice trains and publishes a cost model (reviewers approve through the lifecycle); bob, holding a
key, scores one record ``--queries`` times and 100 records ``--queries // 4`` times through the
gateway (admission, key check, model, metering and audit on every call).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from benchmarks.spawn_latency import login, pct
from hub.db.engine import Database
from hub.db.models import AuditEvent
from hub.demo import world
from hub.ops.setup import init_home
from hub.review import lifecycle
from sdk import Workspace
from tests.e2e.hub_process import HubProcess
from tests.e2e.kernel_client import user_token

EMPTY = "pass\n"
TRAIN = """
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sdk import job
frame = job.dataset("medical_visits").df()
x = frame[["age", "gender", "department"]].astype({"age": np.float32})
prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), ["gender", "department"]),
                          ("num", StandardScaler(), ["age"])])
model = make_pipeline(prep, Ridge()).fit(x, frame["cost"])
job.save_model(model, sample=x.head(100), target="cost")
job.save_metrics(rows=len(frame))
"""
CARD = {"intended_use": "基准测试用费用模型 / benchmark cost model", "data": "medical_visits raw rows",
        "metrics": {"rows": "all"}, "limits": "仅用于基准测试 / benchmark only"}  # fmt: skip


def _until(ws_job, wanted: tuple[str, ...], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while ws_job.reload().status not in wanted:
        if time.monotonic() > deadline:
            raise TimeoutError(ws_job.status)
        time.sleep(0.05)


def _stamps(db: Database, request_id: int) -> dict[str, datetime]:
    with db.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.object == f"request:{request_id}"))
        return {e.action.removeprefix("request."): datetime.fromisoformat(e.ts) for e in events}


def _approve(db: Database, request_id: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        with db.session() as s:
            if lifecycle.get(s, request_id).status == "in_review":
                break
        if time.monotonic() > deadline:
            raise TimeoutError(request_id)
        time.sleep(0.1)
    for reviewer in ("rita", "ryan"):
        with db.session() as s:
            lifecycle.decide(
                s, request_id, reviewer, "approve", "基准测试 / benchmark", override=True
            )


def jobs(bob: Workspace, db: Database, count: int, workdir: Path) -> None:
    (workdir / "empty.py").write_text(EMPTY)
    totals, checks, waits, runs = [], [], [], []
    for _ in range(count):
        t0 = time.perf_counter()
        # dry_run=False: the platform's overhead alone, without the client's dry run
        job = bob.jobs.submit("empty.py", files=[], datasets=["transit_trips"],
                              purpose="空作业基准 / empty job benchmark", dry_run=False)  # fmt: skip
        _until(job, ("succeeded", "failed"))
        totals.append(time.perf_counter() - t0)
        st = _stamps(db, job.id)
        checks.append((st["approved"] - st["submitted"]).total_seconds())
        waits.append((st["running"] - st["approved"]).total_seconds())
        runs.append((st["succeeded"] - st["running"]).total_seconds())
    for label, values in (("submit → succeeded (as the SDK sees it)", totals),
                          ("  checks and auto-approval", checks), ("  wait for the production service", waits),
                          ("  sandbox run and release", runs)):  # fmt: skip
        print(f"{label}: p50 {statistics.median(values) * 1000:.0f} ms, p95 {pct(values, 0.95) * 1000:.0f} ms"
              f" over {len(values)} jobs")  # fmt: skip


PER_KEY = 50  # queries on one key: under its calls a minute and records a day


def products(alice: Workspace, bob: Workspace, db: Database, queries: int, workdir: Path) -> None:
    (workdir / "train.py").write_text(TRAIN)
    job = alice.jobs.submit("train.py", files=[], datasets=["medical_visits"],
                            purpose="基准测试训练 / benchmark training", dry_run=False)  # fmt: skip
    _approve(db, job.id)
    _until(job, ("succeeded", "failed"))
    model = alice.models.publish(
        job, product="bench-cost", card=CARD, purpose="基准测试发布 / benchmark"
    )
    _approve(db, model.id)
    _until(model, ("published",))

    # A key may call PER_KEY times a minute (and score so many records a day): the benchmark
    # spreads its queries over fresh keys, as a consumer with several systems would.
    def keys():
        while True:
            key = alice.products.issue_key("bench-cost", consumer="基准测试 / benchmark")
            for _ in range(PER_KEY):
                yield key

    one = [{"age": 40, "gender": "女", "department": "内科"}]
    hundred = one * 100
    bob.products.score("bench-cost", next(keys()), records=one)  # the model is loaded once
    for label, records, n in (
        ("1 record", one, queries),
        ("100 records", hundred, max(1, queries // 4)),
    ):
        times = []
        for _, key in zip(range(n), keys(), strict=False):
            t0 = time.perf_counter()
            bob.products.score("bench-cost", key, records=records)
            times.append(time.perf_counter() - t0)
        print(f"product score, {label}: p50 {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {pct(times, 0.95) * 1000:.1f} ms over {n} queries")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    hub_home = Path(tempfile.mkdtemp(prefix="bench-production-"))
    db_url = f"sqlite:///{hub_home / 'platform.sqlite'}"
    db = Database(db_url)
    init_home(hub_home, db)
    world.build(hub_home, db, rows=1000)
    secrets = {
        u: v["totp_secret"]
        for u, v in json.loads((hub_home / world.LOGINS_FILE).read_text()).items()
    }
    hub = HubProcess(hub_home, db_url)
    hub.start()
    try:
        gateway = f"http://127.0.0.1:{hub.env['SHUYU_GATEWAY_PORT']}"
        ws = {}
        for user, scenario in (("alice", "普惠健康险定价"), ("bob", None)):
            b = login(hub, user, secrets[user])
            ws[user] = Workspace(gateway, user_token(b, hub.url, user), scenario=scenario)
        time.sleep(3)  # let the services finish loading the detectors, as running ones have
        os.chdir(hub_home)  # the SDK bundles code from the working folder, as in a workspace
        jobs(ws["bob"], db, args.jobs, hub_home)
        products(ws["alice"], ws["bob"], db, args.queries, hub_home)
    finally:
        hub.stop()
        db.dispose()


if __name__ == "__main__":
    main()
