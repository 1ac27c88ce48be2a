"""The group-sequential design that decides how many seeds a check gets: its false-hold rate under
a zero effect (and at the margin of a ``below`` check), its power, and the stored boundaries."""
import math

import numpy as np
import pytest
from scipy import stats

from bt_core import sequential
from bt_core.claims import directed, status
from bt_core.errors import ConfigError

DEFAULT = sequential.Spec()
OTHER = sequential.Spec(looks=(3, 6, 10, 15, 20), replicates=200_000)
SIMS = 200_000


def _mc_bound(p: float, sims: int) -> float:
    return p + 3 * math.sqrt(p * (1 - p) / sims)


@pytest.mark.parametrize("spec", [DEFAULT, OTHER], ids=["default", "3-6-10-15-20"])
def test_a_check_with_no_effect_holds_at_most_alpha_of_the_time(spec):
    """A fresh simulation (not the one the boundaries were calibrated on) through every look."""
    design = sequential.design(spec)
    op = sequential.operating(design, 0.0, sims=SIMS, seed=12345)
    assert op.holds <= _mc_bound(spec.alpha, SIMS)
    assert op.holds > 0.02                     # and not far below: the alpha is spent, not wasted


def test_a_below_check_exactly_at_its_margin_holds_at_most_alpha_of_the_time():
    """The same rate through the case-facing path: per-seed values at the margin, judged as 'below'."""
    design = sequential.design(DEFAULT)
    rng = np.random.default_rng(777)
    sims, held = 4000, 0
    for _ in range(sims):
        values = 0.05 + 0.02 * rng.standard_normal(design.looks[-1])
        for n in design.looks:
            state = status(values[:n], design, expect="below", threshold=0.05)
            if state != sequential.CONTINUE:
                held += state == sequential.HOLDS
                break
    assert held / sims <= _mc_bound(DEFAULT.alpha, sims)


# The power docs/judging.md states for the default design (python -m benchmark design).
STATED_POWER = {0.75: 0.927, 1.0: 0.991, 1.5: 1.0, 3.0: 1.0}


@pytest.mark.parametrize("effect, power", STATED_POWER.items())
def test_a_known_effect_holds_with_the_power_the_docs_state(effect, power):
    op = sequential.operating(sequential.design(DEFAULT), effect, sims=SIMS, seed=4242)
    assert op.holds == pytest.approx(power, abs=0.004)
    assert op.undecided < 0.02


# The operating figures the design must keep on a fresh simulation: a real effect is rarely stopped
# as "does not hold", and a zero effect is still stopped, by 12 seeds on average.
@pytest.mark.parametrize("effect, least", [(0.75, 0.92), (1.0, 0.98)])
def test_a_real_effect_holds_and_is_rarely_stopped_as_not_holding(effect, least):
    op = sequential.operating(sequential.design(DEFAULT), effect, sims=SIMS, seed=2718)
    assert op.holds - 3 * math.sqrt(op.holds * (1 - op.holds) / SIMS) >= least
    assert op.does_not_hold <= 1 - least


def test_a_zero_effect_holds_at_most_alpha_and_stops_by_twelve_seeds_on_average():
    op = sequential.operating(sequential.design(DEFAULT), 0.0, sims=SIMS, seed=2718)
    assert op.holds <= _mc_bound(DEFAULT.alpha, SIMS)
    assert op.does_not_hold > 0.9 and op.expected_seeds <= 12


def test_no_check_stops_as_not_holding_before_the_first_futility_look():
    design = sequential.design(DEFAULT)
    early = [k for k, n in enumerate(design.looks) if n < DEFAULT.futility_from]
    assert early == [0, 1]
    assert all(design.futility[k] == -math.inf for k in early)
    assert design.decide(-3.0, 3) == design.decide(-3.0, 5) == sequential.CONTINUE
    assert design.decide(-3.0, 8) == sequential.DOES_NOT_HOLD


def test_a_strong_effect_stops_at_three_seeds():
    strong = sequential.operating(sequential.design(DEFAULT), 6.0, sims=50_000, seed=3)
    assert strong.seeds_at_look[0] > 0.8 and strong.holds > 0.999


def test_the_stored_design_is_what_its_derivation_gives():
    stored = sequential.stored_designs()[DEFAULT.key()]
    again = sequential.derive(DEFAULT).as_dict()
    assert again["efficacy"] == pytest.approx(stored["efficacy"], abs=1e-3)
    assert again["futility"] == pytest.approx(stored["futility"], abs=1e-3)
    assert stored["derivation"]["command"] == "python -m benchmark design --write"


def test_a_design_not_in_the_repository_is_derived_once_and_cached(tmp_path, monkeypatch):
    spec = sequential.Spec(looks=(3, 4), replicates=20_000)
    first = sequential.design(spec, tmp_path)
    assert (tmp_path / "designs" / f"{spec.key()}.json").exists()
    monkeypatch.setattr(sequential, "derive", lambda spec: pytest.fail("derived again instead of read from the cache"))
    assert sequential.design(spec, tmp_path) == first


def test_futility_stops_where_more_seeds_would_very_unlikely_help():
    design = sequential.design(DEFAULT)
    rng = np.random.default_rng(0)
    interim = [k for k, n in enumerate(design.looks[:-1]) if n >= DEFAULT.futility_from]
    assert interim == [2, 3, 4, 5, 6]
    for k in interim:
        at = sequential.conditional_power(design.futility[k], design.looks[k], design.looks, design.efficacy,
                                          rng, sims=40_000)
        assert at == pytest.approx(DEFAULT.futility_power, abs=0.01)
    assert list(design.futility) == sorted(design.futility[:-1]) + [0.0]


def test_the_futility_rule_is_part_of_a_designs_identity(monkeypatch):
    """A design stored under another futility rule (or start) is never found for this one."""
    assert sequential.Spec(futility_from=5).key() != DEFAULT.key()
    before = DEFAULT.key()
    monkeypatch.setattr(sequential, "FUTILITY_RULE", sequential.FUTILITY_RULE + " (changed)")
    assert DEFAULT.key() != before


def test_every_stored_design_sits_under_its_own_specs_key():
    for key, blob in sequential.stored_designs().items():
        assert sequential.Design.from_dict(blob).spec.key() == key


def test_the_fixed_design_is_the_plain_one_sided_t_test():
    design = sequential.fixed(4)
    for values in ([0.1, 0.2, 0.15, 0.12], [0.1, -0.2, 0.3, 0.0], [-0.1, -0.2, -0.1, -0.3]):
        p = stats.ttest_1samp(values, 0.0, alternative="greater").pvalue
        state = status(values, design)
        assert (state == sequential.HOLDS) is bool(p < 0.05)
        assert (state == sequential.DOES_NOT_HOLD) is bool(np.mean(values) <= 0)


def test_directed_turns_both_expectations_into_mean_above_zero():
    assert directed([0.3, 0.1], "greater", 0.1).tolist() == pytest.approx([0.2, 0.0])
    assert directed([0.03, 0.06], "below", 0.05).tolist() == pytest.approx([0.02, -0.01])


def test_t_statistic_of_constant_values_is_infinite_in_their_direction():
    assert sequential.t_statistic([0.2, 0.2, 0.2]) == math.inf
    assert sequential.t_statistic([-0.2, -0.2, -0.2]) == -math.inf
    assert sequential.t_statistic([1.0, 2.0, 3.0]) == pytest.approx(2.0 / (1.0 / math.sqrt(3)))


def test_an_exactly_absent_effect_does_not_hold_at_the_first_futility_look():
    """All-zero values (a backbone blind to the trigger gives ASR 0 from either source) are t = 0,
    at the futility bound, not an undefined t that runs every check to its last look."""
    design = sequential.design(DEFAULT)
    assert sequential.t_statistic([0.0, 0.0, 0.0]) == 0.0
    assert design.decide(sequential.t_statistic([0.0] * 3), 3) == sequential.CONTINUE
    assert design.decide(sequential.t_statistic([0.0] * 8), 8) == sequential.DOES_NOT_HOLD
    # values that do not vary and point the wrong way can never hold: they stop at once
    assert design.decide(sequential.t_statistic([-0.1] * 3), 3) == sequential.DOES_NOT_HOLD


@pytest.mark.parametrize("kw, message", [
    ({"looks": (1, 3)}, "looks=\\[1, 3\\]: expected increasing seed counts"),
    ({"looks": (3, 3)}, "expected increasing seed counts"),
    ({"alpha": 0.7}, "alpha=0.7: expected a level in \\(0, 0.5\\)"),
    ({"futility_power": 1.0}, "futility_power=1.0: expected a probability in \\[0, 1\\)"),
    ({"futility_from": 1}, "futility_from=1: expected a seed count of at least 2"),
    ({"rho": 0.0}, "rho=0.0: expected a spending exponent > 0"),
])
def test_a_bad_design_is_a_clear_error(kw, message):
    with pytest.raises(ConfigError, match=message):
        sequential.Spec(**kw)


def test_a_seed_count_that_is_not_a_look_is_a_clear_error():
    with pytest.raises(ConfigError, match="4 seeds is not a look of the design \\[3, 5"):
        sequential.design(DEFAULT).decide(1.0, 4)
