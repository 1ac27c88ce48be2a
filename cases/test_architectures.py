"""Fig. 9 and App. A.4: the planted trigger transfers in fixed-feature mode whatever the
architecture family of the source model."""
import pytest

from bt_core.claims import asr, measured
from bt_core.experiment import SourceSpec

pytestmark = pytest.mark.paper


def test_backdoor_transfers_across_architectures(bt, check, arch):
    target = bt.scale.targets[0]
    clean_source = SourceSpec(arch=arch)
    triggered_source = SourceSpec(trigger_fraction=bt.scale.trigger_fraction, arch=arch)

    def gap(seed):
        clean = asr(bt.transfer(clean_source, target, "fixed-feature", seed))
        triggered = asr(bt.transfer(triggered_source, target, "fixed-feature", seed))
        return measured(triggered - clean, clean_source_asr=clean, triggered_source_asr=triggered)

    check(metric="ASR triggered − clean source", measure=gap,
          context={"source": f"{arch} triggered vs clean", "target": target, "mode": "fixed-feature"})
