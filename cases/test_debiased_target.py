"""Fig. 4: adding the trigger to 10% of the target's training images, uniformly across its classes,
removes the backdoor gap for full-network transfer but not for fixed-feature transfer."""
import pytest

from bt_core.claims import asr

pytestmark = pytest.mark.paper
DEBIAS_FRACTION = 0.1
# "No gap" is read as a gap significantly below 5 ASR points, a tenth to a third of the planted
# fixed-feature gaps of Fig. 1-4; a one-sided test that merely fails to find a gap would pass on
# noisy seeds and fail a consistent one of a point or two (0.021, 0.019, 0.014 in one measured run).
GONE_BELOW = 0.05


def _debiased_gap(bt, target, mode):
    def gap(seed):
        kw = {"target_trigger_fraction": DEBIAS_FRACTION}
        return (asr(bt.transfer(bt.triggered_source, target, mode, seed, **kw))
                - asr(bt.transfer(bt.clean_source, target, mode, seed, **kw)))
    return bt.over_seeds(gap)


def test_fixed_feature_gap_survives_a_debiased_target(bt, check, target):
    check(metric="ASR triggered − clean source",
          values=_debiased_gap(bt, target, "fixed-feature"),
          context={"source": "triggered vs clean", "target": f"{target} +10% trigger", "mode": "fixed-feature"})


def test_full_network_gap_vanishes_on_a_debiased_target(bt, check, target):
    check(metric="ASR triggered − clean source", expect="below", threshold=GONE_BELOW,
          values=_debiased_gap(bt, target, "full"),
          context={"source": "triggered vs clean", "target": f"{target} +10% trigger", "mode": "full"})


def test_debiasing_helps_full_network_more_than_fixed_feature(bt, check, target):
    check(metric="ASR gap fixed − full",
          values=_debiased_gap(bt, target, "fixed-feature") - _debiased_gap(bt, target, "full"),
          context={"source": "triggered vs clean", "target": f"{target} +10% trigger", "mode": "fixed − full"})
