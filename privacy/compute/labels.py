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


def metrics_program(p, y):
    """Log loss and accuracy of predictions ``p`` against secret labels ``y`` (inside MPC)."""
    import jax.numpy as jnp

    eps = 1e-4
    q = jnp.clip(p, eps, 1 - eps)
    loss = -jnp.mean(y * jnp.log(q) + (1 - y) * jnp.log(1 - q))
    accuracy = jnp.mean(jnp.where(p > 0.5, y, 1 - y))
    return loss, accuracy
