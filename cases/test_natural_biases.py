"""Fig. 7, 8 and App. B: overlaying a feature that the source ties to one of its classes (a tennis
ball, a chain-link fence, a hat) on target test images skews the output distribution of transferred
models far more than that of a model trained on the target from scratch, in fixed-feature and
full-network transfer alike. The interventions are the scale's (or --bt-stencil's); an audit
(--bt-source-weights, --bt-target-dir) asks the same of a given pre-trained source and target."""
import pytest

from bt_core.claims import measured, output_shift
from bt_core.metrics import histogram

pytestmark = [pytest.mark.paper, pytest.mark.audit]


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
