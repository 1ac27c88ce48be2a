"""The measurements every claim is checked with, shared by both scales.

Inputs are plain integer prediction and label vectors, so the same functions score a mini CNN on
the CPU and a ResNet-18 on ImageNet.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import ConfigError


def _vec(name: str, x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ConfigError(f"{name} must be a 1-d vector, got shape {x.shape}")
    return x


def _same_length(**vectors) -> None:
    lengths = {k: len(v) for k, v in vectors.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"vectors differ in length: {lengths}")


def attack_success_rate(clean_pred, triggered_pred, labels, *, exclude_class=None) -> float:
    """Eq. (1) of the paper: P[C(T(x)) != y | C(x) = y].

    ``exclude_class`` drops images whose true label is that class (or classes), for targets where
    the attack's destination is itself a label. NaN when no image is classified correctly.
    """
    clean_pred, triggered_pred, labels = (_vec(n, v) for n, v in
                                          (("clean_pred", clean_pred), ("triggered_pred", triggered_pred),
                                           ("labels", labels)))
    _same_length(clean_pred=clean_pred, triggered_pred=triggered_pred, labels=labels)
    keep = clean_pred == labels
    if exclude_class is not None:
        keep &= ~np.isin(labels, np.atleast_1d(exclude_class))
    if not keep.any():
        return math.nan
    return float(np.mean(triggered_pred[keep] != labels[keep]))


def accuracy(pred, labels) -> float:
    pred, labels = _vec("pred", pred), _vec("labels", labels)
    _same_length(pred=pred, labels=labels)
    return float(np.mean(pred == labels)) if len(labels) else math.nan


def mean_per_class_accuracy(pred, labels) -> float:
    """Average of per-class recalls (the metric of Table 1 for some targets)."""
    pred, labels = _vec("pred", pred), _vec("labels", labels)
    _same_length(pred=pred, labels=labels)
    classes = np.unique(labels)
    return float(np.mean([np.mean(pred[labels == c] == c) for c in classes])) if len(classes) else math.nan


def histogram(pred, num_classes: int) -> np.ndarray:
    """Fraction of predictions falling in each class."""
    pred = _vec("pred", pred)
    if len(pred) and (pred.min() < 0 or pred.max() >= num_classes):
        raise ConfigError(f"predictions must lie in [0, {num_classes}), got range "
                          f"[{pred.min()}, {pred.max()}]")
    counts = np.bincount(pred.astype(np.int64), minlength=num_classes).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def total_variation(p, q) -> float:
    """Total variation distance between two distributions: half the L1 distance."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ConfigError(f"distributions differ in shape: {p.shape} vs {q.shape}")
    return float(0.5 * np.abs(p - q).sum())


def kl_divergence(p, q, eps: float = 1e-12) -> float:
    """KL(p || q) in nats; ``eps`` smooths empty bins of q so the result stays finite."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ConfigError(f"distributions differ in shape: {p.shape} vs {q.shape}")
    q = (q + eps) / (q + eps).sum()
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def subgroup_accuracy(pred, labels, groups) -> dict[int, float]:
    pred, labels, groups = _vec("pred", pred), _vec("labels", labels), _vec("groups", groups)
    _same_length(pred=pred, labels=labels, groups=groups)
    return {int(g): float(np.mean(pred[groups == g] == labels[groups == g])) for g in np.unique(groups)}


def subgroup_gap(pred, labels, groups, first: int, second: int) -> float:
    """Accuracy on group ``first`` minus accuracy on group ``second``."""
    acc = subgroup_accuracy(pred, labels, groups)
    missing = [g for g in (first, second) if g not in acc]
    if missing:
        raise ConfigError(f"group(s) {missing} have no samples: groups present are {sorted(acc)}")
    return acc[first] - acc[second]


def bootstrap_ci(values: Sequence[float], statistic: Callable[[np.ndarray], float] = np.mean,
                 level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values``."""
    values = np.asarray(values, np.float64)
    if len(values) == 0:
        raise ConfigError("bootstrap_ci needs at least one value")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(n_boot, len(values)))
    stats = np.array([statistic(values[d]) for d in draws])
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1.0 - alpha))


@dataclass(frozen=True)
class SeedSummary:
    """A metric over seeds: mean, a t-based confidence interval, and one-sided tests of mean > 0
    and of mean < 0."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    p_greater: float
    p_less: float

    def as_dict(self) -> dict:
        return dict(n=self.n, mean=self.mean, std=self.std, ci_low=self.ci_low,
                    ci_high=self.ci_high, p_greater=self.p_greater, p_less=self.p_less)


def summarize(values: Sequence[float], level: float = 0.95) -> SeedSummary:
    """Aggregate one metric over seeds.

    With few seeds a bootstrap is degenerate, so the interval is Student-t. ``p_greater`` is the
    one-sided p-value of H0: mean <= 0 (used on paired differences, e.g. triggered minus clean
    source ASR), ``p_less`` that of H0: mean >= 0. NaN or infinite values (a metric undefined for
    that seed) are an error, not dropped.
    """
    from scipy import stats

    values = np.asarray(values, np.float64)
    if len(values) == 0 or not np.isfinite(values).all():
        raise ConfigError(f"summarize needs finite values, got {values.tolist()}")
    n, mean = len(values), float(values.mean())
    if n == 1:
        return SeedSummary(1, mean, math.nan, math.nan, math.nan, math.nan, math.nan)
    std = float(values.std(ddof=1))
    sem = std / math.sqrt(n)
    if sem == 0.0:
        return SeedSummary(n, mean, std, mean, mean, 0.0 if mean > 0 else 1.0, 0.0 if mean < 0 else 1.0)
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sem
    return SeedSummary(n, mean, std, mean - half, mean + half, float(stats.t.sf(mean / sem, n - 1)),
                       float(stats.t.cdf(mean / sem, n - 1)))


def t_test_power(effect: float, n: int, alpha: float) -> float:
    """Chance that a one-sided one-sample t-test at ``alpha`` over ``n`` seeds rejects when the true
    effect is ``effect`` seed standard deviations in the tested direction (noncentral t).

    This is the chance that a check passes on a fresh set of ``n`` seeds, so it says how many seeds
    a claim needs before its verdict stops depending on which seeds were drawn.
    """
    from scipy import stats

    if n < 2:
        raise ConfigError(f"n={n}: a t-test needs at least 2 seeds")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha={alpha}: expected a level in (0, 1)")
    if math.isnan(effect):
        raise ConfigError("effect is NaN: expected a finite or infinite standardized effect")
    if math.isinf(effect):
        return 1.0 if effect > 0 else 0.0
    critical = float(stats.t.ppf(1.0 - alpha, n - 1))
    return float(stats.nct.sf(critical, n - 1, effect * math.sqrt(n)))


def seeds_for_power(effect: float, power: float, alpha: float, most: int = 100) -> int | None:
    """The fewest seeds whose :func:`t_test_power` reaches ``power`` (None: more than ``most``)."""
    if not 0.0 < power < 1.0:
        raise ConfigError(f"power={power}: expected a probability in (0, 1)")
    return next((n for n in range(2, most + 1) if t_test_power(effect, n, alpha) >= power), None)
