"""The run-level bookkeeping: baselines recorded by an update run, compared by the next run, and
rows merged for the report. No model is trained here."""
import json

import pytest

from bt_core.cache import Cache
from bt_core.config import get_scale
from bt_core.errors import BaselineError, ConfigError
from bt_core.experiment import Context
from bt_core.session import Session, check_writable, collect_rows


def _session(tmp_path, update, arch=None):
    scale = get_scale("mini").with_overrides(arch=arch)
    return Session(Context(scale, Cache(tmp_path / "cache")), (0, 1, 2), tmp_path / "baselines",
                   tmp_path / "out", update_baselines=update, command=["pytest", "-m", "paper"])


def test_update_run_records_baselines_with_provenance(tmp_path):
    _session(tmp_path, update=True).check(case="demo", check="c1", claim="demo", metric="m",
                                          values=[0.30, 0.32, 0.31])
    blob = json.loads((tmp_path / "baselines" / "mini" / "demo.json").read_text())
    entry = blob["checks"]["c1"]
    assert entry["values"] == [0.30, 0.32, 0.31] and entry["n"] == 3
    prov = entry["provenance"]
    assert prov["command"] == "pytest -m paper" and prov["seeds"] == [0, 1, 2] and prov["scale"] == "mini"
    assert prov["arch"] == "mini_resnet" and prov["versions"]["torch"] and prov["commit"]


def test_next_run_fails_when_the_mean_drifts_beyond_tolerance(tmp_path):
    _session(tmp_path, update=True).check(case="demo", check="c1", claim="demo", metric="m",
                                          values=[0.30, 0.32, 0.31])
    same = _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m",
                                                  values=[0.31, 0.30, 0.32])
    assert same.passed and same.baseline["mean"] == pytest.approx(0.31)
    drifted = _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m",
                                                     values=[0.60, 0.62, 0.61])
    assert not drifted.passed and "drifted" in drifted.failures[0]


def test_baseline_of_another_architecture_is_not_compared(tmp_path):
    _session(tmp_path, update=True).check(case="demo", check="c1", claim="demo", metric="m", values=[0.3, 0.32, 0.31])
    other = _session(tmp_path, update=False, arch="mini_vgg").check(case="demo", check="c1", claim="demo",
                                                                    metric="m", values=[0.6, 0.62, 0.61])
    assert other.passed and other.baseline is None and "no baseline" in other.context["baseline_note"]


def test_malformed_baseline_file_is_a_clear_error(tmp_path):
    path = tmp_path / "baselines" / "mini" / "demo.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(BaselineError, match="demo.json.*not valid JSON"):
        _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m", values=[1, 2])


def test_baseline_recorded_at_another_scale_is_a_clear_error(tmp_path):
    path = tmp_path / "baselines" / "mini" / "demo.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"scale": "paper", "checks": {}}))
    with pytest.raises(BaselineError, match="recorded at scale 'paper', expected 'mini'"):
        _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m", values=[1, 2])


def test_rows_of_all_workers_are_merged(tmp_path):
    for worker in ("gw0", "gw1"):
        s = _session(tmp_path, update=False)
        s.worker = worker
        s.check(case="demo", check=f"c-{worker}", claim="demo", metric="m", values=[0.1, 0.2, 0.3])
    assert [r["check"] for r in collect_rows(tmp_path / "out")] == ["c-gw0", "c-gw1"]


def test_unwritable_results_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="results directory.*not writable"):
        check_writable(blocker / "sub", "results directory")


@pytest.mark.parametrize("entry", [None, 5])
def test_baseline_entry_that_is_not_an_object_is_a_clear_error(tmp_path, entry):
    path = tmp_path / "baselines" / "mini" / "demo.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"scale": "mini", "checks": {"c1": entry}}))
    with pytest.raises(BaselineError, match="'c1' in .*demo.json.* is malformed: expected an object"):
        _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m", values=[1, 2])


def test_a_known_shortfall_stands_only_for_the_run_it_was_measured_on(tmp_path):
    table = {"full-hat": "not significant with 3 seeds"}

    def session(scale="mini", seeds=None, arch=None):
        s = get_scale(scale)
        s = s.with_overrides(arch=arch, seeds=seeds or s.seeds)
        return Session(Context(s, Cache(tmp_path / "cache")), s.seeds, tmp_path / "b", tmp_path / "o")

    assert session().known_shortfall(table, "full-hat") == "not significant with 3 seeds"
    assert session().known_shortfall(table, "fixed-feature-hat") is None
    assert session(seeds=(0, 1, 2, 3, 4)).known_shortfall(table, "full-hat") is None
    assert session(arch="mini_vgg").known_shortfall(table, "full-hat") is None
    assert session(scale="paper").known_shortfall(table, "full-hat") is None
