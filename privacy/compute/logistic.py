"""Vertical logistic regression: features at rank 0, the label at rank 1, the fit under MPC.

Rank 0 standardises its own features in plaintext (it owns them), secret-shares them; rank 1
secret-shares its 0/1 label. Full-batch gradient descent runs as one SPU program (jax, compiled
by SPU's frontend, a ``fori_loop`` over epochs), so every intermediate — margins, predictions,
residuals, gradients — stays secret-shared. Only the final weights are opened, to rank 0, which maps them back to the original feature
scale; the training log loss and accuracy follow from one more secret product
(:func:`privacy.compute.labels.metrics`). The sigmoid inside MPC is SEG3 by default (0.5 + x/8 clipped to
[0, 1], SPU's own approximation, two comparisons); ``params["sigmoid"] = "exact"`` computes
1/(1+e^-x), an exponential and a reciprocal per row per epoch: ~45 s per epoch at 100k rows on
2 cores. The reported log loss and accuracy are those of the opened model with the exact
sigmoid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privacy.compute.errors import ComputeError
from privacy.compute.labels import binary, metrics
from privacy.compute.plain import standardise
from privacy.compute.session import Session
from privacy.spec import Computation


def feature_matrix(rows: pd.DataFrame, features: list[str]) -> np.ndarray:
    try:
        x = rows[features].apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError) as e:
        raise ComputeError("特征须为数值 / features must be numeric") from e
    if np.isnan(x).any():
        means = np.nanmean(x, axis=0)
        x = np.where(np.isnan(x), np.nan_to_num(means)[None, :], x)
    return x


def scaled(v, factor: float, anchor):
    """``v * factor`` for a small public ``factor`` (like 1/n) without losing it to fixed point.

    With 18 fraction bits, 1/100000 would be encoded as 3/2¹⁸ (14% off). Powers of two are
    exact, so the factor is applied as 1/16 steps until what is left is at least 1/64. Each
    1/16 is derived from ``anchor`` (a secret scalar times 0) so that XLA cannot fold the steps
    back into the one tiny constant.
    """
    sixteenth = anchor * 0.0 + 0.0625
    while factor < 1 / 64:
        v = v * sixteenth
        factor *= 16
    return v * factor


def fit(session: Session, spec: Computation, rows: pd.DataFrame) -> dict[str, Any]:
    params = spec.params
    features = list(params["features"])
    epochs = int(params.get("epochs", 30))
    lr = float(params.get("learning_rate", 0.5))
    approximate = params.get("sigmoid", "seg3") != "exact"
    n, d = len(rows), len(features)
    rank = session.rank

    if rank == 0:
        x, mean, std = standardise(feature_matrix(rows, features))
        xs = session.share(0, x, "lr_x")
        ys = session.share(1, None, "lr_y")
    else:
        xs = session.share(0, None, "lr_x")
        ys = session.share(1, binary(rows[params["label"]]), "lr_y")

    def program(x, y):
        import jax
        import jax.numpy as jnp

        def sigmoid(z):
            if approximate:
                return jnp.clip(0.5 + 0.125 * z, 0.0, 1.0)
            return jax.nn.sigmoid(z)

        def step(_, wb):
            w, b = wb
            p = sigmoid(x @ w + b)
            r = p - y
            return w - scaled(x.T @ r, lr / n, y[0]), b - scaled(jnp.sum(r), lr / n, y[0])

        return jax.lax.fori_loop(0, epochs, step, (jnp.zeros(d), jnp.zeros(())))

    outputs, _ = session.run(program, [xs, ys], [np.zeros((n, d)), np.zeros(n)])
    opened = session.reveal(outputs)
    session.drop([xs, *outputs])
    if rank == 0:
        w, b = (np.asarray(v, dtype=float) for v in opened)
        p = 1.0 / (1.0 + np.exp(-(x @ w + float(b))))
    else:
        p = None
    scores = metrics(session, p, ys, n)
    session.drop([ys])
    if rank != 0:
        return {"rows": n}
    loss, accuracy = scores
    coef = w / std
    intercept = float(b) - float(np.sum(w * mean / std))
    return {
        "model": "logistic",
        "features": features,
        "coef": [float(c) for c in coef],
        "intercept": intercept,
        "metrics": {"rows": n, "log_loss": loss, "accuracy": accuracy},
    }
