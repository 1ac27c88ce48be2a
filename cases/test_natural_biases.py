"""Fig. 7, 8 and App. B: overlaying a feature that the source ties to one of its classes (a tennis
ball, a chain-link fence, a hat) on target test images skews the output distribution of transferred
models far more than that of a model trained on the target from scratch, in fixed-feature and
full-network transfer alike."""
import numpy as np
import pytest

from bt_core.claims import output_shift
from bt_core.metrics import histogram

pytestmark = pytest.mark.paper
INTERVENTIONS = ("tennis_ball", "chain_link_fence", "hat")
# Measured with baselines/mini (seeds 0-2): positive on every seed (0.21, 0.10, 0.04) but not
# significant with three; with --bt-seeds 5 it passes (mean 0.09, p = 0.021). See the README.
MINI_SHORTFALLS = {"full-hat": "shift 0.12 not significant (p=0.068, 3 seeds)"}


@pytest.mark.parametrize("probe", INTERVENTIONS)
def test_intervention_shifts_transferred_more_than_scratch(bt, check, shortfall, probe, mode):
    shortfall(MINI_SHORTFALLS)
    target = bt.scale.targets[0]
    transferred = [bt.transfer(bt.clean_source, target, mode, s) for s in bt.seeds]
    scratch = [bt.transfer(None, target, "scratch", s) for s in bt.seeds]
    shift = np.array([output_shift(e, probe) for e in transferred])
    base = np.array([output_shift(e, probe) for e in scratch])

    def mean_hist(evals, name):
        return np.mean([histogram(e.preds[name], e.num_classes) for e in evals], axis=0).tolist()

    check(metric="TV shift transfer − scratch", values=shift - base,
          context={"source": "clean", "target": target, "mode": mode, "probe": probe,
                   "components": {"transfer_shift": shift.tolist(), "scratch_shift": base.tolist()},
                   "histograms": {"scratch": mean_hist(scratch, "clean"),
                                  f"scratch + {probe}": mean_hist(scratch, probe),
                                  "transfer": mean_hist(transferred, "clean"),
                                  f"transfer + {probe}": mean_hist(transferred, probe)}})
