"""Group-sequential one-sided t-tests over seeds: how many seeds a check gets, and when it stops.

A check is looked at after ``looks[0]`` seeds, then after each later count in ``looks`` while it is
undecided. At look k it *holds* when its t statistic (mean over standard error, in the direction the
paper expects) exceeds ``efficacy[k]``, and it *does not hold* when t is at or below ``futility[k]``.
At the last look a check that neither holds nor points the wrong way is *undecided*.

The efficacy boundaries spend ``alpha`` over the looks (``alpha * (n_k / n_K) ** rho`` by look k)
and are calibrated by simulating the t statistic itself under a zero effect, so the heavy tails of
t at three or five seeds are accounted for, not approximated by a normal statistic. They are
calibrated ignoring futility (non-binding futility), so stopping for futility can only lower the
chance that a check with no effect holds.

There is no futility stop before ``futility_from`` seeds: at three or five seeds the running
estimate is too noisy to give up on, and a stop there ends real effects as "does not hold" (a
0.75 SD effect 17% of the time with futility at every look). From that look on, the futility
boundary at an interim look is the t at which the conditional power, the chance that the remaining
looks make the check hold if the seeds to come follow the mean and spread measured so far, falls to
``futility_power``. At the last look it is zero: an estimate on the wrong side of the paper's
inequality does not hold; one on the right side that is not significant is undecided.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import ConfigError

HOLDS, DOES_NOT_HOLD, UNDECIDED, CONTINUE = "holds", "does not hold", "undecided", "continue"
DEFAULT_LOOKS = (3, 5, 8, 12, 16, 20, 25, 30)
DEFAULT_ALPHA = 0.05
DEFAULT_RHO = 0.5
DEFAULT_FUTILITY_POWER = 0.05
DEFAULT_FUTILITY_FROM = 8
# Part of every design's identity: a design derived under another futility rule is never reused.
FUTILITY_RULE = ("non-binding: conditional power at the running estimate falls to futility_power, at the "
                 "looks from futility_from seeds on; none before; zero at the last look")
STORED = Path(__file__).with_name("sequential_designs.json")


@dataclass(frozen=True)
class Spec:
    """What a design is derived from; its digest names the stored design."""

    looks: tuple[int, ...] = DEFAULT_LOOKS
    alpha: float = DEFAULT_ALPHA
    rho: float = DEFAULT_RHO
    futility_power: float = DEFAULT_FUTILITY_POWER
    futility_from: int = DEFAULT_FUTILITY_FROM
    replicates: int = 400_000
    rng_seed: int = 20221

    def __post_init__(self) -> None:
        looks = tuple(self.looks)
        if not looks or looks[0] < 2 or any(b <= a for a, b in zip(looks, looks[1:])):
            raise ConfigError(f"looks={list(looks)}: expected increasing seed counts, the first at least 2")
        if not 0.0 < self.alpha < 0.5:
            raise ConfigError(f"alpha={self.alpha}: expected a level in (0, 0.5)")
        if not 0.0 <= self.futility_power < 1.0:
            raise ConfigError(f"futility_power={self.futility_power}: expected a probability in [0, 1)")
        if self.futility_from < 2:
            raise ConfigError(f"futility_from={self.futility_from}: expected a seed count of at least 2")
        if not self.rho > 0:
            raise ConfigError(f"rho={self.rho}: expected a spending exponent > 0")

    def key(self) -> str:
        text = json.dumps({**asdict(self), "futility_rule": FUTILITY_RULE}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Design:
    """Boundaries on the t statistic at each look, and how they were derived."""

    spec: Spec
    efficacy: tuple[float, ...]
    futility: tuple[float, ...]
    derivation: dict[str, Any] = field(default_factory=dict)

    @property
    def looks(self) -> tuple[int, ...]:
        return self.spec.looks

    def decide(self, t: float, n: int) -> str:
        """The verdict after ``n`` seeds whose t statistic is ``t`` (``n`` must be a look)."""
        if n not in self.looks:
            raise ConfigError(f"{n} seeds is not a look of the design {list(self.looks)}")
        k = self.looks.index(n)
        if t > self.efficacy[k]:
            return HOLDS
        if t <= self.futility[k]:
            return DOES_NOT_HOLD
        return UNDECIDED if k == len(self.looks) - 1 else CONTINUE

    def nominal_p(self, n: int) -> float:
        """The one-sided p-value a fixed-sample t-test at ``n`` seeds would need to hold here."""
        from scipy import stats

        return float(stats.t.sf(self.efficacy[self.looks.index(n)], n - 1))

    def as_dict(self) -> dict[str, Any]:
        return {"spec": asdict(self.spec), "efficacy": list(self.efficacy), "futility": list(self.futility),
                "derivation": self.derivation}

    @classmethod
    def from_dict(cls, blob: dict[str, Any]) -> "Design":
        spec = Spec(**{**blob["spec"], "looks": tuple(blob["spec"]["looks"])})
        return cls(spec, tuple(blob["efficacy"]), tuple(blob["futility"]), blob.get("derivation", {}))


# --- the t statistic along a path of seeds ---------------------------------------------------------

def _t(s: np.ndarray, q: np.ndarray, n: int) -> np.ndarray:
    """t statistics of ``n`` values with sums ``s`` and sums of squares ``q``: +-inf where they do
    not vary, and 0 where they are all zero (an effect that is exactly absent, e.g. a backbone that
    cannot see the trigger, must meet the futility bound rather than run to the last look)."""
    var = np.maximum(q - s * s / n, 0.0) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, (s / n) / np.sqrt(var / n), np.where(s == 0, 0.0, np.sign(s) * np.inf))


def path_t(values: np.ndarray, looks: Sequence[int]) -> np.ndarray:
    """t statistics (mean / standard error) of each row of ``values`` at each look: shape (rows, looks)."""
    csum, csq = np.cumsum(values, axis=1), np.cumsum(values ** 2, axis=1)
    return np.stack([_t(csum[:, n - 1], csq[:, n - 1], n) for n in looks], axis=1)


def t_statistic(values: Sequence[float]) -> float:
    """The one-sample t statistic of ``values`` against zero (+-inf when they do not vary)."""
    return float(path_t(np.asarray(values, np.float64)[None, :], [len(values)])[0, 0])


# --- derivation --------------------------------------------------------------------------------------

def _efficacy(spec: Spec, rng: np.random.Generator) -> tuple[list[float], list[float]]:
    looks, n_max = spec.looks, spec.looks[-1]
    t = path_t(rng.standard_normal((spec.replicates, n_max)), looks)
    alive = np.ones(spec.replicates, bool)
    bounds, spent = [], []
    for k, n in enumerate(looks):
        target = spec.alpha * (n / n_max) ** spec.rho
        already = (spec.replicates - alive.sum()) / spec.replicates
        crossings = int(round((target - already) * spec.replicates))
        live = np.sort(t[alive, k])[::-1]
        if crossings <= 0:
            bound = math.inf
        else:
            bound = float(live[crossings]) if crossings < len(live) else -math.inf
        bounds.append(bound)
        alive &= ~(t[:, k] > bound)
        spent.append((spec.replicates - alive.sum()) / spec.replicates)
    return bounds, spent


def conditional_power(t_now: float, n_now: int, design_looks: Sequence[int], efficacy: Sequence[float],
                      rng: np.random.Generator, sims: int = 20_000) -> float:
    """Chance that a later look holds if the seeds to come follow the mean and spread measured so far
    (the seeds so far scaled to unit spread, so it depends on ``t_now`` alone)."""
    later = [k for k, n in enumerate(design_looks) if n > n_now]
    if not later:
        return 0.0
    mean = t_now / math.sqrt(n_now)                    # with the measured spread scaled to 1
    s_now, q_now = n_now * mean, (n_now - 1) + n_now * mean ** 2
    n_max = design_looks[-1]
    future = mean + rng.standard_normal((sims, n_max - n_now))
    csum, csq = s_now + np.cumsum(future, axis=1), q_now + np.cumsum(future ** 2, axis=1)
    crossed = np.zeros(sims, bool)
    for k in later:
        n = design_looks[k]
        crossed |= _t(csum[:, n - n_now - 1], csq[:, n - n_now - 1], n) > efficacy[k]
    return float(crossed.mean())


def _futility(spec: Spec, efficacy: Sequence[float], rng: np.random.Generator) -> list[float]:
    """At each interim look from ``futility_from`` seeds on, the t where conditional power falls to
    ``futility_power`` (bisection with common random numbers); -inf before; zero at the last look."""
    bounds = []
    for k, n in enumerate(spec.looks[:-1]):
        seed = int(rng.integers(2 ** 32))       # drawn at every look, so a bound does not depend on futility_from
        if spec.futility_power == 0.0 or n < spec.futility_from:
            bounds.append(-math.inf)
            continue
        cp = lambda t: conditional_power(t, n, spec.looks, efficacy, np.random.default_rng(seed))  # noqa: E731
        lo, hi = -10.0, min(efficacy[k], 20.0)
        if cp(lo) >= spec.futility_power:
            bounds.append(-math.inf)
            continue
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if cp(mid) < spec.futility_power else (lo, mid)
        bounds.append(round(min(lo, efficacy[k]), 4))
    return [*bounds, 0.0]


def derive(spec: Spec) -> Design:
    """Calibrate the boundaries of ``spec`` by simulation (a few seconds)."""
    rng = np.random.default_rng(spec.rng_seed)
    efficacy, spent = _efficacy(spec, rng)
    futility = _futility(spec, efficacy, rng)
    se = math.sqrt(spec.alpha * (1 - spec.alpha) / spec.replicates)
    derivation = {
        "method": ("efficacy: alpha spent as alpha*(n_k/n_max)**rho, each boundary the quantile of the "
                   "simulated t statistic (normal seeds, zero effect) among paths not yet stopped; "
                   f"futility, {FUTILITY_RULE}"),
        "alpha_spent": spent, "monte_carlo_se": se, "numpy": np.__version__,
        "command": "python -m benchmark design --write",
    }
    return Design(spec, tuple(round(b, 4) for b in efficacy), tuple(futility), derivation)


def fixed(n: int, alpha: float = DEFAULT_ALPHA) -> Design:
    """The fixed-sample one-sided t-test at ``alpha`` over ``n`` seeds, as a design with one look
    (``--bt-seeds 5`` or ``--bt-seeds 0,1,2``)."""
    from scipy import stats

    spec = Spec(looks=(n,), alpha=alpha, futility_power=0.0, replicates=0)
    return Design(spec, (round(float(stats.t.isf(alpha, n - 1)), 4),), (0.0,),
                  {"method": "fixed-sample one-sided t-test: holds when t exceeds the (1 - alpha) quantile "
                             "of Student's t with n - 1 degrees of freedom"})


# --- the design a run uses ---------------------------------------------------------------------------

def stored_designs(path: Path = STORED) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else {}


def design(spec: Spec, cache_dir: Path | None = None) -> Design:
    """The design for ``spec``: the stored one when the repository holds it, else derived and kept in
    ``cache_dir`` so a second process does not derive it again."""
    key = spec.key()
    stored = stored_designs()
    if key in stored:
        return Design.from_dict(stored[key])
    cached = None if cache_dir is None else Path(cache_dir) / "designs" / f"{key}.json"
    if cached is not None and cached.exists():
        return Design.from_dict(json.loads(cached.read_text()))
    result = derive(spec)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")        # xdist workers may derive it at once
        tmp.write_text(json.dumps(result.as_dict(), indent=2))
        tmp.replace(cached)
    return result


# --- what a design does to a check of a given effect ---------------------------------------------------

@dataclass(frozen=True)
class Operating:
    """A design's behaviour for one standardized effect: verdict chances and seeds used."""

    effect: float
    holds: float
    does_not_hold: float
    undecided: float
    expected_seeds: float
    seeds_at_look: tuple[float, ...]     # chance of stopping at each look


def operating(design: Design, effect: float, sims: int = 100_000, seed: int = 0) -> Operating:
    """Simulate checks whose per-seed values are normal with ``effect`` standard deviations of mean
    (in the expected direction) through ``design``."""
    looks = design.looks
    if math.isinf(effect):
        stop = (1.0,) + (0.0,) * (len(looks) - 1)
        return Operating(effect, float(effect > 0), float(effect < 0), 0.0, float(looks[0]), stop)
    rng = np.random.default_rng(seed)
    t = path_t(effect + rng.standard_normal((sims, looks[-1])), looks)
    alive = np.ones(sims, bool)
    holds = np.zeros(sims, bool)
    fails = np.zeros(sims, bool)
    stopped_at = np.full(sims, len(looks) - 1)
    for k in range(len(looks)):
        up = alive & (t[:, k] > design.efficacy[k])
        down = alive & ~up & (t[:, k] <= design.futility[k])
        holds |= up
        fails |= down
        stopped_at[up | down] = k
        alive &= ~(up | down)
    n_used = np.asarray(looks)[stopped_at]
    at_look = tuple(float(np.mean(stopped_at == k)) for k in range(len(looks)))
    return Operating(effect, float(holds.mean()), float(fails.mean()), float(alive.mean()),
                     float(n_used.mean()), at_look)
