"""Fig. 1: with fixed-feature transfer, a source model with a planted trigger yields a target model
with a higher attack success rate than a clean source does, on every target."""
import pytest

from bt_core.claims import backdoor_gap

pytestmark = pytest.mark.paper


def test_triggered_source_raises_fixed_feature_asr(bt, check, target):
    check(metric="ASR triggered − clean source",
          measure=lambda seed: backdoor_gap(bt, target, "fixed-feature", seed),
          context={"source": "triggered vs clean", "target": target, "mode": "fixed-feature"})
