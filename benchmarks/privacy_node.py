"""One node of a privacy-computing benchmark (runs in the SPU environment, one process per rank).

    .venv-spu/bin/python benchmarks/privacy_node.py SPEC.json RANK TABLE.parquet ADDR0 ADDR1 LINK OUT

Writes ``OUT`` as JSON: the rank-0/rank-1 result, wall seconds of :func:`privacy.compute.run`,
peak RSS, and each phase's first progress time.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    spec_path, rank, table_path, addr0, addr1, link_id, out = sys.argv[1:8]
    import pandas as pd

    from privacy.compute import run
    from privacy.spec import Computation

    spec = Computation.from_json(Path(spec_path).read_text())
    table = pd.read_parquet(table_path)
    started = time.monotonic()
    phases: dict[str, float] = {}

    def progress(phase: str, fraction: float) -> None:
        phases.setdefault(phase, round(time.monotonic() - started, 2))

    result = run(spec, int(rank), table, [addr0, addr1], link_id, Path(out).parent, progress)
    seconds = time.monotonic() - started
    if "ids" in result:
        result = {"ids": len(result["ids"])}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    Path(out).write_text(
        json.dumps({"result": result, "seconds": seconds, "phases": phases, "peak_mb": peak})
    )


if __name__ == "__main__":
    main()
