"""Fig. 3: the source model's attack success rate grows with the fraction of superclass images that
carry the trigger, and the fixed-feature transferred model's ASR stays above the clean-source
level even at the smallest fraction."""
import pytest

from bt_core.claims import asr, measured, source_asr
from bt_core.data.registry import superclass
from bt_core.experiment import SourceSpec

pytestmark = pytest.mark.paper
TARGET_INDEX = 0   # the scale's first target, as the paper's Fig. 3 sweeps one target


def _source_asr(bt, fraction, seed):
    classes = superclass(bt.ctx, bt.scale.source_data)
    return source_asr(bt.ctx.evaluate_source(SourceSpec(trigger_fraction=fraction), seed), classes)


def test_source_asr_grows_with_trigger_fraction(bt, check):
    low, high = min(bt.scale.trigger_fractions), max(bt.scale.trigger_fractions)
    check(metric=f"source ASR p={high} − p={low}",
          measure=lambda seed: _source_asr(bt, high, seed) - _source_asr(bt, low, seed),
          context={"source": f"p={low}..{high}", "target": "source test", "mode": "source"})


def test_transferred_asr_stays_above_clean_source(bt, check, fraction):
    target = bt.scale.targets[TARGET_INDEX]

    def gap(seed):
        clean = asr(bt.transfer(bt.clean_source, target, "fixed-feature", seed))
        transferred = asr(bt.transfer(SourceSpec(trigger_fraction=fraction), target, "fixed-feature", seed))
        return measured(transferred - clean, source_asr=_source_asr(bt, fraction, seed),
                        transfer_asr=transferred, clean_transfer_asr=clean)

    check(metric="ASR triggered − clean source", measure=gap,
          context={"source": f"p={fraction}", "target": target, "mode": "fixed-feature", "fraction": fraction})
