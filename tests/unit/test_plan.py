"""Planning: a measurement run under a tracer names its models without training, with the cache keys an
inline run uses; waves put sources before the transfers that read them; the wall-time simulation."""
from pathlib import Path

import pytest

from bt_core import sequential
from bt_core.cache import Cache
from bt_core.claims import asr
from bt_core.config import get_scale
from bt_core.experiment import Context, SourceSpec
from bt_core.plan import trace, waves
from bt_core.schedule import makespan, paper_hours, wall_time
from bt_core.session import SeedPlan
from tests.helpers import REPO
from tests.helpers.plan import need


def test_waves_put_a_source_before_the_transfers_that_read_it():
    src = need("s")
    t1, t2 = need("t1", "transfer", [src.entry]), need("t2", "transfer", [src.entry])
    scratch = need("x", "scratch")
    assert [[n.key for n in w] for w in waves([t1, scratch, t2, src])] == [["scratch/x", "source/s"],
                                                                           ["transfer/t1", "transfer/t2"]]


def test_a_transfer_of_a_built_source_that_needs_only_predictions_goes_in_the_first_wave():
    src = need("s", cached=True)
    t = need("t", "transfer", [src.entry])
    assert len(waves([src, t])) == 1


def test_a_dependency_cycle_is_named():
    a = need("a", deps=[Path("cache/source/b")])
    b = need("b", deps=[a.entry])
    with pytest.raises(ValueError, match="cycle"):
        waves([a, b])


def test_makespan_of_a_toy_graph_whose_best_wall_time_is_known():
    # 4 sources of 1 h, then 8 transfers of 15 min: on 2 devices 2 h + 1 h; on 4, 1 h + 30 min
    sources = [need(f"s{i}") for i in range(4)]
    transfers = [need(f"t{i}", "transfer", [sources[i % 4].entry]) for i in range(8)]
    cost = lambda n: 1.0 if n.kind == "source" else 0.25  # noqa: E731
    plan = waves(sources + transfers)
    assert wall_time(plan, cost, 1) == pytest.approx(6.0)
    assert wall_time(plan, cost, 2) == pytest.approx(3.0)
    assert wall_time(plan, cost, 4) == pytest.approx(1.5)
    assert wall_time(plan, cost, 64) == pytest.approx(1.25)


def test_makespan_puts_the_longest_job_first_within_four_thirds_of_the_best():
    assert makespan([5, 3, 2], 2) == pytest.approx(5)                   # the best: 5 | 3 + 2
    assert makespan([3, 3, 2, 2, 2], 2) == pytest.approx(7)             # the best is 6 (3 + 3 | 2 + 2 + 2)
    assert makespan([], 8) == 0
    with pytest.raises(ValueError, match="devices=0"):
        makespan([1.0], 0)


def test_tracing_names_every_model_of_a_backdoor_gap_without_training(tmp_path):
    scale = get_scale("mini")
    ctx = Context(scale, Cache(tmp_path))

    def gap(seed):
        clean = asr(ctx.transfer(SourceSpec(), scale.targets[0], "full", seed))
        triggered = asr(ctx.transfer(SourceSpec(trigger_fraction=scale.trigger_fraction), scale.targets[0], "full", seed))
        return triggered - clean

    tracer = trace(ctx, [(gap, 0), (gap, 1)])
    kinds = sorted(n.kind for n in tracer.needs.values())
    assert kinds == ["source"] * 4 + ["transfer"] * 4
    assert all(not n.cached for n in tracer.needs.values())
    assert not list((tmp_path / "source").glob("*")) and not (tmp_path / "transfer").exists()
    transfers = [n for n in tracer.needs.values() if n.kind == "transfer"]
    assert all(n.probes == {"clean", "trigger"} for n in transfers)
    assert all(len(n.deps) == 1 and n.deps[0] in tracer.needs for n in transfers)
    assert [len(w) for w in waves(tracer.needs.values())] == [4, 4]


def test_a_plan_names_the_paper_scale_without_its_data_and_costs_it(tmp_path):
    scale = get_scale("paper")
    ctx = Context(scale, Cache(tmp_path))
    measure = lambda seed: asr(ctx.transfer(SourceSpec(), "cifar10", "full", seed))  # noqa: E731
    tracer = trace(ctx, [(measure, 0)], allow_missing_data=True)
    assert tracer.missing_data == {"imagenet/train", "cifar10/train", "cifar10/test"}
    source, transfer = sorted(tracer.needs.values(), key=lambda n: n.kind)
    assert paper_hours(source, scale) == pytest.approx(1.0)            # App. A.3's hour for 16 ImageNet epochs
    epochs = scale.train_config("full", "cifar10").epochs
    assert paper_hours(transfer, scale) == pytest.approx(epochs * 50_000 / (16 * 1_281_167))
    with pytest.raises(Exception, match="cifar10"):
        trace(ctx, [(measure, 0)])                                     # a real run needs its data


def test_a_fixed_seed_plan_has_one_look():
    plan = SeedPlan(sequential.fixed(2), fixed=(5, 9))
    assert plan.design.looks == (2,) and plan.seeds(2) == [5, 9]


def test_benchmark_plan_prints_the_paper_scale_without_its_data(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "benchmark", "plan", "--cache", str(tmp_path), "--devices", "1,4",
                          "--plan-seeds", "3", "-k", "backdoor_fixed and cifar10 and not cifar100"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    row = next(line for line in out.stdout.splitlines() if line.strip("│ ").startswith("3 "))
    cells = [c.strip() for c in row.strip("│").split("│")]
    # 3 seeds x (clean, triggered) ImageNet sources and as many fixed-feature transfers to CIFAR-10
    assert cells[:5] == ["3", "6", "6", "0", "0"], row
    assert "wall 4 GPUs" in out.stdout and "App. A.3" in out.stdout and "imagenet/train" in out.stdout
    assert not list(tmp_path.glob("source/*")), "planning trained a model"
