"""The plain (non-MPC) twins of the MPC fits: numpy only, for tests and benchmarks to compare."""

from __future__ import annotations

import numpy as np


def seg3(z: np.ndarray) -> np.ndarray:
    """SPU's SIGMOID_SEG3: 0.5 + z/8, clipped to [0, 1]."""
    return np.clip(0.5 + 0.125 * z, 0.0, 1.0)


def exact(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def plain_fit(
    x: np.ndarray, y: np.ndarray, epochs: int, lr: float, sigmoid=seg3
) -> tuple[np.ndarray, float]:
    """The MPC fit's algorithm in numpy, on already standardised ``x`` (tests and benchmarks)."""
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(epochs):
        p = sigmoid(x @ w + b)
        r = p - y
        w = w - lr * (x.T @ r) / len(y)
        b = b - lr * r.mean()
    return w, b


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x - mean) / std, mean, std


def boosted_probabilities(model: dict, frame) -> np.ndarray:
    """What a boosted model opened by :mod:`privacy.compute.xgboost` predicts for the rows of
    ``frame`` (a DataFrame with the model's features): a row goes left when its value is below
    the split's threshold, or always on a ``leaf_through`` split or a ``None`` threshold."""
    margin = np.zeros(len(frame))
    for tree in model["trees"]:
        splits = {(s["level"], s["node"]): s for s in tree["splits"]}
        for i, row in enumerate(frame.to_dict("records")):
            node = 0
            for level in range(len(tree["leaves"]).bit_length() - 1):
                split = splits.get((level, node))
                if split is None:
                    break
                left = split.get("leaf_through") or split["threshold"] is None
                left = left or row[split["feature"]] < split["threshold"]
                node = 2 * node + (0 if left else 1)
            margin[i] += tree["leaves"][node]
    return 1 / (1 + np.exp(-margin))
