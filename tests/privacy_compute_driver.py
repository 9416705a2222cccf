"""One node of a privacy computation, for tests: runs in the SPU environment, one process per rank.

    python tests/privacy_compute_driver.py SPEC.json RANK TABLE.parquet ADDR0 ADDR1 LINK_ID OUT

Runs :func:`privacy.compute.run` over a real brpc link, writes the result to ``OUT.json``, then
dumps its own memory (every readable, non-library mapping of ``/proc/self/mem``, all-zero chunks
left out) to ``OUT.mem``. The process never learns what the test will search for, so the dump
cannot contain a needle the scan itself put there.
"""

from __future__ import annotations

import ctypes
import gc
import json
import sys
import time
from pathlib import Path

from tests.memory_scan import dump_memory


def main() -> None:
    spec_path, rank, table_path, addr0, addr1, link_id, out = sys.argv[1:8]
    import pandas as pd

    from privacy.compute import run
    from privacy.spec import Computation

    spec = Computation.from_json(Path(spec_path).read_text())
    table = pd.read_parquet(table_path)
    out_path = Path(out)
    started = time.monotonic()
    result = run(spec, int(rank), table, [addr0, addr1], link_id, out_path.parent / f"work{rank}")
    elapsed = time.monotonic() - started
    out_path.with_suffix(".json").write_text(json.dumps({"result": result, "seconds": elapsed}))
    del table, result
    gc.collect()
    # Hand free heap pages back to the kernel: what the process still holds is what is scanned.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    dump_memory(out_path.with_suffix(".mem"))


if __name__ == "__main__":
    main()
