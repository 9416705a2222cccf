"""One side of one computation, in a process of its own: ``python -m privacy.worker WORKDIR``.

The node (relay, control channel) stays an asyncio process that only moves bytes; the MPC runs
here, so a long C++ call in SPU can never hold the interpreter lock the relay needs to pump the
very brpc bytes that call is waiting for, and a stuck computation can be killed without the node.

``WORKDIR/job.json`` holds ``{"spec", "rank", "table", "parties", "link_id"}``; the worker writes
``WORKDIR/result.json`` (``{"result": …}`` or ``{"error": "中文 / English"}``) and prints
progress as JSON lines ``{"phase", "fraction"}`` on stdout.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privacy.spec import Computation
from privacy.tables import TableError, load

MESSAGE_CHARS = 600


def compute(
    spec: Computation,
    rank: int,
    table: Any,
    parties: list[str],
    link_id: str,
    workdir: Path,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """The one place the nodes call the MPC engine (:func:`privacy.compute.run`)."""
    from privacy.compute import run

    return run(spec, rank, table, parties, link_id, workdir, progress)


def _progress(phase: str, fraction: float) -> None:
    print(json.dumps({"phase": str(phase), "fraction": float(fraction)}), flush=True)


def _die_with_parent() -> None:
    """Linux: end this worker when its node ends, so no computation outlives its relay."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def main(workdir: Path) -> int:
    _die_with_parent()
    job = json.loads((workdir / "job.json").read_text())
    spec = Computation.from_dict(job["spec"])
    rank = int(job["rank"])
    key, columns = (
        (spec.public_key, spec.public_columns)
        if rank == 0
        else (spec.party_key, spec.party_columns)
    )
    out = workdir / "result.json"
    try:
        table = load(Path(job["table"]), key, columns)
        result = compute(spec, rank, table, job["parties"], job["link_id"], workdir, _progress)
    except TableError as e:
        out.write_text(json.dumps({"error": str(e)}, ensure_ascii=False))
        return 2
    except ImportError as e:
        out.write_text(
            json.dumps({"error": f"本节点没有计算引擎 / this node has no MPC engine: {e}"})
        )
        return 1
    except Exception as e:  # noqa: BLE001 - reported to the node, which reports it bilingually
        message = str(e) if type(e).__name__ == "ComputeError" else f"{type(e).__name__}: {e}"
        message = " ".join(message.split("Stacktrace:")[0].split())[:MESSAGE_CHARS]  # SPU's C++
        out.write_text(
            json.dumps(
                {"error": f"计算失败 / the computation failed: {message}"}, ensure_ascii=False
            )
        )
        return 1
    out.write_text(json.dumps({"result": result}, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
