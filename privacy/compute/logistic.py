"""Vertical logistic regression: features at rank 0, the label at rank 1, the fit under MPC.

Rank 0 standardises its own features in plaintext (it owns them), secret-shares them; rank 1
secret-shares its 0/1 label. Full-batch gradient descent runs as one SPU program (jax, compiled
by SPU's frontend, a ``fori_loop`` over epochs), so every intermediate — margins, predictions,
residuals, gradients — stays secret-shared. Only the final weights, the training log loss and
accuracy are opened, to rank 0, which maps the weights back to the original feature scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privacy.compute.errors import ComputeError
from privacy.compute.labels import binary, metrics_program
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


def fit(session: Session, spec: Computation, rows: pd.DataFrame) -> dict[str, Any]:
    params = spec.params
    features = list(params["features"])
    epochs = int(params.get("epochs", 30))
    lr = float(params.get("learning_rate", 0.5))
    n, d = len(rows), len(features)
    rank = session.rank

    if rank == 0:
        x, mean, std = standardise(feature_matrix(rows, features))
        xs = session.share(0, x, "lr_x")
        del x
        ys = session.share(1, None, "lr_y")
    else:
        xs = session.share(0, None, "lr_x")
        ys = session.share(1, binary(rows[params["label"]]), "lr_y")

    def program(x, y):
        import jax
        import jax.numpy as jnp

        def step(_, wb):
            w, b = wb
            p = jax.nn.sigmoid(x @ w + b)
            r = p - y
            return w - lr * (x.T @ r) / n, b - lr * jnp.mean(r)

        w, b = jax.lax.fori_loop(0, epochs, step, (jnp.zeros(d), jnp.zeros(())))
        p = jax.nn.sigmoid(x @ w + b)
        loss, accuracy = metrics_program(p, y)
        return w, b, loss, accuracy

    outputs, _ = session.run(program, [xs, ys], [np.zeros((n, d)), np.zeros(n)])
    opened = session.reveal(outputs)
    session.drop([xs, ys, *outputs])
    if rank != 0:
        return {"rows": n}
    assert opened is not None
    w, b, loss, accuracy = (np.asarray(v, dtype=float) for v in opened)
    coef = w / std
    intercept = float(b) - float(np.sum(w * mean / std))
    return {
        "model": "logistic",
        "features": features,
        "coef": [float(c) for c in coef],
        "intercept": intercept,
        "metrics": {"rows": n, "log_loss": float(loss), "accuracy": float(accuracy)},
    }
