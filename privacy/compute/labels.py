"""The party's label as 0/1 floats (its own rows, before secret sharing)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from privacy.compute.errors import ComputeError


def binary(column: pd.Series) -> np.ndarray:
    values = column.map(lambda v: {True: 1.0, False: 0.0}.get(v, v) if isinstance(v, bool) else v)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any() or not numeric.isin([0.0, 1.0]).all():
        raise ComputeError("标签须为 0/1 且无缺失 / the label must be 0/1 with no missing values")
    return numeric.to_numpy(dtype=np.float64)


def metrics(session, p: np.ndarray | None, y_name: str, n: int) -> tuple[float, float] | None:
    """Training log loss and accuracy of rank 0's predictions ``p`` against the secret label.

    Both are linear in ``y`` once rank 0 knows ``p`` (it holds the opened model and the
    features): ``loss = -(y·logit(p) + Σ log(1-p)) / n`` and
    ``accuracy = (y·(2ŷ-1) + Σ(1-ŷ)) / n``. So one secret product ``y @ V`` with rank 0's
    ``V = [logit(p), 2ŷ-1]`` gives both, opened to rank 0 — no per-row log or comparison in MPC.
    """
    if session.rank == 0:
        q = np.clip(p, 1e-4, 1 - 1e-4)
        hat = (p > 0.5).astype(np.float64)
        v = np.stack([np.log(q) - np.log(1 - q), 2 * hat - 1], axis=1)
    else:
        v = None
    v_name = session.share(0, v, "metrics_v")
    outputs, _ = session.run(lambda y, v: y @ v, [y_name, v_name], [np.zeros(n), np.zeros((n, 2))])
    opened = session.reveal(outputs)
    session.drop([v_name, *outputs])
    if session.rank != 0:
        return None
    yv = np.asarray(opened[0], dtype=np.float64)
    loss = -(yv[0] + np.log(1 - q).sum()) / n
    accuracy = (yv[1] + (1 - hat).sum()) / n
    return float(loss), float(accuracy)
