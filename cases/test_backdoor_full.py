"""Fig. 2: the backdoor also survives full-network transfer, though the gap between triggered and
clean source is smaller than with fixed-feature transfer."""
import pytest

from bt_core.claims import backdoor_gap

pytestmark = pytest.mark.paper


def test_triggered_source_raises_full_network_asr(bt, check, target):
    check(metric="ASR triggered − clean source",
          measure=lambda seed: backdoor_gap(bt, target, "full", seed),
          context={"source": "triggered vs clean", "target": target, "mode": "full"})


def test_full_network_gap_is_smaller_than_fixed_feature_gap(bt, check, target):
    check(metric="ASR gap fixed − full",
          measure=lambda seed: (backdoor_gap(bt, target, "fixed-feature", seed).value
                                - backdoor_gap(bt, target, "full", seed).value),
          context={"source": "triggered vs clean", "target": target, "mode": "fixed − full"})
