"""The timing file: build seconds per family and seed, of one machine, apart from the baselines."""
import json

from bt_core import timing
from bt_core.baselines import provenance, record
from bt_core.cache import HOST
from bt_core.estimate import Prior, priors

SRC = "source source p=0.0 mini_resnet"


def _build(family, seed, wall, machine="cpu A", key=None):
    return timing.Build(family, seed, key or f"{family}-{seed}", wall, machine)


def test_workers_recording_on_one_machine_merge_and_a_seed_recorded_again_is_replaced(tmp_path):
    timing.record(tmp_path, "mini", [_build(SRC, 0, 10.0), _build("full b", 0, 2.0)], "cpu A")
    timing.record(tmp_path, "mini", [_build(SRC, 1, 14.0), _build(SRC, 0, 12.0)], "cpu A")
    blob = json.loads(timing.path_for(tmp_path, "mini").read_text())
    assert blob["machine"] == "cpu A" and blob["scale"] == "mini"
    assert blob["families"] == {"full b": {"0": 2.0}, SRC: {"0": 12.0, "1": 14.0}}
    assert timing.seconds(tmp_path, "mini") == {"full b": 2.0, SRC: 13.0}


def test_a_recording_on_another_machine_starts_the_file_afresh(tmp_path):
    timing.record(tmp_path, "mini", [_build(SRC, 0, 10.0), _build("full b", 0, 2.0)], "cpu A")
    timing.record(tmp_path, "mini", [_build(SRC, 0, 30.0, "cpu B")], "cpu B")
    assert timing.seconds(tmp_path, "mini") == {SRC: 30.0}


def test_only_builds_of_this_machine_count_and_an_old_entry_by_this_hosts_record(tmp_path):
    builds = [_build(SRC, 0, 10.0), _build(SRC, 1, 99.0, "cpu B"), _build(SRC, 2, 11.0, None, "old-here"),
              _build(SRC, 3, 50.0, None, "old-there"), _build(SRC, 4, None)]
    records = [{"key": "old-here", "host": HOST}, {"key": "old-there", "host": HOST + "-other"}]
    assert [b.seed for b in timing.here(builds, "cpu A", lambda: records)] == [0, 2]


def test_the_prior_of_this_hosts_cache_builds_is_their_mean_per_family():
    records = [{"family": SRC, "host": HOST, "wall_s": 4.0}, {"family": SRC, "host": HOST, "wall_s": 6.0},
               {"family": SRC, "host": HOST + "-other", "wall_s": 100.0}, {"family": None, "host": HOST, "wall_s": 1.0}]
    assert timing.cache_seconds(records) == {SRC: 5.0}


def test_a_missing_or_unreadable_timing_file_gives_no_prior(tmp_path):
    assert timing.seconds(tmp_path, "mini") == {}
    timing.path_for(tmp_path, "mini").parent.mkdir()
    timing.path_for(tmp_path, "mini").write_text("{not json")
    assert timing.seconds(tmp_path, "mini") == {}


def test_baselines_recorded_with_build_seconds_still_load_and_give_their_seeds_and_families(tmp_path):
    prov = {**provenance(scale="mini", seeds=[0, 1, 2], arch="mini_resnet", command=["pytest"], device="cpu",
                         models=[SRC]), "build_s": {SRC: 20.0}}
    record(tmp_path, "mini", "demo", "c1", {"n": 3, "mean": 0.1, "std": 0.01}, [0.1] * 3, prov)
    got = priors(["demo::c1"], baselines_dir=tmp_path, output_dir=tmp_path / "none", scale="mini",
                 arch="mini_resnet")
    assert got == {"demo::c1": Prior(3, (SRC,))}
