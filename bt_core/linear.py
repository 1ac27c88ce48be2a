"""Sec. 2 of the paper, exactly: a linear model fine-tuned by SGD on n < d target points only moves
inside the span of those points, so whatever the source put orthogonal to that span survives."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sgd_logistic(w: np.ndarray, X: np.ndarray, y: np.ndarray, *, lr: float, epochs: int,
                 batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Plain minibatch SGD on the logistic loss (labels in {0, 1}), no weight decay."""
    w = w.copy()
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            b = order[start:start + batch_size]
            p = 1.0 / (1.0 + np.exp(-(X[b] @ w)))
            w -= lr * X[b].T @ (p - y[b]) / len(b)
    return w


def orthogonal_part(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The component of ``w`` orthogonal to the row span of ``X``."""
    q, _ = np.linalg.qr(X.T)
    return w - q @ (q.T @ w)


@dataclass(frozen=True)
class LinearResult:
    transfer_kept: float           # 1 - |P_perp(w_transfer - w_source)| / |P_perp w_source|: 1 in theory
    scratch_kept: float            # the same for a model fine-tuned from zero: 0 in theory
    transfer_sensitivity: float    # w_transfer . u, u = unit planted direction outside the span
    scratch_sensitivity: float     # the same for a model fine-tuned from zero


def planted_direction_experiment(seed: int, *, d: int = 200, n_source: int = 2000, n_target: int = 50,
                                 strength: float = 2.0) -> LinearResult:
    """Train a source model whose data ties the label to a planted direction v, fine-tune it on
    ``n_target < d`` clean target points, and compare with fine-tuning from zero."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    w_true = rng.standard_normal(d) / np.sqrt(d)
    Xs = rng.standard_normal((n_source, d))
    ys = (Xs @ w_true > 0).astype(float)
    Xs += strength * np.outer(2 * ys - 1, v)              # the source bias: label-correlated v
    w_source = sgd_logistic(np.zeros(d), Xs, ys, lr=0.5, epochs=20, batch_size=64, rng=rng)
    Xt = rng.standard_normal((n_target, d))
    yt = (Xt @ w_true > 0).astype(float)
    u = orthogonal_part(v, Xt)
    u /= np.linalg.norm(u)
    w_transfer = sgd_logistic(w_source, Xt, yt, lr=0.5, epochs=50, batch_size=10, rng=rng)
    w_scratch = sgd_logistic(np.zeros(d), Xt, yt, lr=0.5, epochs=50, batch_size=10, rng=rng)
    planted = float(np.linalg.norm(orthogonal_part(w_source, Xt)))

    def kept(w: np.ndarray) -> float:
        return 1.0 - float(np.linalg.norm(orthogonal_part(w - w_source, Xt))) / planted

    return LinearResult(kept(w_transfer), kept(w_scratch), float(w_transfer @ u), float(w_scratch @ u))
