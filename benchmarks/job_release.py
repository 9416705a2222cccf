"""The release gate on the largest things a job may show its tenant.

    .venv/bin/python -m benchmarks.job_release

A benign training log of 256 KB (the tail the tenant sees), a metrics file of 2,000 numbers under
500 keys, and 1,000 output names, screened against the raw medical_visits table (100,000 rows, as
in the demo); then the same log with every other line carrying a raw ID written with dots (the
attacker's job pays for the per-line attribution). Timed warm: detectors loaded, raw identifiers
cached. Target: a clean job's release in under 10 s on 2 cores.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from hub.demo.datasets import generate, get_spec
from hub.production import disclosure
from hub.production.gate import Gate
from hub.review.checks import Context, RawSource


def timed(label: str, fn) -> object:
    start = time.perf_counter()
    result = fn()
    print(f"{label:<40} {time.perf_counter() - start:7.2f} s")
    return result


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-release-"))
    raw_path = folder / "medical_visits.parquet"
    frame = generate("medical_visits", 100_000, seed=3)
    frame.to_parquet(raw_path)
    ids = tuple(c["name"] for c in get_spec("medical_visits").schema() if c.get("pii") in
                ("resident_id", "mobile"))  # fmt: skip
    gate = Gate(Context(raw=(RawSource("medical_visits", str(raw_path), ids, ()),)))
    disclosure.release_log(b"warm up\n", gate)
    lines, i = [], 0
    while sum(map(len, lines)) < disclosure.MAX_LOG:
        lines.append(
            f"epoch {i} step {i * 37 % 1000} loss {1 / (i + 2):.6f} auc {0.5 + i / 1e5:.4f} 科室 内科\n"
        )
        i += 1
    log = "".join(lines).encode()
    shown = timed(f"clean log ({len(lines)} lines)", lambda: disclosure.release_log(log, gate))
    print(f"  withheld lines: {len(shown.held)}; masked in place: {shown.extra['masked']}")
    metrics = {f"group_{k}": [round(k * 1.37 + j, 3) for j in range(4)] for k in range(500)}
    timed("metrics (500 keys, 2,000 numbers)",
          lambda: disclosure.release_metrics(json.dumps(metrics).encode(), 10, gate))  # fmt: skip
    found = [
        {"name": f"part/{k:04d}.parquet", "bytes": 1000 + k, "sha256": "0" * 64}
        for k in range(1000)
    ]
    timed("outputs (1,000 names)", lambda: disclosure.release_outputs(found, gate))
    leaked = frame["patient_id"].head(len(lines) // 2).tolist()
    attack = "".join(f"holder {'.'.join(v)}\n" if n % 2 else line
                     for n, (line, v) in enumerate(zip(lines, leaked * 2, strict=False)))  # fmt: skip
    shown = timed("attack log (every other line an ID)",
                  lambda: disclosure.release_log(attack.encode()[: disclosure.MAX_LOG], gate))  # fmt: skip
    print(f"  withheld lines: {len(shown.held)}; masked in place: {shown.extra['masked']}")


if __name__ == "__main__":
    main()
