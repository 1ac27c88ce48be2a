"""A run's results as one pandas frame, and what is built on it: the CSVs, the 120-column table and
report.md."""
import json

import pandas as pd
import pytest
from rich.console import Console

from bt_core import report, results
from bt_core.errors import ConfigError

RUN = {"scale": "mini", "arch": "mini_resnet", "commit": "0123456789abcdef",
       "seeds": {"kind": "sequential", "first": 0, "looks": [3, 5, 8, 12, 16, 20, 25, 30]}}

# the longest names the cases produce, so the width test sees the worst rows
CHECKS = [
    ("gender_age", "test_biased_source_widens_the_gender_gap[fixed-feature-celeba_target_1]",
     "group accuracy gap biased − unbiased", "greater"),
    ("natural_biases", "test_intervention_shifts_transferred_more_than_scratch[fixed-feature-chain_link_fence]",
     "TV shift transfer − scratch", "greater"),
    ("cooccurrence", "test_biased_source_makes_people_predict_dog[fixed-feature]",
     "P(dog|person) shift biased − unbiased", "greater"),
    ("debiased_target", "test_full_network_gap_vanishes_on_a_debiased_target[shapes12]",
     "ASR gap de-biased − ¼ plain target", "below"),
    ("trigger_frequency", "test_source_asr_grows_with_trigger_fraction", "source ASR p=0.5 − p=0.1", "greater"),
]


def _verdict(claim, check, metric, expect, values, status="holds", passed=True, **context):
    n = len(values)
    return {"check": check, "claim": claim, "metric": metric, "expect": expect, "values": values,
            "seeds": list(range(10, 10 + n)), "status": status,
            "summary": {"n": n, "mean": sum(values) / n, "std": 0.05, "ci_low": -0.123, "ci_high": 0.456,
                        "p_greater": 0.0123, "p_less": 0.9877, "t": 4.5, "bound": 5.49, "p": 0.0123,
                        "p_needed": 0.0158},
            "baseline": {"n": 3, "mean": 0.3, "std": 0.1, "values": [0.2, 0.3, 0.4],
                         "provenance": {"arch": "mini_resnet"}},
            "tolerance": 0.25, "passed": passed, "failures": [] if passed else ["it went wrong"],
            "context": {"threshold": 0.0, "models": ["source p=0.5", "fixed shapes12"], **context}}


def _verdicts():
    out = [_verdict(*c, [0.31, 0.29, 0.35], target="shapes12", mode="fixed-feature") for c in CHECKS]
    out[1] = _verdict(*CHECKS[1], [0.01, -0.02, 0.05, 0.0, 0.03] * 6, "undecided", False, seeds_needed=41)
    out[2] = _verdict(*CHECKS[2], [-0.1, -0.12, -0.09], "does not hold", False)
    return out


def _write(folder, verdicts, run=RUN):
    folder.mkdir(exist_ok=True)
    (folder / "results.json").write_text(json.dumps({"run": run, "verdicts": verdicts}))
    return folder


def test_load_gives_one_row_per_check_and_seed_with_the_runs_context(tmp_path):
    verdicts = _verdicts()
    frame = results.load(_write(tmp_path / "res", verdicts))
    assert len(frame) == sum(len(v["values"]) for v in verdicts) == 42
    undecided = frame[frame["claim"] == "natural_biases"]
    assert list(undecided["seed"]) == list(range(10, 40))
    assert list(undecided["value"]) == verdicts[1]["values"]
    assert set(undecided["status"]) == {"undecided"} and set(undecided["seeds_needed"]) == {41}
    assert set(frame["scale"]) == {"mini"} and set(frame["arch"]) == {"mini_resnet"}
    assert set(frame["commit"]) == {"0123456789abcdef"}
    assert set(frame["seed_plan"]) == {"sequential seeds from 0, looks [3, 5, 8, 12, 16, 20, 25, 30]"}
    assert frame.loc[frame["check"] == CHECKS[0][1], "case"].iloc[0] == "fixed-feature-celeba_target_1"
    assert frame.loc[frame["claim"] == "trigger_frequency", "case"].isna().all()
    assert frame["passed"].sum() == 3 * 3


def test_checks_fold_the_frame_to_one_row_per_check_in_the_runs_order(tmp_path):
    checks = results.checks(results.load(_write(tmp_path / "res", _verdicts())))
    assert list(checks["check"]) == [c[1] for c in CHECKS]
    assert checks.loc[1, "seeds"] == " ".join(map(str, range(10, 40))) and checks.loc[1, "n"] == 30
    assert checks.loc[2, "failures"] == "it went wrong" and pd.isna(checks.loc[0, "failures"])
    assert "seed" not in checks and "value" not in checks


def test_the_csvs_are_the_frame(tmp_path):
    verdicts = _verdicts()
    out = tmp_path / "res"
    paths = report.write(out, verdicts, RUN)
    frame = results.load(out)
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"], dtype=results.DTYPES), frame)
    pd.testing.assert_frame_equal(pd.read_csv(paths["summary"], dtype=results.DTYPES), results.checks(frame))


def test_an_empty_run_is_an_empty_frame_with_every_column():
    frame = results.frame([], RUN)
    assert frame.empty and list(frame.columns) == list(results.COLUMNS)
    assert results.checks(frame).empty


@pytest.mark.parametrize("content, message", [
    (None, "no results.json in"),
    ("{not json", "is not valid JSON"),
    (json.dumps({"run": {}, "verdicts": [{"check": "c", "passed": True}]}), "holds no verdicts of this suite's shape"),
    (json.dumps([1, 2]), "holds no verdicts of this suite's shape"),
])
def test_load_of_a_missing_or_foreign_results_json_says_so(tmp_path, content, message):
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    with pytest.raises(ConfigError, match=message):
        results.load(tmp_path)


def test_the_table_fits_120_columns_and_no_row_wraps():
    run = {**RUN, "arch": "benchmark.backbones:corner_blind"}
    checks = results.checks(results.frame(_verdicts(), run))
    console = Console(width=120, record=True)
    report.print_table(_verdicts(), run, console)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    for _, row in checks.iterrows():         # each check is one line: its label through its verdict
        label = report.label(row)
        [line] = [line for line in lines if line.split()[:1] == [label]]
        assert row["status"] in line and f"{row['p']:.4f}" in line and f"{row['mean']:.3f}" in line
    for claim, _, metric, _ in CHECKS:        # each heading is one line too
        assert sum(line.strip().startswith(f"{claim}: {metric}") for line in lines) == 1
    assert "undecided (~41)" in text and report.LEGEND in lines
    assert "3/5 checks hold, 1 do not hold, 1 undecided at the maximum, 0 drifted" in lines[-2]


def test_report_md_is_the_table_in_markdown_with_the_figures_linked(tmp_path):
    verdicts = _verdicts()
    verdicts.append(_verdict("backdoor_fixed", "test_triggered_source_raises_fixed_feature_asr[shapes12]",
                             "ASR triggered − clean source", "greater", [0.4, 0.5, 0.45], target="shapes12",
                             mode="fixed-feature", components={"clean_source_asr": [0.1, 0.1, 0.2],
                                                               "triggered_source_asr": [0.5, 0.6, 0.65]}))
    paths = report.write(tmp_path, verdicts, RUN)
    md = paths["markdown"].read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| claim | check | metric | seeds | mean [95% CI] | p | verdict |")
    assert len(rows) == 1 + len(verdicts)
    assert "| cooccurrence | fixed-feature | P(dog\\|person) shift biased − unbiased > 0 | 3 |" in md
    assert "**undecided (~41)**" in md and "**does not hold**" in md
    assert "![fig_backdoor.png](fig_backdoor.png)" in md and (tmp_path / "fig_backdoor.png").exists()
    assert "fig_histograms" not in md                   # no such figure in this run: no dead link
    assert "4/6 checks hold, 1 do not hold, 1 undecided at the maximum, 0 drifted from the baseline" in md
