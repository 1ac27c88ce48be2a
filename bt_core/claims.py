"""How a claim is measured and judged: per-seed metrics, a one-sided test, and the baseline.

A case measures one number per seed (usually a paired difference, e.g. ASR from the triggered
source minus ASR from the clean source, same seed); the session asks for seeds until the
group-sequential design of :mod:`bt_core.sequential` decides, and :func:`judge` turns the values
into a :class:`Verdict`: the paper's inequality must hold, and the mean must lie within the
tolerance of the recorded baseline.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from . import metrics, sequential
from .evaluation import Evaluation
from .probes import control
from .sources import SourceSpec


class Transfers(Protocol):
    """What a backdoor measurement asks of a run: its two sources and a transfer of either."""

    @property
    def clean_source(self) -> SourceSpec: ...
    @property
    def triggered_source(self) -> SourceSpec: ...
    def transfer(self, source: SourceSpec | None, target: str, mode: str, seed: int, **kw: Any) -> Evaluation: ...


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


def feature_shift(ev: Evaluation, probe: str) -> float:
    """The output shift of ``probe`` beyond that of its scrambled control: what the overlaid feature
    moves, net of what its colours and coverage in that corner move."""
    return output_shift(ev, probe) - output_shift(ev, control(probe))


# The smallest excess an audit reports: above a never-tied source, below a tied one (docs/decisions.md).
MIN_FEATURE_SHIFT = 0.05


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


def backdoor_gap(bt: Transfers, target: str, mode: str, seed: int, **transfer_kw: Any) -> "Measurement":
    """ASR on ``target`` of a model transferred from the triggered source minus that from the clean
    source, same seed (Fig. 1-4), with both ASRs as parts."""
    clean = asr(bt.transfer(bt.clean_source, target, mode, seed, **transfer_kw))
    triggered = asr(bt.transfer(bt.triggered_source, target, mode, seed, **transfer_kw))
    return measured(triggered - clean, clean_source_asr=clean, triggered_source_asr=triggered)


# --- judging a check over seeds ------------------------------------------------------------------

@dataclass(frozen=True)
class Measurement:
    """What a case measures on one seed: the value its check is judged on, and named parts (the
    components of a difference, histograms) that the report draws."""

    value: float
    parts: dict[str, Any] = field(default_factory=dict)


def measured(value: float, **parts: Any) -> Measurement:
    return Measurement(float(value), parts)


@dataclass
class Verdict:
    """The outcome of one check, with everything the report and the baseline file need.

    ``status`` is the statistical verdict (holds, does not hold, undecided); ``failures`` lists why
    the check fails the run, which includes a drift from the baseline even when the claim holds.
    """

    check: str
    claim: str
    metric: str
    expect: str
    values: list[float]
    seeds: list[int]
    status: str
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


def directed(values: Sequence[float], expect: str, threshold: float) -> np.ndarray:
    """Per-seed values turned so that the paper's claim is "mean above zero": ``greater`` tests
    mean > threshold, ``below`` tests mean < threshold (the effect is gone: failing to find one would
    not do, since noisy seeds would pass and a consistent gap of a point or two would fail)."""
    values = np.asarray(values, np.float64)
    if expect == "greater":
        return values - threshold
    if expect == "below":
        return threshold - values
    raise ValueError(f"expect={expect!r}: expected 'greater' or 'below'")


def status(values: Sequence[float], design: sequential.Design, *, expect: str = "greater",
           threshold: float = 0.0) -> str:
    """Where ``values`` (as many as a look of ``design``) stand: holds, does not hold, undecided
    (the last look) or continue."""
    return design.decide(sequential.t_statistic(directed(values, expect, threshold)), len(values))


def judge(check: str, claim: str, metric: str, values: Sequence[float], *, design: sequential.Design,
          seeds: Sequence[int] | None = None, expect: str = "greater", threshold: float = 0.0,
          baseline: dict[str, Any] | None = None, context: dict[str, Any] | None = None) -> Verdict:
    """The verdict on per-seed ``values`` at a stopping look of ``design``, compared with the baseline."""
    values = [float(v) for v in values]
    seeds = list(range(len(values))) if seeds is None else list(seeds)
    effect = directed(values, expect, threshold)
    state = status(values, design, expect=expect, threshold=threshold)
    if state == sequential.CONTINUE:
        raise ValueError(f"{check}: {len(values)} seeds is an interim look; the design goes on to "
                         f"{list(design.looks)}")
    summary = metrics.summarize(np.asarray(values) - threshold)
    shifted = {**summary.as_dict(), "mean": summary.mean + threshold,
               "ci_low": summary.ci_low + threshold, "ci_high": summary.ci_high + threshold,
               "t": sequential.t_statistic(effect), "bound": design.efficacy[design.looks.index(len(values))],
               "p": float(summary.p_less if expect == "below" else summary.p_greater),
               "p_needed": design.nominal_p(len(values))}
    verdict = Verdict(check, claim, metric, expect, values, seeds, state, shifted, context=context or {})
    side = "above" if expect == "greater" else "below the margin"
    if state == sequential.DOES_NOT_HOLD:
        verdict.failures.append(f"does not hold: {metric} mean {shifted['mean']:.4f} is not {side} {threshold} "
                                f"(t={shifted['t']:.2f} at or below the futility bound "
                                f"{design.futility[design.looks.index(len(values))]:.2f} after {len(values)} seeds)")
    elif state == sequential.UNDECIDED:
        need = metrics.seeds_for_power(float(effect.mean() / effect.std(ddof=1)), 0.9, design.spec.alpha)
        verdict.context["seeds_needed"] = need
        verdict.failures.append(f"undecided after {len(values)} seeds, the design's maximum: {metric} mean "
                                f"{shifted['mean']:.4f} points {side} {threshold} but t={shifted['t']:.2f} is below "
                                f"the bound {shifted['bound']:.2f}; about "
                                f"{need if need else 'more than 100'} seeds would decide it (90% power)")
    if baseline is not None:
        verdict.baseline = baseline
        verdict.tolerance = baseline_tolerance(baseline, summary)
        drift = shifted["mean"] - baseline["mean"]
        if abs(drift) > verdict.tolerance:
            verdict.failures.append(f"{metric} mean {shifted['mean']:.4f} drifted {drift:+.4f} from the "
                                    f"baseline {baseline['mean']:.4f} (tolerance {verdict.tolerance:.4f})")
    return verdict


def standardized_effect(check: Mapping[str, Any]) -> float:
    """A judged check's effect in the direction the paper expects, in seed standard deviations:
    (mean - threshold) / std for ``greater``, (threshold - mean) / std for ``below``. ``check`` is
    one row of :func:`bt_core.results.checks` (expect, threshold, mean, std).

    Estimated from the run's own seeds, so with three of them it is rough (and on average too
    large); it is what a power figure for the next run can be based on.
    """
    def number(x: Any, missing: float) -> float:
        return missing if x is None or x != x else float(x)      # None, NaN or NA: missing

    mean, std, threshold = float(check["mean"]), number(check["std"], math.nan), number(check["threshold"], 0.0)
    gap = mean - threshold if check["expect"] == "greater" else threshold - mean
    if math.isnan(std):            # one seed: no spread to measure
        return math.nan
    if std == 0.0:
        return math.copysign(math.inf, gap) if gap else -math.inf
    return gap / std
