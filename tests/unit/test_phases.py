"""The run's time by phase: exclusive seconds per phase in each process, summed over workers, kept
in results.json and report.md and printed with the table. No model is trained here."""
import json

import numpy as np
import pytest
import torch

from bt_core import phases, sequential
from bt_core.cache import Cache
from bt_core.config import get_scale
from bt_core.data.batches import FeatureBatches
from bt_core.experiment import Context
from bt_core.observers import observe
from bt_core.runner import finish_report
from bt_core.session import SeedPlan, Session
from bt_core.train import predict


class FakeTime:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def fake_clock(monkeypatch):
    now = FakeTime()
    clock = phases.Clock(now)
    monkeypatch.setattr(phases, "CLOCK", clock)
    return now, clock


def test_a_nested_phase_takes_its_seconds_from_the_phase_around_it(fake_clock):
    now, clock = fake_clock
    with clock.phase("train"):
        now.t += 3
        with clock.phase("checkpoint"):
            now.t += 2
        now.t += 5
    now.t += 4
    snap = clock.snapshot()
    assert snap["train"] == 8 and snap["checkpoint"] == 2 and snap["span_s"] == 14
    assert phases.merge([snap])["other"] == 4


def test_an_open_phase_counts_up_to_the_snapshot(fake_clock):
    now, clock = fake_clock
    with clock.phase("data"):
        now.t += 6
        assert clock.snapshot()["data"] == 6
        now.t += 1
    assert clock.snapshot()["data"] == 7


def test_an_unknown_phase_is_a_clear_error(fake_clock):
    with pytest.raises(ValueError, match="phase 'training' is unknown: expected one of train, evaluate"):
        with fake_clock[1].phase("training"):
            pass


def test_workers_add_up_and_other_is_each_span_less_its_phases():
    total = phases.merge([{"span_s": 10, "train": 7, "data": 1}, {"span_s": 10, "train": 9}])
    assert total["span_s"] == 20 and total["train"] == 16 and total["data"] == 1 and total["other"] == 3
    line = phases.summary_line(total)
    assert line.startswith("time by phase (20 s inside the checks, all processes): train 16 s (80%) · other 3 s (15%)")


def test_the_library_functions_count_for_their_phase(fake_clock):
    """predict is the evaluation phase wherever it is called from: the decorator, not the caller, counts it."""
    now, clock = fake_clock
    model = torch.nn.Linear(4, 2)
    before = clock.snapshot()
    real = torch.Tensor.argmax

    def slow_argmax(self, *a, **k):       # the fake clock moves while the model predicts
        now.t += 1.5
        return real(self, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.Tensor, "argmax", slow_argmax)
        predict(model, FeatureBatches(torch.zeros(8, 4), torch.zeros(8, dtype=torch.long), batch_size=4, seed=0),
                device=torch.device("cpu"))
    share = phases.since(before, clock.snapshot())
    assert share["evaluate"] == 3.0 and share["train"] == 0.0


def test_a_run_keeps_the_time_by_phase_of_its_checks_in_results_and_report(tmp_path, fake_clock, capsys):
    now, clock = fake_clock
    session = Session(Context(get_scale("mini"), Cache(tmp_path / "cache")), SeedPlan(sequential.fixed(3), fixed=(0, 1, 2)),
                      tmp_path / "baselines", tmp_path / "out", update_baselines=True)
    observe(session)

    def measure(seed: int) -> float:
        with clock.phase("train"):
            now.t += 10
        now.t += 1
        return 0.5 + 0.1 * seed

    now.t += 100                          # other tests of the session: not the claims' time
    session.check(case="demo", check="c1", claim="demo", metric="m", measure=measure)
    now.t += 50
    lines = finish_report(session)
    got = json.loads((tmp_path / "out" / "results.json").read_text())["run"]["time_by_phase"]
    assert got["train"] == 30 and got["span_s"] == 33 and got["other"] == 3
    assert lines[0].startswith("time by phase (33 s inside the checks, all processes): train 30 s (91%)")
    assert lines[0] in (tmp_path / "out" / "report.md").read_text()
    assert np.isclose(sum(got[p] for p in (*phases.PHASES, phases.OTHER)), got["span_s"])
