"""Secret-shared gradient boosting (SecretFlow's SS-XGB idea), small: depth <= 3, a few trees.

The label stays secret-shared at all times. Rank 0 owns every feature, so it bins them in
plaintext and, once a split is chosen, knows which rows fall in which node. What needs the label
runs under MPC: the gradients ``g = p - y`` (``p`` the model's current prediction, ``y`` secret),
the per-(node, feature, bin) gradient sums ``Mᵀ g`` (``M`` rank 0's node-by-bin indicators), the
split gains and their arg-max per node, and the leaf weights. Opened to rank 0: the chosen split
of each node and the leaf weights — the model itself. Hessians ``p(1-p)`` need no label: once
rank 0 holds the model it could recompute them, so they enter the MPC as rank 0's input.

The model it opens says ``Σ g`` per leaf (weight × (Σh + λ)), i.e. the label sum of each leaf;
``min_leaf`` (default 20 rows) keeps leaves from shrinking to single people. Rank 1 learns
nothing but the agreed shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from privacy.compute.errors import ComputeError
from privacy.compute.labels import binary, metrics
from privacy.compute.logistic import feature_matrix
from privacy.compute.session import Session
from privacy.spec import MAX_DEPTH, MAX_TREES

NEG = -1e6


def _bins(x: np.ndarray, count: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Quantile bins per feature: codes (n, d) in [0, count) and the interior edges."""
    codes = np.zeros(x.shape, dtype=np.int64)
    edges = []
    for j in range(x.shape[1]):
        e = np.unique(np.quantile(x[:, j], np.linspace(0, 1, count + 1)[1:-1]))
        edges.append(e)
        codes[:, j] = np.searchsorted(e, x[:, j], side="right")
    return codes, edges


def fit(
    session: Session, spec: Any, rows: pd.DataFrame, progress: Callable[[float], None]
) -> dict[str, Any]:
    params = spec.params
    features = list(params["features"])
    trees = int(params.get("trees", 5))
    depth = int(params.get("depth", 3))
    eta = float(params.get("learning_rate", 0.3))
    n_bins = int(params.get("bins", 8))
    lam = float(params.get("lambda", 1.0))
    min_leaf = int(params.get("min_leaf", 20))
    if not 1 <= depth <= MAX_DEPTH or not 1 <= trees <= MAX_TREES:
        raise ComputeError(
            f"树深须 1..{MAX_DEPTH}、树数 1..{MAX_TREES} / depth must be 1..{MAX_DEPTH} "
            f"and trees 1..{MAX_TREES}"
        )
    n, d = len(rows), len(features)
    rank = session.rank

    if rank == 0:
        codes, edges = _bins(feature_matrix(rows, features), n_bins)
        onehot = np.zeros((n, d, n_bins))
        onehot[np.arange(n)[:, None], np.arange(d)[None, :], codes] = 1.0
        margin = np.zeros(n)
        session.share(1, None, "xgb_y")
    else:
        session.share(1, binary(rows[params["label"]]), "xgb_y")

    # Program: per level, gains of every (node, feature, bin) split and the arg-max per node.
    def level_program(nodes: int):
        k = nodes * d * n_bins

        def program(m, g, h_bins, valid):
            import jax.numpy as jnp

            g_bins = (m.T @ g).reshape(nodes, d, n_bins)
            gl = jnp.cumsum(g_bins, axis=2)
            gt = gl[:, :, -1:]
            gr = gt - gl
            hb = h_bins.reshape(nodes, d, n_bins)
            hl = jnp.cumsum(hb, axis=2)
            hr = hl[:, :, -1:] - hl
            gain = gl * gl / (hl + lam) + gr * gr / (hr + lam)
            gain = jnp.where(valid.reshape(nodes, d, n_bins) > 0.5, gain, NEG)
            return jnp.argmax(gain.reshape(nodes, d * n_bins), axis=1)

        return program, k

    def grad_program(p, y):
        return p - y

    def leaf_program(s, g, scale):
        return -(s.T @ g) * scale

    model_trees: list[dict[str, Any]] = []
    for t in range(trees):
        p = 1.0 / (1.0 + np.exp(-margin)) if rank == 0 else None
        session.share(0, p, "xgb_p")
        (g_name,), _ = session.run(grad_program, ["xgb_p", "xgb_y"], [np.zeros(n), np.zeros(n)])
        node_of = np.zeros(n, dtype=np.int64) if rank == 0 else None
        tree: list[dict[str, Any]] = []
        for level in range(depth):
            nodes = 2**level
            program, k = level_program(nodes)
            if rank == 0:
                h = p * (1 - p)
                member = np.zeros((n, nodes))
                member[np.arange(n), node_of] = 1.0
                m = (member[:, :, None, None] * onehot[:, None, :, :]).reshape(n, k)
                h_bins = m.T @ h
                left_rows = np.cumsum((m.T @ np.ones(n)).reshape(nodes, d, n_bins), axis=2)
                right_rows = left_rows[:, :, -1:] - left_rows
                valid = ((left_rows >= min_leaf) & (right_rows >= min_leaf)).reshape(k) * 1.0
            else:
                m = h_bins = valid = None
            session.share(0, m, "xgb_m")
            session.share(0, h_bins, "xgb_h")
            session.share(0, valid, "xgb_valid")
            outputs, _ = session.run(
                program,
                ["xgb_m", g_name, "xgb_h", "xgb_valid"],
                [np.zeros((n, k)), np.zeros(n), np.zeros(k), np.zeros(k)],
            )
            opened = session.reveal(outputs)
            session.drop(outputs)
            if rank == 0:
                best = np.asarray(opened[0]).astype(np.int64).reshape(nodes)
                valid_any = valid.reshape(nodes, d * n_bins).max(axis=1) > 0
                new_node = np.zeros(n, dtype=np.int64)
                for node in range(nodes):
                    here = node_of == node
                    if not valid_any[node]:  # too small to split: everything goes left
                        tree.append({"level": level, "node": node, "leaf_through": True})
                        new_node[here] = 2 * node
                        continue
                    feature, b = divmod(int(best[node]), n_bins)
                    threshold = float(edges[feature][b]) if b < len(edges[feature]) else None
                    goes_left = codes[:, feature] <= b
                    new_node[here] = 2 * node + np.where(goes_left[here], 0, 1)
                    tree.append(
                        {
                            "level": level,
                            "node": node,
                            "feature": features[feature],
                            "threshold": threshold,
                        }
                    )
                node_of = new_node
        leaves = 2**depth
        if rank == 0:
            s = np.zeros((n, leaves))
            s[np.arange(n), node_of] = 1.0
            hs = s.T @ (p * (1 - p))
            scale = eta / (hs + lam)
        else:
            s = scale = None
        session.share(0, s, "xgb_s")
        session.share(0, scale, "xgb_scale")
        outputs, _ = session.run(
            leaf_program,
            ["xgb_s", g_name, "xgb_scale"],
            [np.zeros((n, leaves)), np.zeros(n), np.zeros(leaves)],
        )
        opened = session.reveal(outputs)
        session.drop([*outputs, g_name])
        if rank == 0:
            weights = np.asarray(opened[0], dtype=float)
            margin = margin + weights[node_of]
            model_trees.append({"splits": tree, "leaves": [float(w) for w in weights]})
        progress((t + 1) / trees)

    p = 1.0 / (1.0 + np.exp(-margin)) if rank == 0 else None
    scores = metrics(session, p, "xgb_y", n)
    if rank != 0:
        return {"rows": n}
    loss, accuracy = scores
    return {
        "model": "xgboost",
        "features": features,
        "trees": model_trees,
        "base_score": 0.5,
        "params": json.loads(json.dumps({"depth": depth, "eta": eta, "lambda": lam})),
        "metrics": {"rows": n, "log_loss": loss, "accuracy": accuracy},
    }
