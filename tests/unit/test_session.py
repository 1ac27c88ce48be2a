"""The run-level bookkeeping: baselines recorded by an update run, compared by the next run, and
rows merged for the report. No model is trained here."""
import json
import time

import pytest

from bt_core import sequential
from bt_core.cache import CPU, Cache
from bt_core.claims import measured
from bt_core.config import get_scale
from bt_core.errors import BaselineError, ConfigError
from bt_core.experiment import Context
from bt_core.observers import observe
from bt_core.session import SeedPlan, Session, TornRecordWarning, check_writable, collect_phases, collect_rows

FIXED = SeedPlan(sequential.fixed(3), fixed=(0, 1, 2))


def _session(tmp_path, update, arch=None, plan=FIXED):
    scale = get_scale("mini").with_overrides(arch=arch)
    return Session(Context(scale, Cache(tmp_path / "cache")), plan, tmp_path / "baselines",
                   tmp_path / "out", update_baselines=update, command=["pytest", "-m", "paper"])


def _values(values, first=0):
    """A measurement that returns ``values`` seed by seed."""
    return lambda seed: values[seed - first]


def test_update_run_records_baselines_with_provenance(tmp_path):
    _session(tmp_path, update=True).check(case="demo", check="c1", claim="demo", metric="m",
                                          measure=_values([0.30, 0.32, 0.31]))
    blob = json.loads((tmp_path / "baselines" / "mini" / "demo.json").read_text())
    entry = blob["checks"]["c1"]
    assert entry["values"] == [0.30, 0.32, 0.31] and entry["n"] == 3
    prov = entry["provenance"]
    assert prov["command"] == "pytest -m paper" and prov["seeds"] == [0, 1, 2] and prov["scale"] == "mini"
    assert prov["arch"] == "mini_resnet" and prov["versions"]["torch"] and prov["commit"]


def test_update_run_records_the_models_each_check_asked_for_and_their_build_times_apart(tmp_path):
    session = _session(tmp_path, update=True)
    observe(session)

    def measure(seed):
        for family, seconds in (("source a", 0.02), ("full b", 0.0)):
            session.ctx.cached("source", {"family": family, "seed": seed},
                                lambda folder, s=seconds: time.sleep(s), family=family)
        return 0.3 + seed / 100

    session.check(case="demo", check="c1", claim="demo", metric="m", measure=measure)
    prov = json.loads((tmp_path / "baselines" / "mini" / "demo.json").read_text())["checks"]["c1"]["provenance"]
    assert prov["models"] == ["full b", "source a"] and "build_s" not in prov
    # the seconds go to the scale's timing file, per family and seed, with the machine that built them
    blob = json.loads((tmp_path / "baselines" / "mini" / "timing.json").read_text())
    assert blob["machine"] == CPU
    assert {f: sorted(s) for f, s in blob["families"].items()} == {"full b": ["0", "1", "2"],
                                                                  "source a": ["0", "1", "2"]}
    assert min(blob["families"]["source a"].values()) >= 0.02


def test_next_run_fails_when_the_mean_drifts_beyond_tolerance(tmp_path):
    _session(tmp_path, update=True).check(case="demo", check="c1", claim="demo", metric="m",
                                          measure=_values([0.30, 0.32, 0.31]))
    same = _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m",
                                                  measure=_values([0.31, 0.30, 0.32]))
    assert same.passed and same.baseline["mean"] == pytest.approx(0.31)
    drifted = _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m",
                                                     measure=_values([0.60, 0.62, 0.61]))
    assert not drifted.passed and "drifted" in drifted.failures[0]


def test_baseline_of_another_architecture_is_not_compared(tmp_path):
    _session(tmp_path, update=True).check(case="demo", check="c1", claim="demo", metric="m", measure=_values([0.3, 0.32, 0.31]))
    other = _session(tmp_path, update=False, arch="mini_vgg").check(case="demo", check="c1", claim="demo",
                                                                    metric="m", measure=_values([0.6, 0.62, 0.61]))
    assert other.passed and other.baseline is None and "no baseline" in other.context["baseline_note"]


def test_malformed_baseline_file_is_a_clear_error(tmp_path):
    path = tmp_path / "baselines" / "mini" / "demo.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(BaselineError, match="demo.json.*not valid JSON"):
        _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m", measure=_values([1, 2, 3]))


def test_baseline_recorded_at_another_scale_is_a_clear_error(tmp_path):
    path = tmp_path / "baselines" / "mini" / "demo.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"scale": "paper", "checks": {}}))
    with pytest.raises(BaselineError, match="recorded at scale 'paper', expected 'mini'"):
        _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m", measure=_values([1, 2, 3]))


def test_rows_of_all_workers_are_merged(tmp_path):
    for worker in ("gw0", "gw1"):
        s = _session(tmp_path, update=False)
        s.worker = worker
        s.check(case="demo", check=f"c-{worker}", claim="demo", metric="m", measure=_values([0.1, 0.2, 0.3]))
    assert [r["check"] for r in collect_rows(s.work_dir)] == ["c-gw0", "c-gw1"]


def test_a_torn_row_or_timing_file_of_a_killed_worker_is_reported_and_skipped(tmp_path):
    for worker in ("gw0", "gw1"):
        s = _session(tmp_path, update=False)
        s.worker = worker
        observe(s)
        s.check(case="demo", check=f"c-{worker}", claim="demo", metric="m", measure=_values([0.1, 0.2, 0.3]))
    rows = s.work_dir / "rows" / "gw1.jsonl"
    rows.write_text(rows.read_text() + '{"claim": "demo", "check": "c-torn", "val')
    timing = s.work_dir / "phases" / "gw1.json"
    timing.write_text(timing.read_text()[:7])
    with pytest.warns(TornRecordWarning, match=r"a verdict row in '.*gw1.jsonl' cannot be read"):
        assert [r["check"] for r in collect_rows(s.work_dir)] == ["c-gw0", "c-gw1"]
    with pytest.warns(TornRecordWarning, match=r"the time by phase in '.*gw1.json' cannot be read"):
        assert collect_phases(s.work_dir)["span_s"] > 0


def test_two_runs_sharing_an_output_folder_keep_their_rows_apart(tmp_path):
    """A test that starts pytest itself writes to the same default output folder as the run around it."""
    outer, inner = _session(tmp_path, update=False), _session(tmp_path, update=False)
    outer.run_id, inner.run_id = "100", "200"
    outer.check(case="demo", check="outer", claim="demo", metric="m", measure=_values([0.1, 0.2, 0.3]))
    inner.check(case="demo", check="inner", claim="demo", metric="m", measure=_values([0.1, 0.2, 0.3]))
    assert outer.output_dir == inner.output_dir
    assert [r["check"] for r in collect_rows(outer.work_dir)] == ["outer"]


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
        _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m", measure=_values([1, 2, 3]))


def test_update_run_records_the_seeds_each_check_used(tmp_path):
    plan = SeedPlan(sequential.design(sequential.Spec()), first=20)
    strong = [0.30, 0.32, 0.31] + [0.3] * 27
    weak = [0.9, -0.5, 0.1, 0.8, -0.2, 0.7, 0.6, 0.5] + [0.4] * 22
    s = _session(tmp_path, update=True, plan=plan)
    s.check(case="demo", check="strong", claim="demo", metric="m", measure=_values(strong, first=20))
    s.check(case="demo", check="weak", claim="demo", metric="m", measure=_values(weak, first=20))
    checks = json.loads((tmp_path / "baselines" / "mini" / "demo.json").read_text())["checks"]
    assert checks["strong"]["provenance"]["seeds"] == [20, 21, 22] and checks["strong"]["n"] == 3
    assert len(checks["weak"]["values"]) == checks["weak"]["n"] > 3
    assert checks["weak"]["provenance"]["seeds"] == list(range(20, 20 + checks["weak"]["n"]))
    assert checks["weak"]["provenance"]["plan"] == {"kind": "sequential", "first": 20,
                                                     "looks": list(sequential.DEFAULT_LOOKS)}


def test_a_sequential_check_measures_only_the_seeds_its_design_asks_for(tmp_path):
    plan = SeedPlan(sequential.design(sequential.Spec()))
    asked = []

    def measure(values):
        def one(seed):
            asked.append(seed)
            return values[seed]
        return one

    s = _session(tmp_path, update=False, plan=plan)
    strong = s.check(case="demo", check="strong", claim="demo", metric="m",
                     measure=measure([0.30, 0.32, 0.31] + [1.0] * 27))
    assert asked == [0, 1, 2] and strong.status == "holds" and strong.seeds == [0, 1, 2]
    asked.clear()
    # t = 3.8 after three seeds: below the first look's bound (5.5); 7.0 after five, above its 4.2
    middling = s.check(case="demo", check="mid", claim="demo", metric="m",
                       measure=measure([0.3, 0.5, 0.2, 0.4, 0.35] + [9.0] * 25))
    assert asked == [0, 1, 2, 3, 4] and middling.status == "holds"
    asked.clear()
    # no futility stop before 8 seeds: a wrong-way start is measured up to the first futility look
    wrong_way = s.check(case="demo", check="wrong", claim="demo", metric="m",
                        measure=measure([-0.3, -0.2, -0.25, -0.3, -0.1, -0.2, -0.35, -0.15] + [1.0] * 22))
    assert asked == list(range(8)) and wrong_way.status == "does not hold" and not wrong_way.passed
    assert "does not hold" in wrong_way.failures[0]


def test_a_check_undecided_at_the_maximum_fails_and_says_how_many_seeds_it_needs(tmp_path):
    plan = SeedPlan(sequential.design(sequential.Spec(looks=(3, 5))))
    values = [0.5, 0.1, 0.4, 0.3, -0.4]            # t 2.8, then 1.1: the right way, not significant
    v = _session(tmp_path, update=False, plan=plan).check(case="demo", check="c", claim="demo", metric="m",
                                                          measure=_values(values))
    assert v.status == "undecided" and not v.passed and v.seeds == [0, 1, 2, 3, 4]
    assert "undecided after 5 seeds" in v.failures[0] and v.context["seeds_needed"] > 5


def test_parts_of_each_seed_are_kept_as_components(tmp_path):
    v = _session(tmp_path, update=False).check(
        case="demo", check="c", claim="demo", metric="m",
        measure=lambda seed: measured(0.3 + seed / 100, clean=0.1, triggered=0.4 + seed / 100))
    assert v.context["components"] == {"clean": [0.1, 0.1, 0.1], "triggered": pytest.approx([0.4, 0.41, 0.42])}


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_measurement_is_a_clear_error_naming_the_check_and_seed(tmp_path, bad):
    with pytest.raises(ConfigError, match=f"c1: the measurement on seed 1 is {bad}: expected a finite number"):
        _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m",
                                               measure=_values([0.1, bad, 0.2]))


def test_results_and_baselines_name_the_commit_the_run_started_from(tmp_path):
    s = _session(tmp_path, update=True)
    assert s.commit and s.run_info()["commit"] == s.commit
    s.commit = "abc123"                      # the tree moved on while the run trained
    s.check(case="demo", check="c1", claim="demo", metric="m", measure=_values([0.30, 0.32, 0.31]))
    prov = json.loads((tmp_path / "baselines" / "mini" / "demo.json").read_text())["checks"]["c1"]["provenance"]
    assert prov["commit"] == "abc123" and s.run_info()["commit"] == "abc123"


def test_another_architectures_baselines_are_recorded_beside_the_defaults_never_over_them(tmp_path):
    _session(tmp_path, update=True).check(case="demo", check="c1", claim="demo", metric="m",
                                          measure=_values([0.30, 0.32, 0.31]))
    default = tmp_path / "baselines" / "mini" / "demo.json"
    before = default.read_bytes()
    _session(tmp_path, update=True, arch="mini_vgg").check(case="demo", check="c1", claim="demo", metric="m",
                                                           measure=_values([0.60, 0.62, 0.61]))
    assert default.read_bytes() == before
    vgg = json.loads((tmp_path / "baselines" / "mini" / "mini_vgg" / "demo.json").read_text())["checks"]["c1"]
    assert vgg["mean"] == pytest.approx(0.61) and vgg["provenance"]["arch"] == "mini_vgg"
    # each architecture is compared with its own: 0.61 drifts from mini_resnet's 0.31, not from mini_vgg's
    own = _session(tmp_path, update=False, arch="mini_vgg").check(case="demo", check="c1", claim="demo", metric="m",
                                                                  measure=_values([0.61, 0.60, 0.62]))
    assert own.passed and own.baseline["mean"] == pytest.approx(0.61)
    drifted = _session(tmp_path, update=False).check(case="demo", check="c1", claim="demo", metric="m",
                                                     measure=_values([0.61, 0.60, 0.62]))
    assert not drifted.passed and drifted.baseline["mean"] == pytest.approx(0.31)


def test_a_check_that_does_not_hold_is_not_recorded_unless_forced_and_then_marked(tmp_path):
    path = tmp_path / "baselines" / "mini" / "demo.json"
    refused = _session(tmp_path, update=True).check(case="demo", check="c1", claim="demo", metric="m",
                                                    measure=_values([-0.30, -0.32, -0.31]))
    assert not path.exists() and "not recorded as a baseline: the check does not hold" in \
        refused.context["baseline_note"]
    forced = _session(tmp_path, update=True)
    forced.force_baselines = True
    forced.check(case="demo", check="c1", claim="demo", metric="m", measure=_values([-0.30, -0.32, -0.31]))
    prov = json.loads(path.read_text())["checks"]["c1"]["provenance"]
    assert prov["forced"] == "recorded with --bt-force-baselines although the check does not hold"
