"""Privacy computing between two node processes over a real brpc link (SPU, CHEETAH, RR22).

    .venv/bin/python -m benchmarks.privacy_compute [--psi 1000000] [--stats 1000000]
        [--lr-rows 100000] [--lr-features 20] [--epochs 10]

Run by hand, not in ``make test`` (minutes on 2 cores). Each computation runs as two processes of
the SPU environment, one per rank, as :func:`privacy.compute.run` runs in the nodes. Their link
passes through two byte-counting TCP forwarders in this process (the stand-in for the nodes'
relay), so "bytes" is everything the two ranks sent each other, both directions, PSI and MPC.
Measured:

- **PSI** of N × N keys (N/2 in common), RR22, size revealed to rank 0;
- **joint statistics** over N joined rows: 4 public groups × 3 party groups, a party sum and a
  public mean (FM128 CHEETAH, one secret matrix product);
- **vertical logistic regression** on rows × features (full-batch gradient descent, ``--epochs``)
  and the same fit in plain numpy in this process: time and ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from privacy.compute.plain import plain_fit, standardise
from privacy.environment import spu_python
from privacy.spec import Computation

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "benchmarks" / "privacy_node.py"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Forwarders:
    """TCP forwarders on loopback that count the bytes passing through, in a thread of their own."""

    def __init__(self) -> None:
        self.bytes = 0
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def add(self, target_port: int) -> int:
        port = _port()

        async def pipe(reader, writer):
            try:
                while data := await reader.read(1 << 16):
                    self.bytes += len(data)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        async def handle(reader, writer):
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        async def start():
            return await asyncio.start_server(handle, "127.0.0.1", port)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result()
        return port


def _spec(kind: str, public_columns, party_columns, params) -> Computation:
    return Computation(
        request_id=1,
        kind=kind,
        party="p-bench",
        tenant="t-bench",
        public_dataset="public",
        public_key="pid",
        public_columns=tuple(public_columns),
        party_table="party",
        party_key="cid",
        party_columns=tuple(party_columns),
        params=params,
    )


def run_pair(folder: Path, spec: Computation, public: pd.DataFrame, party: pd.DataFrame) -> dict:
    """Both ranks as processes through counting forwarders; returns times, bytes and results."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(spec.canonical().decode())
    listen = [_port(), _port()]
    forward = Forwarders()
    via = [forward.add(listen[0]), forward.add(listen[1])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []
    for rank, table in enumerate((public, party)):
        table.to_parquet(folder / f"table{rank}.parquet")
        addresses = [f"127.0.0.1:{listen[0]}", f"127.0.0.1:{listen[1]}"]
        addresses[1 - rank] = f"127.0.0.1:{via[1 - rank]}"
        argv = [str(spu_python()), str(NODE), str(folder / "spec.json"), str(rank)]
        argv += [str(folder / f"table{rank}.parquet"), *addresses, f"bench-{folder.name}"]
        argv += [str(folder / f"out{rank}.json")]
        log = open(folder / f"log{rank}.txt", "wb")  # noqa: SIM115 - closed below
        procs.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    started = time.monotonic()
    for proc, log in procs:
        proc.wait()
        log.close()
    wall = time.monotonic() - started
    for rank, (proc, _) in enumerate(procs):
        if proc.returncode != 0:
            tail = (folder / f"log{rank}.txt").read_text(errors="replace")[-2000:]
            raise SystemExit(f"rank {rank} failed:\n{tail}")
    outs = [json.loads((folder / f"out{r}.json").read_text()) for r in (0, 1)]
    return {
        "wall_s": round(wall, 1),
        "compute_s": round(max(o["seconds"] for o in outs), 1),
        "phases_rank0": outs[0]["phases"],
        "bytes": forward.bytes,
        "peak_mb": [o["peak_mb"] for o in outs],
        "result": outs[0]["result"],
    }


def keys(n: int, start: int) -> list[str]:
    return [f"K{i:09d}" for i in range(start, start + n)]


def bench_psi(folder: Path, n: int, runner=run_pair) -> dict:
    public = pd.DataFrame({"pid": keys(n, 0)})
    party = pd.DataFrame({"cid": keys(n, n // 2)})
    out = runner(folder / "psi", _spec("psi", [], [], {"reveal": "size"}), public, party)
    assert out["result"]["intersection_size"] == n - n // 2
    return out


def bench_stats(folder: Path, n: int, runner=run_pair) -> dict:
    rng = np.random.default_rng(1)
    public = pd.DataFrame(
        {
            "pid": keys(n, 0),
            "district": rng.choice(list("ABCD"), n),
            "f1": rng.normal(100, 10, n),
        }
    )
    party = pd.DataFrame(
        {"cid": keys(n, 0), "segment": rng.choice(list("xyz"), n), "amount": rng.uniform(0, 1e4, n)}
    )
    params = {
        "group_by": [["public", "district"], ["party", "segment"]],
        "measures": [["party", "amount", "sum"], ["public", "f1", "mean"]],
        "min_group": 10,
    }
    spec = _spec("stats", ["district", "f1"], ["segment", "amount"], params)
    out = runner(folder / "stats", spec, public, party)
    joined = public.assign(segment=party["segment"], amount=party["amount"])
    plain = joined.groupby(["district", "segment"])["amount"].sum()
    got = {(r[0], r[1]): r[3] for r in out["result"]["rows"]}
    out["max_abs_error_sum"] = float(max(abs(got[k] - v) for k, v in plain.items()))
    out["result"] = f"{len(out['result']['rows'])} groups"
    return out


def bench_logistic(folder: Path, n: int, d: int, epochs: int, runner=run_pair) -> dict:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n, d))
    beta = rng.normal(size=d)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(x @ beta)))).astype(int)
    features = [f"x{j}" for j in range(d)]
    public = pd.DataFrame(x, columns=features).assign(pid=keys(n, 0))
    party = pd.DataFrame({"cid": keys(n, 0), "label": y})
    params = {
        "features": features,
        "label": "label",
        "model": "logistic",
        "epochs": epochs,
        "learning_rate": 0.5,
    }
    out = runner(folder / "logistic", _spec("train", features, ["label"], params), public, party)
    started = time.monotonic()
    xs, mean, std = standardise(x)
    w, b = plain_fit(xs, y.astype(float), epochs, 0.5)
    plain = time.monotonic() - started
    coef = np.array(out["result"]["coef"]) * std
    out["plain_numpy_s"] = round(plain, 3)
    out["ratio_mpc_to_numpy"] = round(out["compute_s"] / plain, 1)
    out["max_abs_coef_diff"] = float(np.max(np.abs(coef - w)))
    out["result"] = out["result"]["metrics"]
    return out


def main(runner=run_pair) -> None:
    """Run the benchmarks the arguments name, each computation through ``runner``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--psi", type=int, default=1_000_000)
    parser.add_argument("--stats", type=int, default=1_000_000)
    parser.add_argument("--lr-rows", type=int, default=100_000)
    parser.add_argument("--lr-features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--only", choices=["psi", "stats", "logistic"], action="append")
    args, _ = parser.parse_known_args()
    only = set(args.only or ["psi", "stats", "logistic"])
    with tempfile.TemporaryDirectory(prefix="privacy-bench-") as tmp:
        folder = Path(tmp)
        if "psi" in only:
            print("psi", json.dumps(bench_psi(folder, args.psi, runner)), flush=True)
        if "stats" in only:
            print("stats", json.dumps(bench_stats(folder, args.stats, runner)), flush=True)
        if "logistic" in only:
            out = bench_logistic(folder, args.lr_rows, args.lr_features, args.epochs, runner)
            print("logistic", json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
