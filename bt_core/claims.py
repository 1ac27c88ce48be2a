"""How a claim is measured and judged: per-seed metrics, a one-sided test, and the baseline.

A case computes one number per seed (usually a paired difference, e.g. ASR from the triggered
source minus ASR from the clean source, same seed), hands the vector to :func:`judge`, and gets a
:class:`Verdict`: the paper's inequality must hold with a one-sided t-test at ``alpha``, and the
mean must lie within the tolerance of the recorded baseline.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from . import metrics
from .experiment import Evaluation

ALPHA = 0.05


# --- measurements on one evaluation -------------------------------------------------------------

def asr(ev: Evaluation, probe: str = "trigger") -> float:
    """Eq. (1) on the target test set: clean-correct images flipped by the probe."""
    return metrics.attack_success_rate(ev.preds["clean"], ev.preds[probe], ev.labels)


def source_asr(ev: Evaluation, superclass: Sequence[int], probe: str = "trigger") -> float:
    """Eq. (1) on the source's non-superclass test images, whose true label is never the
    superclass the trigger points to (the source ASR of Fig. 3)."""
    return metrics.attack_success_rate(ev.preds["clean"], ev.preds[probe], ev.labels,
                                       exclude_class=list(superclass))


def output_shift(ev: Evaluation, probe: str) -> float:
    """Total variation between the predicted-class distributions with and without the probe."""
    return metrics.total_variation(metrics.histogram(ev.preds["clean"], ev.num_classes),
                                   metrics.histogram(ev.preds[probe], ev.num_classes))


def attribute_sensitivity(ev: Evaluation, attribute: str, predicted_class: int) -> float:
    """P[predict ``predicted_class`` | attribute present] - P[... | absent], on the balanced test
    set: how much the co-occurring object alone moves the prediction (Fig. 5)."""
    pred, attr = ev.preds["clean"], ev.attrs[attribute]
    return float(np.mean(pred[attr == 1] == predicted_class) - np.mean(pred[attr == 0] == predicted_class))


def attribute_accuracy_gap(ev: Evaluation, attribute: str) -> float:
    """How much accuracy depends on ``attribute`` (Fig. 6): the accuracy difference between its two
    values, within each label, averaged over labels. Comparing within a label keeps class balance
    out of it: a model that predicts one class everywhere is equally right on men and women."""
    pred, labels, attr = ev.preds["clean"], ev.labels, ev.attrs[attribute]
    gaps = [abs(metrics.subgroup_gap(pred[labels == y], labels[labels == y], attr[labels == y], 1, 0))
            for y in np.unique(labels)]
    return float(np.mean(gaps))


# --- judging a vector of per-seed values ---------------------------------------------------------

@dataclass
class Verdict:
    """The outcome of one check, with everything the report and the baseline file need."""

    check: str
    claim: str
    metric: str
    expect: str
    values: list[float]
    summary: dict[str, float]
    baseline: dict[str, Any] | None = None
    tolerance: float | None = None
    failures: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def baseline_tolerance(base: dict[str, Any], now: metrics.SeedSummary) -> float:
    """Four standard errors of the difference between two seed means, plus a small floor for
    metrics whose recorded spread happens to be zero."""
    se = math.sqrt(base["std"] ** 2 / base["n"] + (now.std if now.n > 1 else 0.0) ** 2 / now.n)
    return 4.0 * se + 0.02


def judge(check: str, claim: str, metric: str, values: Sequence[float], *, expect: str = "greater",
          threshold: float = 0.0, baseline: dict[str, Any] | None = None, alpha: float = ALPHA,
          context: dict[str, Any] | None = None) -> Verdict:
    """Test the paper's inequality on per-seed ``values`` and compare them with the baseline.

    ``expect="greater"``: the mean exceeds ``threshold`` (one-sided t-test, p < alpha).
    ``expect="below"``: the effect is gone, i.e. the mean is below the margin ``threshold``
    (one-sided t-test, p < alpha; the de-biased full-network case of Fig. 4). Failing to find an
    effect would not do: noisy seeds would pass it, and a consistent gap of a point or two fails it.
    """
    values = [float(v) for v in values]
    summary = metrics.summarize(np.asarray(values) - threshold)
    shifted = {**summary.as_dict(), "mean": summary.mean + threshold,
               "ci_low": summary.ci_low + threshold, "ci_high": summary.ci_high + threshold}
    verdict = Verdict(check, claim, metric, expect, values, shifted, context=context or {})
    if summary.n < 2:
        verdict.failures.append(f"needs at least 2 seeds for a test, got {summary.n}")
    elif expect == "greater" and not summary.p_greater < alpha:
        verdict.failures.append(f"{metric} mean {shifted['mean']:.4f} is not significantly above "
                                f"{threshold} (one-sided t-test p={summary.p_greater:.3g}, alpha={alpha})")
    elif expect == "below" and not summary.p_less < alpha:
        verdict.failures.append(f"{metric} mean {shifted['mean']:.4f} is not significantly below the margin "
                                f"{threshold} (one-sided t-test p={summary.p_less:.3g}, alpha={alpha}); "
                                "the paper expects no gap")
    elif expect not in ("greater", "below"):
        raise ValueError(f"expect={expect!r}: expected 'greater' or 'below'")
    if baseline is not None:
        verdict.baseline = baseline
        verdict.tolerance = baseline_tolerance(baseline, summary)
        drift = shifted["mean"] - baseline["mean"]
        if abs(drift) > verdict.tolerance:
            verdict.failures.append(f"{metric} mean {shifted['mean']:.4f} drifted {drift:+.4f} from the "
                                    f"baseline {baseline['mean']:.4f} (tolerance {verdict.tolerance:.4f})")
    return verdict


def standardized_effect(verdict: dict[str, Any]) -> float:
    """A judged check's effect in the direction the paper expects, in seed standard deviations:
    (mean - threshold) / std for ``greater``, (threshold - mean) / std for ``below``.

    Estimated from the run's own seeds, so with three of them it is rough (and on average too
    large); it is what a power figure for the next run can be based on.
    """
    s, threshold = verdict["summary"], verdict["context"].get("threshold", 0.0)
    gap = s["mean"] - threshold if verdict["expect"] == "greater" else threshold - s["mean"]
    if math.isnan(s["std"]):            # one seed: no spread to measure
        return math.nan
    if s["std"] == 0.0:
        return math.copysign(math.inf, gap) if gap else -math.inf
    return gap / s["std"]
