"""Row alignment for MPC: PSI revealing the intersection to both nodes, then the same row order.

Statistics and training need row i at rank 0 and row i at rank 1 to be the same person. Both
nodes learn the intersection (and only it — keys outside stay private), sort it, and each picks
its own rows in that order; the values of the rows stay with their owner until secret-shared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from spu.libspu import link as spu_link

from privacy.compute.errors import ComputeError
from privacy.compute.keys import normalise_column
from privacy.compute.psi import intersect


def aligned_rows(
    link: spu_link.Context,
    table: pd.DataFrame,
    key: str,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """This node's rows of the intersection, in the order both nodes share."""
    normalised = normalise_column(table[key])
    duplicated = normalised[normalised != ""].duplicated()
    # Both nodes must agree to go on, or one would wait forever in PSI.
    flag = b"1" if duplicated.any() else b"0"
    other = link.all_gather(flag.decode())
    if "1" in other:
        raise ComputeError(
            "联合键有重复值，无法按行对齐 / the join key has duplicate values; rows cannot be aligned"
        )
    common = intersect(link, table[key], workdir, (0, 1), progress)
    assert common is not None
    if not common:
        raise ComputeError("交集为空 / the intersection is empty")
    indexed = table.set_index(normalised.rename("__key__"))
    return indexed.loc[common].reset_index(drop=True)
