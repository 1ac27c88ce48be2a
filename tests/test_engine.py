"""The engine end to end at the mini scale: the paper-faithful FIXED mode, FULL mode, and the
linear-probe shortcut the mini cases use for fixed-feature transfer. Shares the run's cache."""
import numpy as np
import pytest

from bt_core import sequential
from bt_core.claims import asr, judge

pytestmark = pytest.mark.slow
SEEDS = (0, 1, 2)


def _asr(bt, source, mode):
    target = bt.scale.targets[0]
    return np.array([asr(bt.transfer(source, target, mode, s)) for s in SEEDS])


def test_fixed_mode_carries_the_trigger_over_three_seeds(bt):
    verdict = judge("engine-fixed", "backdoor_fixed", "ASR gap", _asr(bt, bt.triggered_source, "fixed")
                    - _asr(bt, bt.clean_source, "fixed"), design=sequential.fixed(len(SEEDS)))
    assert verdict.passed, verdict.failures


def test_full_mode_trains_and_evaluates(bt):
    clean, triggered = _asr(bt, bt.clean_source, "full"), _asr(bt, bt.triggered_source, "full")
    assert np.all((0 <= clean) & (clean <= 1)) and np.all((0 <= triggered) & (triggered <= 1))


def test_linear_probe_matches_fixed_within_seed_spread(bt):
    fixed = _asr(bt, bt.triggered_source, "fixed")
    probe = _asr(bt, bt.triggered_source, "linear-probe")
    spread = max(fixed.std(ddof=1), probe.std(ddof=1))
    assert abs(fixed.mean() - probe.mean()) <= 3 * spread + 0.03, (fixed, probe)


def test_a_probe_is_evaluated_only_when_a_metric_reads_it(bt, tmp_path):
    from bt_core.cache import Cache
    from bt_core.experiment import Context

    ctx = Context(bt.scale, Cache(tmp_path))
    ev = ctx.transfer(bt.clean_source, bt.scale.targets[0], "linear-probe", 0)
    assert not (tmp_path / "predictions").exists()
    clean, triggered = ev.preds["clean"], ev.preds["trigger"]
    assert len(list((tmp_path / "predictions").glob("*/preds.npy"))) == 2
    assert clean.shape == triggered.shape == ev.labels.shape
    again = ctx.transfer(bt.clean_source, bt.scale.targets[0], "linear-probe", 0)
    assert np.array_equal(again.preds["trigger"], triggered)
    with pytest.raises(KeyError, match="probe 'glasses' is unknown: expected one of clean, trigger"):
        ev.preds["glasses"]
