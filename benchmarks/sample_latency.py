"""A 10,000-row × 20-column desensitized sample into a DataFrame of a real tenant kernel.

    .venv/bin/python -m benchmarks.sample_latency [--calls 20] [--rows 250000]

A fresh hub (tenant sandbox) with the demo world plus a 20-column dataset of ``--rows`` rows
(names, resident IDs, mobiles, districts, dates, amounts, …; 5 % of 250,000 rows is 12,500, so
the 10,000-row cap applies), approved for alice's scenario. In alice's kernel, the SDK call
``ws.datasets.get("bench_wide").sample()`` is timed inside the kernel: the first call (cold: the
gateway builds and masks the sample) and then ``--calls`` warm calls (the built sample is served
from the gateway's cache; admission, approval, audit and metering still run on every call).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.spawn_latency import login, pct
from hub import home
from hub.db.engine import Database
from hub.demo import pools, world
from hub.ops import Ctx, catalog
from hub.ops.setup import init_home
from tests.e2e.hub_process import HubProcess
from tests.e2e.kernel_client import Kernel, user_token

DATASET = "bench_wide"


def wide_table(rows: int, seed: int = 5) -> pd.DataFrame:
    """Twenty columns: four identifying, three quasi-identifying, thirteen plain."""
    rng = np.random.default_rng(seed)
    people = pools.population(rows, seed)
    frame = {
        "resident_id": people.resident_id,
        "name": people.name,
        "mobile": people.mobile,
        "address": pools.addresses(rng, people.district, pools.faker_pools(seed).streets),
        "gender": people.gender(np.arange(rows)),
        "district": pools.DISTRICT_NAMES[people.district],
        "age": rng.integers(18, 80, rows),
        "visit_date": (np.datetime64("2024-01-01") + rng.integers(0, 366, rows)).astype(str),
    }
    for i in range(12):
        frame[f"measure_{i:02d}"] = np.round(rng.lognormal(3, 1, rows), 2)
    return pd.DataFrame(
        {k: v if v.dtype.kind in "if" else v.astype(object) for k, v in frame.items()}
    )


def make_world(hub_home: Path, rows: int) -> tuple[str, dict[str, str]]:
    db_url = f"sqlite:///{hub_home / 'platform.sqlite'}"
    db = Database(db_url)
    init_home(hub_home, db)
    world.build(hub_home, db, rows=300)
    path = hub_home / f"{DATASET}.parquet"
    wide_table(rows).to_parquet(path)
    with db.session() as s:
        ctx = Ctx(session=s, actor="bench")
        catalog.add_dataset(
            ctx,
            name=DATASET,
            department="市卫生健康委员会",
            level=3,
            file=path,
            raw_dir=home.domain_store(hub_home) / "raw",
            quasi_identifiers=["gender", "district", "age"],
            masks={"age": "generalize:kind=age_band"},
        )
        scenario = catalog.find_scenario(ctx, "普惠健康险定价", world.TENANTS[0]["name"])
        item = catalog.request_item(
            ctx, scenario=scenario, dataset=DATASET, columns=list(wide_table(1).columns)
        )
        catalog.decide(ctx, item.id, "approved", by="paul", reason="benchmark")
    db.dispose()
    logins = json.loads((hub_home / world.LOGINS_FILE).read_text())
    return db_url, {u: v["totp_secret"] for u, v in logins.items()}


TIMED = """
import time, json
from sdk import Workspace
ws = Workspace(scenario="普惠健康险定价")
t0 = time.perf_counter(); df = ws.datasets.get({name!r}).sample(); first = time.perf_counter() - t0
warm = []
for _ in range({calls}):
    t0 = time.perf_counter(); df = ws.datasets.get({name!r}).sample(); warm.append(time.perf_counter() - t0)
only = []
dataset = ws.datasets.get({name!r})
for _ in range({calls}):
    t0 = time.perf_counter(); df = dataset.sample(); only.append(time.perf_counter() - t0)
print(json.dumps({{"first": first, "warm": warm, "sample_only": only, "shape": list(df.shape),
                  "mib": df.memory_usage(deep=True).sum() / 2**20}}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rows", type=int, default=250_000)
    args = parser.parse_args(argv)
    hub_home = Path(tempfile.mkdtemp(prefix="bench-sample-"))
    db_url, secrets = make_world(hub_home, args.rows)
    hub = HubProcess(hub_home, db_url)
    hub.start()
    try:
        b = login(hub, "alice", secrets["alice"])
        b.start_server("alice", timeout=180)
        kernel = Kernel(hub.url, "alice", user_token(b, hub.url, "alice"))
        time.sleep(3)  # let the gateway finish loading the detectors, as a running one has
        result = kernel.execute(TIMED.format(name=DATASET, calls=args.calls), timeout=600)
        data = json.loads(result.out)
        rows, columns = data["shape"]
        print(f"sample {rows:,} rows × {columns} columns ({data['mib']:.1f} MiB in the kernel)")
        print(f"first call (cold, built and masked by the gateway): {data['first'] * 1000:.0f} ms")
        for label, key in (("get() + sample()", "warm"), ("sample() alone", "sample_only")):
            values = data[key]
            print(
                f"warm {label}: p50 {statistics.median(values) * 1000:.0f} ms, "
                f"p95 {pct(values, 0.95) * 1000:.0f} ms over {len(values)} calls"
            )
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
