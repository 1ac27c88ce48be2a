"""The run's progress display: the events processes write, the estimate of what is left, and the two
ways of showing it (tests/integration/test_progress_run.py shows it on a cold run)."""
import io
import json
import time

import pytest
import torch
from torch import nn

from bt_core import sequential, timing
from bt_core.baselines import provenance, record
from bt_core.cache import CPU, Cache, built
from bt_core.config import get_scale
from bt_core.train_config import TrainConfig
from bt_core.data.batches import FeatureBatches
from bt_core.estimate import Prior, RunEstimate, key_of, priors, read_events
from bt_core.events import Events
from bt_core.experiment import Context
from bt_core.monitor import Monitor, panel
from bt_core.progress import RunLog
from bt_core.session import SeedPlan, Session
from bt_core.train import train

LOOKS = sequential.DEFAULT_LOOKS
SRC, FIX = "source source p=0.0 mini_resnet", "linear-probe shapes4 mini_resnet from source p=0.0"


def _estimate(plan, start=0.0):
    return RunEstimate(plan, LOOKS, lambda n: list(range(n)), start)


def _model(est, worker, family, seed, t, wall=0.0, hit=False):
    if not hit:
        est.feed(worker, {"ev": "build", "family": family, "seed": seed, "t": t - wall})
    return est.feed(worker, {"ev": "model", "family": family, "seed": seed, "hit": hit, "wall_s": wall,
                             "ips": 1000.0, "t": t})


def test_events_are_read_as_whole_lines_from_where_the_reader_left_off(tmp_path):
    log = RunLog(tmp_path / "ev", "gw0")
    log.seed_begun("c::x", 0)
    log.model_ready("fam", 0, tmp_path / "entry", True)
    with open(log.path, "a") as f:
        f.write('{"ev": "build", "t"')                   # a line being written
    events, offset = read_events(log.path, 0)
    assert [e["ev"] for e in events] == ["check", "model"] and events[1]["hit"] is True
    assert read_events(log.path, offset) == ([], offset)
    assert read_events(tmp_path / "none.jsonl", 0) == ([], 0)


def test_a_rewritten_file_is_read_from_its_start_and_a_bad_line_is_passed_over(tmp_path):
    path = tmp_path / "gw0.jsonl"
    path.write_text('{"ev": "check"}\n' * 10)
    _, offset = read_events(path, 0)
    path.write_text('not json\n{"ev": "model"}\n')                  # shorter: another run wrote it anew
    events, after = read_events(path, offset)
    assert [e["ev"] for e in events] == ["model"] and after == path.stat().st_size


def test_the_trainer_reports_each_epoch_and_its_speed():
    calls = []
    batches = FeatureBatches(torch.randn(64, 4), torch.randint(0, 2, (64,)), batch_size=16, seed=0)
    train(nn.Linear(4, 2), batches, TrainConfig(epochs=2, batch_size=16, lr=0.1, peak_epoch=1),
          device=torch.device("cpu"), seed=0, on_progress=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert all(c[1] == 2 and c[2] > 0 for c in calls)


def test_the_log_writes_every_epoch_end_but_throttles_steps_within_one(tmp_path):
    log = RunLog(tmp_path, "main")
    for done in (0.1, 0.2, 0.3, 1.0, 2.0):
        log.training(done, 2, 500.0)
    log.build_begun(SRC, 0)                     # the next model's first step is written at once
    log.training(0.1, 2, 500.0)
    epochs = [e.get("epoch") for e in read_events(log.path, 0)[0]]
    assert epochs == [0.1, 1.0, 2.0, None, 0.1]


def test_the_context_reports_a_build_then_a_hit_for_the_same_model(tmp_path):
    ctx = Context(get_scale("mini"), Cache(tmp_path / "cache"), events=Events(RunLog(tmp_path / "ev", "main")))

    def build(folder):
        time.sleep(0.01)
        (folder / "history.json").write_text(json.dumps({"images_per_s": 321.0}))

    entries = [ctx.cached("source", {"seed": 4}, build, family=SRC) for _ in range(2)]
    # the build's time and CPU are kept with the model, for the timing file
    wall, machine = built(entries[0])
    assert entries[0] == entries[1] and wall >= 0.01 and machine == CPU
    ctx.cached("predictions", {"seed": 4}, lambda folder: None)          # not a model: no event
    events, _ = read_events(tmp_path / "ev" / "main.jsonl", 0)
    assert [(e["ev"], e.get("hit")) for e in events] == [("build", None), ("model", False), ("model", True)]
    assert events[1]["family"] == SRC and events[1]["seed"] == 4 and events[1]["ips"] == 321.0
    assert events[1]["wall_s"] == wall and events[2]["wall_s"] == 0.0


def test_a_session_reports_each_seed_a_check_measures(tmp_path):
    ctx = Context(get_scale("mini"), Cache(tmp_path / "cache"), events=Events(RunLog(tmp_path / "ev", "main")))
    session = Session(ctx, SeedPlan(sequential.fixed(3), fixed=(0, 1, 2)), tmp_path / "b", tmp_path / "out")
    session.check(case="demo", check="c1[x]", claim="demo", metric="m", measure=lambda seed: 0.3 + seed / 100)
    events, _ = read_events(tmp_path / "ev" / "main.jsonl", 0)
    assert [(e["ev"], e["check"], e["seed"]) for e in events] == [
        (ev, "demo::c1[x]", s) for s in (0, 1, 2) for ev in ("check", "measured")]


def test_a_node_id_names_its_case_and_check():
    assert key_of("cases/test_backdoor_fixed.py::test_gap[shapes4]") == "backdoor_fixed::test_gap[shapes4]"


def test_the_plan_counts_each_shared_model_once_over_the_seeds_each_check_took():
    est = _estimate({"a::one": Prior(3, (SRC, FIX)), "a::two": Prior(5, (SRC,)), "b::three": Prior(None, ())})
    assert est.total_models() == (3 + 5, False)          # the source to 5 seeds, the transfer to 3
    assert est.checks() == (0, 3, 0)


def test_cached_models_count_as_done_and_do_not_set_the_rate():
    est = _estimate({"a::one": Prior(3, (SRC, FIX))})
    est.feed("main", {"ev": "check", "check": "a::one", "seed": 0, "t": 0.0})
    _model(est, "main", SRC, 0, t=0.5, hit=True)
    assert (est.built, est.cached) == (0, 1) and est.remaining_s(0.5) is None
    _model(est, "main", FIX, 0, t=10.5, wall=10.0)
    # left: the source on seeds 1, 2 (no source built yet: every built model's mean, 10 s) and the
    # transfer on seeds 1, 2 (10 s each), half of them expected from the cache as so far; and two check
    # seeds of the 0.5 s spent outside model builds (data, evaluation)
    assert est.remaining_s(10.5) == pytest.approx(0.5 * 4 * 10.0 + 2 * 0.5)


def test_a_check_that_goes_on_is_planned_to_its_next_look_and_an_ended_one_to_its_seeds():
    est = _estimate({"a::one": Prior(3, (SRC,)), "a::two": Prior(3, (SRC,))})
    for seed in range(4):
        est.feed("main", {"ev": "check", "check": "a::one", "seed": seed, "t": float(seed)})
    assert est.expected_seeds("a::one") == 5
    est.item_done("a::one", failed=True)
    assert est.expected_seeds("a::one") == 4 and est.checks() == (1, 2, 1)
    est.item_done("a::two", failed=False)               # skipped before its first seed
    assert est.expected_seeds("a::two") == 0


def test_families_a_check_asks_for_join_its_plan_and_unrecorded_checks_are_a_rough_guess():
    est = _estimate({"a::one": Prior(3, None), "a::two": Prior(3, None)})
    assert est.total_models() == (0, True)
    est.feed("main", {"ev": "check", "check": "a::one", "seed": 0, "t": 0.0})
    _model(est, "main", SRC, 0, t=20.0, wall=20.0)
    _model(est, "main", FIX, 0, t=22.0, wall=2.0)
    # a::one now plans both families on 3 seeds (6); a::two, not begun, is guessed at 2 per seed
    assert est.total_models() == (6 + 3 * 2 - 0, True)
    assert est.cost("linear-probe shapes8 mini_resnet from source p=0.0") == pytest.approx(2.0)  # by kind
    assert est.cost("scratch shapes12 mini_resnet from scratch") == pytest.approx(11.0)          # by all


def test_the_eta_scales_the_work_left_by_the_workers_running_at_once():
    one, two = (_estimate({"a::one": Prior(3, (SRC,))}) for _ in range(2))
    for est, workers in ((one, ["gw0"]), (two, ["gw0", "gw1"])):
        for seed, worker in zip(range(len(workers)), workers):
            est.feed(worker, {"ev": "check", "check": "a::one", "seed": seed, "t": 0.0})
            _model(est, worker, SRC, seed, t=10.0, wall=10.0)
    assert one.remaining_s(10.0) == pytest.approx(20.0)      # two sources of 10 s left, one worker
    assert two.remaining_s(10.0) == pytest.approx(5.0)       # one left, two workers


def test_other_tests_in_the_session_neither_slow_the_eta_nor_add_overhead():
    """One pytest session may run the unit tests before the cases (bt test, CI), some of them
    building models: only the time inside check seeds sets the rate and the per-seed overhead."""
    late = _estimate({"a::one": Prior(3, (SRC,))}, start=0.0)
    _model(late, "main", FIX, 0, t=60.0, wall=30.0)                 # a unit test builds a model
    late.feed("main", {"ev": "check", "check": "a::one", "seed": 0, "t": 1440.0})   # 24 min of tests
    _model(late, "main", SRC, 0, t=1450.0, wall=10.0)
    late.feed("main", {"ev": "measured", "check": "a::one", "seed": 0, "t": 1451.0})
    # two sources left at their family's 10 s (both expected built: 2 of 2 models asked for were
    # built), and two seeds of 1 s overhead (data, evaluation), not 1,411 s of other tests each
    assert late.remaining_s(1451.0) == pytest.approx(2 * 10.0 + 2 * 1.0)


def _record(tmp_path, case, check, n, arch="mini_resnet", models=(SRC,)):
    prov = provenance(scale="mini", seeds=list(range(n)), arch=arch, command=["pytest"], device="cpu",
                      models=models)
    record(tmp_path / "baselines", "mini", case, check, {"n": n, "mean": 0.1, "std": 0.01}, [0.1] * n, prov)


def test_priors_come_from_baselines_of_this_arch_else_from_the_previous_run(tmp_path):
    _record(tmp_path, "demo", "c1", 5)
    _record(tmp_path, "demo", "c2", 8, arch="mini_vgg")
    out = tmp_path / "out"
    out.mkdir()
    previous = [{"claim": "demo", "check": c, "seeds": [0, 1, 2], "status": "holds", "context": {"models": [FIX]}}
                for c in ("c2", "c3")]
    (out / "results.json").write_text(json.dumps({"run": {"scale": "mini", "arch": "mini_resnet"},
                                                  "verdicts": previous}))
    got = priors(["demo::c1", "demo::c2", "demo::c3", "other::c4"], baselines_dir=tmp_path / "baselines",
                 output_dir=out, scale="mini", arch="mini_resnet")
    assert got == {"demo::c1": Prior(5, (SRC,)), "demo::c2": Prior(3, (FIX,)), "demo::c3": Prior(3, (FIX,)),
                   "other::c4": Prior(None, None)}


def test_a_family_not_built_yet_costs_its_recorded_time_at_this_runs_speed(tmp_path):
    """A cold run meets its families in the order of the cases: one not yet built is costed from
    the timing file's build times, scaled by how this machine compares on the families already built
    (the kind's mean overcharged CI's cheap late families by 77%)."""
    _record(tmp_path, "demo", "c1", 3, models=(SRC, FIX))
    timing.record(tmp_path / "baselines", "mini", [timing.Build(SRC, 0, "k0", 20.0, "cpu A"),
                                                   timing.Build(FIX, 0, "k1", 3.0, "cpu A"),
                                                   timing.Build(FIX, 1, "k2", 5.0, "cpu A")], "cpu A")
    plan = priors(["demo::c1"], baselines_dir=tmp_path / "baselines", output_dir=tmp_path / "none",
                  scale="mini", arch="mini_resnet")
    recorded = timing.seconds(tmp_path / "baselines", "mini")
    assert recorded == {SRC: 20.0, FIX: 4.0}
    est = RunEstimate(plan, LOOKS, lambda n: list(range(n)), 0.0, recorded)
    assert est.cost(FIX) == pytest.approx(4.0)                  # nothing built yet: as recorded
    est.feed("main", {"ev": "check", "check": "demo::c1", "seed": 0, "t": 0.0})
    _model(est, "main", SRC, 0, t=30.0, wall=30.0)              # this machine: 1.5x the recording's time
    assert est.cost(FIX) == pytest.approx(6.0)                  # not the kind-less mean of 30 s
    _model(est, "main", FIX, 0, t=35.0, wall=5.0)
    assert est.cost(FIX) == pytest.approx(5.0)                  # once built, its own time


@pytest.mark.parametrize("content", ["{not json", json.dumps({"verdicts": "?"})])
def test_unreadable_previous_results_give_no_prior_rather_than_an_error(tmp_path, content):
    (tmp_path / "results.json").write_text(content)
    assert priors(["demo::c1"], baselines_dir=tmp_path / "b", output_dir=tmp_path, scale="mini",
                  arch="mini_resnet") == {"demo::c1": Prior(None, None)}


def _ran(tmp_path, mode):
    folder = tmp_path / "ev"
    stream = io.StringIO()
    monitor = Monitor(folder, _estimate({"a::one": Prior(3, (SRC,))}, start=0.0), stream, mode)
    log = RunLog(folder, "gw1")
    log.seed_begun("a::one", 0)
    log.build_begun(SRC, 0)
    log.emit("model", family=SRC, seed=0, hit=False, wall_s=12.5, ips=2400.0)
    monitor.poll()
    return monitor, stream.getvalue()


def test_off_a_terminal_each_model_built_is_one_plain_line(tmp_path):
    monitor, out = _ran(tmp_path, "auto")
    assert not monitor.live and "\x1b" not in out
    text = out.splitlines()[0]
    assert text.startswith(f"bt: built {SRC} seed 0 in 12.5 s (2,400 img/s) | models 1/3 (1 trained, 0 from "
                           "the cache) | checks 0/1 | ")
    assert "elapsed, ETA " in text and len(out.splitlines()) == 1


def test_a_check_ends_after_the_models_it_built_were_reported(tmp_path):
    """A check's end reaches the display (pytest's report) before the poller has read the events
    the check wrote just before it; its last model must still be counted under the open check."""
    folder = tmp_path / "ev"
    stream = io.StringIO()
    monitor = Monitor(folder, _estimate({"a::one": Prior(3, (SRC,))}, start=0.0), stream, "lines")
    log = RunLog(folder, "gw0")
    log.seed_begun("a::one", 0)
    log.build_begun(SRC, 0)
    log.emit("model", family=SRC, seed=0, hit=False, wall_s=1.0, ips=100.0)
    monitor.item_done("a::one", True)               # no poll in between
    assert "checks 0/1 |" in stream.getvalue().splitlines()[0]
    assert monitor.estimate.checks() == (1, 1, 1)


def test_a_failing_display_turns_itself_off_and_never_stops_the_run(tmp_path):
    folder = tmp_path / "ev"
    folder.mkdir()
    stream = _Unclosed()
    monitor = Monitor(folder, _estimate({"a::one": Prior(3, (SRC,))}, start=0.0), stream, "lines").start()
    (folder / "gw0.jsonl").write_text('{"ev": "model", "no": "fields"}\n')    # an event it cannot use
    monitor.item_done("a::one", False)
    monitor.stop()                                                            # no exception
    assert monitor._failed and stream.getvalue().count("bt: progress display off (") == 1


class _Unclosed(io.StringIO):
    def close(self):                    # the monitor closes its stream; keep the text to read
        pass


def test_on_a_terminal_the_panel_shows_counts_the_model_in_training_and_the_eta(tmp_path):
    est = _estimate({"a::one": Prior(3, (SRC, FIX))}, start=0.0)
    est.feed("gw0", {"ev": "check", "check": "a::one", "seed": 0, "t": 0.0})
    _model(est, "gw0", SRC, 0, t=30.0, wall=30.0)
    est.feed("gw0", {"ev": "build", "family": FIX, "seed": 0, "t": 30.0})
    est.feed("gw0", {"ev": "train", "epoch": 1.5, "epochs": 3, "ips": 1234.0, "t": 31.0})
    console = io.StringIO()
    from rich.console import Console

    Console(file=console, width=140).print(panel(est, 40.0))
    text = console.getvalue()
    assert "1/6 models" in text and "1 trained, 0 from the cache; checks 0/1" in text
    assert f"gw0: training {FIX} seed 0 (epoch 2/3, 1,234 img/s" in text
    assert "0:40 elapsed, ETA " in text and "estimating" not in text

