"""Metrics against values worked out by hand."""
import math

import numpy as np
import pytest
from scipy import stats

from bt_core import metrics, sequential
from bt_core.errors import ConfigError


def test_asr_is_equation_one():
    labels = np.array([0, 1, 2, 3, 4])
    clean = np.array([0, 1, 2, 0, 4])      # images 0, 1, 2, 4 are correct
    trig = np.array([5, 1, 5, 0, 4])       # of those, 0 and 2 flip: 2 of 4
    assert metrics.attack_success_rate(clean, trig, labels) == 0.5


def test_asr_excludes_the_destination_class_and_is_nan_without_correct_images():
    labels = np.array([0, 0, 1, 1])
    clean = np.array([0, 0, 1, 1])
    trig = np.array([1, 1, 1, 0])
    assert metrics.attack_success_rate(clean, trig, labels, exclude_class=1) == 1.0
    assert math.isnan(metrics.attack_success_rate(np.array([1, 1]), np.array([0, 0]), np.array([0, 0])))


def test_accuracy_and_mean_per_class_accuracy():
    labels = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 1, 0])
    assert metrics.accuracy(pred, labels) == 0.5
    assert metrics.mean_per_class_accuracy(pred, labels) == pytest.approx((2 / 3 + 0) / 2)


def test_histogram_total_variation_and_kl():
    p = metrics.histogram(np.array([0, 0, 1, 2]), 4)
    q = metrics.histogram(np.array([0, 1, 1, 1]), 4)
    np.testing.assert_allclose(p, [0.5, 0.25, 0.25, 0.0])
    assert metrics.total_variation(p, q) == pytest.approx(0.5 * (0.25 + 0.5 + 0.25))
    assert metrics.kl_divergence(p, p) == pytest.approx(0.0)
    expected = 0.5 * math.log(0.5 / 0.25) + 0.25 * math.log(0.25 / 0.75) + 0.25 * math.log(0.25 / 1e-12)
    assert metrics.kl_divergence(p, q) == pytest.approx(expected, rel=1e-6)


def test_histogram_rejects_out_of_range_predictions():
    with pytest.raises(ConfigError, match=r"predictions must lie in \[0, 3\)"):
        metrics.histogram(np.array([0, 3]), 3)


def test_subgroup_accuracy_and_gap():
    labels = np.array([1, 1, 1, 1])
    pred = np.array([1, 1, 1, 0])
    groups = np.array([0, 0, 1, 1])
    assert metrics.subgroup_accuracy(pred, labels, groups) == {0: 1.0, 1: 0.5}
    assert metrics.subgroup_gap(pred, labels, groups, 0, 1) == 0.5
    with pytest.raises(ConfigError, match=r"group\(s\) \[7\] have no samples"):
        metrics.subgroup_gap(pred, labels, groups, 0, 7)


def test_vectors_must_agree_in_length():
    with pytest.raises(ConfigError, match="differ in length"):
        metrics.accuracy(np.array([0, 1]), np.array([0]))


def test_bootstrap_interval_contains_the_mean_and_is_seeded():
    values = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    low, high = metrics.bootstrap_ci(values, seed=1)
    assert low <= values.mean() <= high
    assert (low, high) == metrics.bootstrap_ci(values, seed=1)


def test_summary_is_a_t_interval_and_one_sided_test():
    values = [0.2, 0.3, 0.4]
    s = metrics.summarize(values)
    sem = np.std(values, ddof=1) / math.sqrt(3)
    half = stats.t.ppf(0.975, 2) * sem
    assert (s.n, s.mean) == (3, pytest.approx(0.3))
    assert (s.ci_low, s.ci_high) == (pytest.approx(0.3 - half), pytest.approx(0.3 + half))
    assert s.p_greater == pytest.approx(stats.ttest_1samp(values, 0.0, alternative="greater").pvalue)


def test_summary_tests_both_directions():
    values = [-0.2, -0.1, -0.25]
    s = metrics.summarize(values)
    assert s.p_less == pytest.approx(stats.ttest_1samp(values, 0.0, alternative="less").pvalue)
    assert s.p_less + s.p_greater == pytest.approx(1.0)


def test_summary_edge_cases():
    assert math.isnan(metrics.summarize([0.5]).p_greater) and math.isnan(metrics.summarize([0.5]).p_less)
    assert metrics.summarize([0.2, 0.2]).p_greater == 0.0 and metrics.summarize([0.2, 0.2]).p_less == 1.0
    assert metrics.summarize([0.0, 0.0]).p_greater == 1.0 and metrics.summarize([0.0, 0.0]).p_less == 1.0
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="finite values"):
            metrics.summarize([0.1, bad])


def test_attribute_gap_measures_leaning_on_the_attribute_not_class_collapse():
    from bt_core.claims import attribute_accuracy_gap
    from bt_core.experiment import Evaluation

    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    male = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    leaning = 1 - male                                   # young if female: right on 4 of 8, by gender
    collapsed = np.ones(8, np.int64)                     # "young" for everyone
    assert attribute_accuracy_gap(Evaluation(labels, {"clean": leaning}, {"male": male}, 2), "male") == 1.0
    assert attribute_accuracy_gap(Evaluation(labels, {"clean": collapsed}, {"male": male}, 2), "male") == 0.0
    half = np.array([0, 0, 0, 1, 1, 1, 1, 1])            # one old man wrong
    assert attribute_accuracy_gap(Evaluation(labels, {"clean": half}, {"male": male}, 2), "male") == 0.25


@pytest.mark.parametrize("values, status", [
    ([0.021, 0.019, 0.014], "holds"),          # a consistent gap of under two points: gone
    ([0.0, -0.034, -0.001], "holds"),
    ([0.3, -0.3, 0.01], "undecided"),          # noisy seeds: no evidence the gap is gone
    ([0.06, 0.07, 0.065], "does not hold"),    # consistent, but above the margin
])
def test_a_gap_is_gone_only_when_significantly_below_the_margin(values, status):
    from bt_core.claims import judge

    verdict = judge("c", "debiased_target", "gap", values, expect="below", threshold=0.05,
                    design=sequential.fixed(3))
    assert verdict.status == status and verdict.passed is (status == "holds")
    assert all("below the margin 0.05" in f for f in verdict.failures)


def test_an_unknown_expectation_is_an_error():
    from bt_core.claims import judge

    with pytest.raises(ValueError, match="expect='not-greater': expected 'greater' or 'below'"):
        judge("c", "x", "m", [0.1, 0.2], expect="not-greater", design=sequential.fixed(2))


@pytest.mark.parametrize("effect, n", [(0.0, 3), (1.4, 3), (2.0, 3), (1.4, 5), (0.8, 8)])
def test_power_is_the_rejection_rate_of_the_t_test_that_judges_a_check(effect, n):
    """Simulate the check itself: n seeds from a normal with mean effect sd above 0, judged by the
    same one-sided test; the formula must match the observed pass rate."""
    ALPHA = sequential.DEFAULT_ALPHA
    draws = np.random.default_rng(7).normal(effect, 1.0, size=(20000, n))
    t = draws.mean(1) / (draws.std(1, ddof=1) / math.sqrt(n))
    observed = np.mean(stats.t.sf(t, n - 1) < ALPHA)
    assert metrics.t_test_power(effect, n, ALPHA) == pytest.approx(observed, abs=0.01)


def test_seeds_for_power_is_the_fewest_that_reach_it():
    n = metrics.seeds_for_power(1.4, 0.9, 0.05)
    assert metrics.t_test_power(1.4, n, 0.05) >= 0.9 > metrics.t_test_power(1.4, n - 1, 0.05)
    assert metrics.seeds_for_power(0.0, 0.9, 0.05) is None          # no effect: never
    assert metrics.t_test_power(math.inf, 2, 0.05) == 1.0 and metrics.t_test_power(-math.inf, 2, 0.05) == 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.t_test_power(1.0, 1, 0.05), "n=1: a t-test needs at least 2 seeds"),
    (lambda: metrics.t_test_power(1.0, 3, 1.5), r"alpha=1.5: expected a level in \(0, 1\)"),
    (lambda: metrics.t_test_power(math.nan, 3, 0.05), "effect is NaN"),
    (lambda: metrics.seeds_for_power(1.0, 1.0, 0.05), r"power=1.0: expected a probability in \(0, 1\)"),
])
def test_power_rejects_out_of_range_input(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


@pytest.mark.parametrize("expect, threshold, mean, std, effect", [
    ("greater", 0.0, 0.3, 0.1, 3.0),
    ("greater", 0.1, 0.05, 0.1, -0.5),      # below the threshold: a negative effect
    ("below", 0.05, 0.01, 0.02, 2.0),       # the de-biased gap: how far under the margin
    ("greater", 0.0, 0.2, 0.0, math.inf),
    ("greater", 0.0, 0.2, math.nan, math.nan),   # one seed: no spread to measure
])
def test_standardized_effect_points_the_way_the_paper_expects(expect, threshold, mean, std, effect):
    from bt_core.claims import standardized_effect

    got = standardized_effect({"expect": expect, "mean": mean, "std": std, "threshold": threshold})
    assert (math.isnan(got) and math.isnan(effect)) or got == pytest.approx(effect)
