"""Audit trail: append rate and full-chain verify time, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.audit_trail [--events 1000000] [--single 5000]

Appends are measured two ways: one event per transaction (the hub's login path), and batches of
1,000 events per transaction (bulk imports, busy services). Verify reads and rehashes every event.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

from hub import audit
from hub.db.engine import Database


def _events(n: int, start: int = 0):
    return [
        {
            "action": "login",
            "actor": f"user{(start + i) % 500}",
            "tenant": "tenant-91330106ma2h0a1b2t",
            "object": "bench",
            "outcome": "allowed",
            "details": {"ip": "127.0.0.1", "i": start + i},
        }
        for i in range(n)
    ]


def bench(db: Database, events: int, single: int, threads: int, callers: int = 32) -> dict:
    # one event per transaction, from several threads as concurrent requests would
    per_thread = single // threads

    def writer():
        for _ in range(per_thread):
            with db.session() as s:
                audit.append(s, "login", actor="u", outcome="allowed", details={"ip": "127.0.0.1"})

    t0 = time.perf_counter()
    pool = [threading.Thread(target=writer) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    single_rate = per_thread * threads / (time.perf_counter() - t0)

    # group commit: concurrent callers, each waiting for its own event's commit
    writer = audit.AuditWriter(db)
    group_threads, group_each = callers, max(1, single * 4 // callers)

    def grouped():
        for _ in range(group_each):
            writer.write("gateway.call", actor="u", outcome="ok", details={"rows": 100})

    t0 = time.perf_counter()
    pool = [threading.Thread(target=grouped) for _ in range(group_threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    group_rate = group_threads * group_each / (time.perf_counter() - t0)
    already = per_thread * threads + group_threads * group_each

    # batches of 1,000 per transaction up to `events`
    batch = 1000
    t0 = time.perf_counter()
    done = already
    while done < events:
        n = min(batch, events - done)
        with db.session() as s:
            audit.append_many(s, _events(n, done))
        done += n
    batch_rate = (events - already) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    report = audit.verify(db.engine)
    verify_s = time.perf_counter() - t0
    assert report.ok and report.count == events, report
    return {
        "single_per_s": single_rate,
        "group_per_s": group_rate,
        "batch_per_s": batch_rate,
        "verify_s": verify_s,
        "count": report.count,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--single", type=int, default=4000)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument(
        "--callers", type=int, default=32, help="concurrent callers of the group committer"
    )
    a = p.parse_args()
    for backend in a.backends.split(","):
        if backend == "sqlite":
            tmp = tempfile.mkdtemp()
            db = Database(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
            cleanup = None
        else:
            from tests.pg import pg_available, pg_create_template, pg_drop, pg_from_template

            if not pg_available():
                print("postgres: not reachable, skipped")
                continue
            tpl = pg_create_template()
            name = f"shuyu_bench_{uuid.uuid4().hex[:8]}"
            db = Database(pg_from_template(tpl, name))
            cleanup = (name, tpl)
        r = bench(db, a.events, a.single, a.threads, a.callers)
        print(
            f"{backend}: append one-per-transaction {r['single_per_s']:,.0f}/s ({a.threads} threads); "
            f"group commit {r['group_per_s']:,.0f}/s ({a.callers} callers); append batched {r['batch_per_s']:,.0f}/s; verify {r['count']:,} events in {r['verify_s']:.2f} s"
        )
        db.dispose()
        if cleanup:
            for n in cleanup:
                pg_drop(n)


if __name__ == "__main__":
    main()
