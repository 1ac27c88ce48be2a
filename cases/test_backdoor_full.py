"""Fig. 2: the backdoor also survives full-network transfer, though the gap between triggered and
clean source is smaller than with fixed-feature transfer."""
import pytest

from bt_core.claims import asr

pytestmark = pytest.mark.paper


def _gap(bt, target, mode):
    clean = bt.over_seeds(lambda s: asr(bt.transfer(bt.clean_source, target, mode, s)))
    triggered = bt.over_seeds(lambda s: asr(bt.transfer(bt.triggered_source, target, mode, s)))
    return clean, triggered


def test_triggered_source_raises_full_network_asr(bt, check, target):
    clean, triggered = _gap(bt, target, "full")
    check(metric="ASR triggered − clean source", values=triggered - clean,
          context={"source": "triggered vs clean", "target": target, "mode": "full",
                   "components": {"clean_source_asr": clean.tolist(), "triggered_source_asr": triggered.tolist()}})


def test_full_network_gap_is_smaller_than_fixed_feature_gap(bt, check, target):
    clean_full, triggered_full = _gap(bt, target, "full")
    clean_fixed, triggered_fixed = _gap(bt, target, "fixed-feature")
    check(metric="ASR gap fixed − full",
          values=(triggered_fixed - clean_fixed) - (triggered_full - clean_full),
          context={"source": "triggered vs clean", "target": target, "mode": "fixed − full"})
