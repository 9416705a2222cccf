"""The MPC engine of a node: PSI, joint statistics and vertical training over SecretFlow SPU.

Runs only in the SPU environment (``.venv-spu``, see :mod:`privacy.environment`). Each node calls
:func:`run` with its own rows; the two calls meet over a brpc link and return what each side may
see: the result at rank 0 (the platform), nothing of the platform's values at rank 1 (the party).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from privacy.compute.errors import ComputeError
from privacy.spec import Computation

__all__ = ["ComputeError", "run"]

Progress = Callable[[str, float], None]


def run(
    spec: Computation,
    rank: int,
    table: pd.DataFrame,
    parties: list[str],
    link_id: str,
    workdir: Path,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run ``spec`` as node ``rank`` (0 platform, 1 party) with this node's ``table``.

    Args:
        table: this node's key column and its own columns of the spec.
        parties: brpc ``HOST:PORT`` of rank 0 and rank 1 as this process sees them.
        link_id: the same on both nodes, different per computation.
        workdir: a private folder for PSI files.

    Returns:
        rank 0: the result (see the contract in ``privacy``); rank 1: ``{"ids": [...]}`` for a
        PSI revealing ids to the party, else a summary holding no platform value.

    Raises:
        ComputeError: bilingual message.
    """
    from privacy.compute import align, logistic, stats, xgboost
    from privacy.compute.session import Session, open_link, runtime_config

    if rank not in (0, 1) or len(parties) != 2:
        raise ComputeError("节点序号或地址有误 / bad rank or party addresses")
    key = spec.public_key if rank == 0 else spec.party_key
    if key not in table.columns:
        raise ComputeError(f"缺少键列 / the key column is missing: {key}")

    def report(phase: str) -> Callable[[float], None]:
        return lambda fraction: progress(phase, fraction) if progress else None

    report("link")(0.0)
    link = open_link(parties, rank, link_id)
    try:
        if spec.kind == "psi":
            return _psi(link, spec, rank, table, key, workdir, report("psi"))
        rows = align.aligned_rows(link, table, key, workdir, report("psi"))
        report("psi")(1.0)
        if spec.kind == "stats":
            session = Session(link, stats.config())
            result = stats.compute(session, spec, rows)
        elif spec.params["model"] == "logistic":
            session = Session(link, runtime_config())
            result = logistic.fit(session, spec, rows)
        else:
            session = Session(link, runtime_config())
            result = xgboost.fit(session, spec, rows, report("train"))
        report("mpc")(1.0)
        return result
    finally:
        link.stop_link()


def _psi(link, spec, rank, table, key, workdir, progress) -> dict[str, Any]:
    from privacy.compute.keys import normalise_column
    from privacy.compute.psi import intersect

    reveal = spec.params["reveal"]
    receiver = 0 if reveal == "size" else 1
    common = intersect(link, table[key], workdir, (receiver,), progress)
    if reveal == "size":
        return {"intersection_size": len(common)} if rank == 0 else {}
    if rank == 1:
        assert common is not None
        wanted = set(common)
        normalised = normalise_column(table[key])
        ids = [
            k for k, n in zip(table[key].tolist(), normalised.tolist(), strict=True) if n in wanted
        ]
        link.send(0, str(len(common)))
        return {"ids": ids}
    return {"intersection_size": int(bytes(link.recv(1)).decode())}
