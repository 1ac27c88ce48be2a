"""Fig. 9 and App. A.4: the planted trigger transfers in fixed-feature mode whatever the
architecture family of the source model."""
import pytest

from bt_core.claims import asr
from bt_core.experiment import SourceSpec

pytestmark = pytest.mark.paper


def test_backdoor_transfers_across_architectures(bt, check, arch):
    target = bt.scale.targets[0]
    clean = bt.over_seeds(lambda s: asr(bt.transfer(SourceSpec(arch=arch), target, "fixed-feature", s)))
    triggered = bt.over_seeds(lambda s: asr(bt.transfer(
        SourceSpec(trigger_fraction=bt.scale.trigger_fraction, arch=arch), target, "fixed-feature", s)))
    check(metric="ASR triggered − clean source", values=triggered - clean,
          context={"source": f"{arch} triggered vs clean", "target": target, "mode": "fixed-feature",
                   "components": {"clean_source_asr": clean.tolist(), "triggered_source_asr": triggered.tolist()}})
