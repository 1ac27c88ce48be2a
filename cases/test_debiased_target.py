"""Fig. 4: adding the trigger to 10% of the target's training images, uniformly across its classes,
removes the backdoor gap for full-network transfer but not for fixed-feature transfer."""
import pytest

from bt_core.claims import backdoor_gap

pytestmark = pytest.mark.paper
DEBIAS_FRACTION = 0.1
# "No gap" is read as a gap significantly below 5 ASR points, a tenth to a third of the planted
# fixed-feature gaps of Fig. 1-4; a one-sided test that merely fails to find a gap would pass on
# noisy seeds and fail a consistent one of a point or two (0.021, 0.019, 0.014 in one measured run).
GONE_BELOW = 0.05


def _debiased_gap(bt, target, mode, seed):
    return backdoor_gap(bt, target, mode, seed, target_trigger_fraction=DEBIAS_FRACTION).value


def test_fixed_feature_gap_survives_a_debiased_target(bt, check, target):
    check(metric="ASR triggered − clean source",
          measure=lambda seed: _debiased_gap(bt, target, "fixed-feature", seed),
          context={"source": "triggered vs clean", "target": f"{target} +10% trigger", "mode": "fixed-feature"})


def test_full_network_gap_vanishes_on_a_debiased_target(bt, check, target):
    check(metric="ASR triggered − clean source", expect="below", threshold=GONE_BELOW,
          measure=lambda seed: _debiased_gap(bt, target, "full", seed),
          context={"source": "triggered vs clean", "target": f"{target} +10% trigger", "mode": "full"})


def test_debiasing_helps_full_network_more_than_fixed_feature(bt, check, target):
    check(metric="ASR gap fixed − full",
          measure=lambda seed: (_debiased_gap(bt, target, "fixed-feature", seed)
                                - _debiased_gap(bt, target, "full", seed)),
          context={"source": "triggered vs clean", "target": f"{target} +10% trigger", "mode": "fixed − full"})
