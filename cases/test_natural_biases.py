"""Fig. 7, 8 and App. B: overlaying a feature that the source ties to one of its classes (a tennis
ball, a chain-link fence, a hat) on target test images skews the output distribution of transferred
models far more than that of a model trained on the target from scratch, in fixed-feature and
full-network transfer alike. The interventions are the scale's (or --bt-stencil's); an audit
(--bt-source-weights, --bt-target-dir) asks the same of a given pre-trained source and target, and
also whether the shift comes from the feature rather than from its colours covering a corner of the image."""
import pytest

from bt_core.claims import MIN_FEATURE_SHIFT, feature_shift, measured, output_shift
from bt_core.metrics import histogram

pytestmark = pytest.mark.audit


@pytest.mark.paper
def test_intervention_shifts_transferred_more_than_scratch(bt, check, intervention, mode):
    target = bt.scale.targets[0]

    def excess_shift(seed):
        transferred = bt.transfer(bt.clean_source, target, mode, seed)
        scratch = bt.transfer(None, target, "scratch", seed)
        shift, base = output_shift(transferred, intervention), output_shift(scratch, intervention)
        hist = {f"{name}{suffix}": histogram(ev.preds[p], ev.num_classes).tolist()
                for name, ev in (("scratch", scratch), ("transfer", transferred))
                for suffix, p in (("", "clean"), (f" + {intervention}", intervention))}
        return measured(shift - base, transfer_shift=shift, scratch_shift=base, histograms=hist)

    check(metric="TV shift transfer − scratch", measure=excess_shift,
          context={"source": "clean", "target": target, "mode": mode, "probe": intervention})


def test_the_feature_not_the_covered_corner_shifts_transferred_more(bt, check, intervention, mode):
    """A transferred model may react to any overlay in a corner more than a scratch model does, a
    source with no tie to the feature included; net of the shift its scrambled pixels cause (same
    colours and coverage, no object), what remains is the feature's own pull, which a given source
    must show by more than MIN_FEATURE_SHIFT."""
    target = bt.scale.targets[0]

    def excess_feature_shift(seed):
        transferred = bt.transfer(bt.clean_source, target, mode, seed)
        scratch = bt.transfer(None, target, "scratch", seed)
        shift, base = feature_shift(transferred, intervention), feature_shift(scratch, intervention)
        return measured(shift - base, transfer_feature_shift=shift, scratch_feature_shift=base)

    check(metric="feature TV shift, transfer − scratch", measure=excess_feature_shift,
          threshold=MIN_FEATURE_SHIFT,
          context={"source": "clean", "target": target, "mode": mode, "probe": intervention})
