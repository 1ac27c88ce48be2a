"""Fig. 1: with fixed-feature transfer, a source model with a planted trigger yields a target model
with a higher attack success rate than a clean source does, on every target."""
import pytest

from bt_core.claims import asr

pytestmark = pytest.mark.paper


def test_triggered_source_raises_fixed_feature_asr(bt, check, target):
    clean = bt.over_seeds(lambda s: asr(bt.transfer(bt.clean_source, target, "fixed-feature", s)))
    triggered = bt.over_seeds(lambda s: asr(bt.transfer(bt.triggered_source, target, "fixed-feature", s)))
    check(metric="ASR triggered − clean source", values=triggered - clean,
          context={"source": "triggered vs clean", "target": target, "mode": "fixed-feature",
                   "components": {"clean_source_asr": clean.tolist(), "triggered_source_asr": triggered.tolist()}})
