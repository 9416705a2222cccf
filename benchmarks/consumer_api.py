"""The consumer API through the public port: the real hub, its proxy and the products service.

    flock /tmp/shuyu-e2e.lock .venv/bin/python -m benchmarks.consumer_api [--single 300]

A consumer holding only a product key (limits on: its own 100,000 calls a minute and 10 million
records a day, checked on every call from the metered calls) calls a registered product of the
demo world (``cost ≈ 10 + 2 × age`` keyed by ``patient_id``) over one keep-alive connection.
Every call is admitted, rate-checked, answered, metered at the registered price and audited in
one transaction (SQLite). Reported: p50/p95 latency of one-record scoring, records per second in
batches of 1,000, and 核验 of 1,000 identifiers per call (half present), each call with a key of
its own (the sweep rule stops a key after 2,000 identifiers a day).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests

from hub.db.engine import Database
from hub.demo import world
from hub.ops.setup import init_home
from tests import consumer_world as cw
from tests.e2e.hub_process import HubProcess

LIMITS = {"calls_per_minute": 100_000, "records_per_day": 10_000_000}


def _timed(session: requests.Session, url: str, key: str, body: dict) -> float:
    start = time.perf_counter()
    answer = session.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    elapsed = time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
    return elapsed


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def main(single: int = 300, batches: int = 20, verifies: int = 10) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-consumer-"))
    url = f"sqlite:///{home / 'platform.sqlite'}"
    db = Database(url)
    init_home(home, db)
    world.build(home, db, rows=5000)
    cw.publish(db, home, "visit-score")
    cw.register(db, "visit-score", 0.01, "条")
    key = cw.issue(db, "visit-score", "基准测试", **LIMITS)
    present = cw.present_ids(home, 500)
    proc = HubProcess(home, url)
    proc.start()
    try:
        base = f"{proc.url}/services/products/api/v1/visit-score"
        session = requests.Session()
        deadline = time.monotonic() + 60
        while session.get(f"{proc.url}/services/products/api/v1/openapi.json", timeout=10).status_code != 200:  # fmt: skip
            if time.monotonic() > deadline:
                raise TimeoutError("the products service did not come up")
            time.sleep(0.5)
        for _ in range(5):  # warm: the model's session, the connection
            _timed(session, f"{base}/score", key, {"records": [{"age": 40}]})
        one = [_timed(session, f"{base}/score", key, {"records": [{"age": 20 + n % 60}]}) for n in range(single)]  # fmt: skip
        batch = [{"age": 20 + n % 60} for n in range(1000)]
        many = [_timed(session, f"{base}/score", key, {"records": batch}) for _ in range(batches)]
        ids = present + [f"3301061990{n:08d}" for n in range(1000 - len(present))]
        own_keys = [cw.issue(db, "visit-score", f"核验基准{n}", **LIMITS) for n in range(verifies)]
        checks = [_timed(session, f"{base}/verify", k, {"keys": ids}) for k in own_keys]
        print(f"one record, score: p50 {_pct(one, 0.5):.1f} ms, p95 {_pct(one, 0.95):.1f} ms "
              f"({single} calls)")  # fmt: skip
        print(f"batches of 1,000: {1000 * batches / sum(many):,.0f} records/s "
              f"(p50 {_pct(many, 0.5):.0f} ms a call, {batches} calls)")  # fmt: skip
        print(f"核验 of 1,000 identifiers: p50 {_pct(checks, 0.5):.0f} ms, p95 "
              f"{_pct(checks, 0.95):.0f} ms a call, {1000 * verifies / sum(checks):,.0f} ids/s "
              f"({verifies} calls)")  # fmt: skip
        print(f"mean one-record latency {statistics.mean(one) * 1000:.1f} ms")
    finally:
        proc.stop()
        db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--verifies", type=int, default=10)
    args = parser.parse_args()
    main(args.single, args.batches, args.verifies)
