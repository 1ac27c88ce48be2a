"""report, power and examples as a user runs them, each in a subprocess: what they print and write,
and one clear line when the folder holds no results of this suite's shape."""
import json

import pytest

from tests.helpers.cli import RUN, make_verdict, run_benchmark, write_results


def test_report_prints_the_table_and_draws_the_figures(tmp_path):
    out = tmp_path / "res"
    natural = make_verdict("natural_biases", [0.2, 0.3])
    natural["context"].update(probe="hat", mode="full")
    natural["context"]["components"] = {"histograms": [{"scratch": [0.5, 0.5], "transfer + hat": [0.9, 0.1]}] * 2}
    write_results(out, [make_verdict("backdoor_fixed", [0.4, 0.4]),
                        make_verdict("trigger_frequency", [0.2, 0.3], "does not hold"), natural])
    proc = run_benchmark(["report", str(out)], tmp_path)
    assert proc.returncode == 1, proc.stderr          # one check does not hold
    assert "backdoor_fixed" in proc.stdout and "does not hold" in proc.stdout
    assert "2/3 checks hold, 1 do not hold, 0 undecided" in proc.stdout
    assert (out / "fig_backdoor.png").stat().st_size > 0
    assert (out / "fig_histograms.png").stat().st_size > 0
    assert (out / "fig_frequency.png").stat().st_size > 0


@pytest.mark.parametrize("verdict, shown", [
    (make_verdict("natural_biases", [0.2, 0.0], "undecided"), "undecided"),
    (make_verdict("natural_biases", [0.2, 0.3], "holds", passed=False), "drifted"),
])
def test_an_undecided_or_drifted_check_fails_the_report_and_says_which(tmp_path, verdict, shown):
    verdict["context"]["seeds_needed"] = 41
    write_results(tmp_path / "res", [make_verdict("backdoor_fixed", [0.4, 0.4]), verdict])
    proc = run_benchmark(["report", str(tmp_path / "res")], tmp_path)
    assert proc.returncode == 1 and shown in proc.stdout
    if shown == "undecided":
        assert "(~41)" in proc.stdout and "1 undecided at the maximum" in proc.stdout
    else:
        assert "1 drifted from the baseline" in proc.stdout
    write_results(tmp_path / "res", [make_verdict("backdoor_fixed", [0.4, 0.4])])
    assert run_benchmark(["report", str(tmp_path / "res")], tmp_path).returncode == 0


@pytest.mark.parametrize("content", ["{not json", json.dumps({"run": {}, "verdicts": [{"check": "c", "passed": True}]})])
def test_report_on_results_of_another_shape_says_so(tmp_path, content):
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "results.json").write_text(content)
    proc = run_benchmark(["report", str(tmp_path / "res")], tmp_path)
    assert proc.returncode == 2 and "results.json" in proc.stderr and "Traceback" not in proc.stderr


def test_report_on_a_folder_without_results_says_so(tmp_path):
    proc = run_benchmark(["report", str(tmp_path / "nothing")], tmp_path)
    assert proc.returncode != 0
    assert "results.json" in proc.stderr


def test_power_gives_each_checks_chance_to_hold_and_the_models_a_run_costs(tmp_path):
    import csv

    weak, strong = make_verdict("natural_biases", [0.1, 0.18]), make_verdict("backdoor_fixed", [0.4, 0.5])
    weak["context"]["models"] = ["source clean", "scratch"]
    strong["context"]["models"] = ["source clean"]
    write_results(tmp_path / "res", [strong, weak])
    proc = run_benchmark(["power", str(tmp_path / "res"), "--looks", "3,5,8", "--power", "0.8"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All 2 checks hold with chance" in proc.stdout and "models trained per cold run" in proc.stdout
    rows = list(csv.DictReader(open(tmp_path / "res" / "power.csv")))
    assert [r["claim"] for r in rows] == ["natural_biases", "backdoor_fixed"]     # weakest first
    assert float(rows[0]["effect"]) == pytest.approx(1.4)                         # mean 0.14 / std 0.1
    assert float(rows[0]["p_holds"]) < float(rows[1]["p_holds"])
    assert 3 <= float(rows[1]["expected_seeds"]) < float(rows[0]["expected_seeds"]) <= 8
    assert int(rows[0]["fixed_seeds_needed"]) > int(rows[1]["fixed_seeds_needed"])


@pytest.mark.parametrize("args, message", [
    (["--looks", "1,5"], "--looks='1,5': expected increasing seed counts, the first at least 3"),
    (["--looks", "three"], "--looks='three' is not understood"),
    (["--power", "1.2"], "'1.2': expected a probability strictly between 0 and 1"),
])
def test_power_rejects_bad_options(tmp_path, args, message):
    write_results(tmp_path / "res", [make_verdict("backdoor_fixed", [0.4, 0.5])])
    proc = run_benchmark(["power", str(tmp_path / "res"), *args], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr


def test_power_on_a_folder_without_results_says_so(tmp_path):
    proc = run_benchmark(["power", str(tmp_path / "nothing")], tmp_path)
    assert proc.returncode == 2 and "results.json" in proc.stderr


@pytest.mark.slow
def test_examples_writes_the_trigger_grid_and_the_dataset_table(tmp_path):
    proc = run_benchmark(["examples", "--output", str(tmp_path / "ex")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ex" / "triggers.png").stat().st_size > 0
    assert "shapes12" in proc.stdout and "source" in proc.stdout


def test_measured_writes_a_readme_row_from_what_a_finished_run_recorded(tmp_path):
    weak, strong = make_verdict("natural_biases", [0.1, 0.18]), make_verdict("backdoor_fixed", [0.4, 0.5])
    weak["context"]["models"], strong["context"]["models"] = ["source clean", "scratch"], ["source clean"]
    run = {**RUN, "precision": "bf16", "machine": {"cpu": "Test CPU"}, "time_by_phase": {"span_s": 123.4},
           "finished": True}
    write_results(tmp_path / "res", [strong, weak], run)
    proc = run_benchmark(["measured", str(tmp_path / "res")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header, rule, line = proc.stdout.strip().splitlines()
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[:5] == ["`?` at abc", "Test CPU, bf16", "—", "2/2 hold, 0 drifted", "2 at 2"]
    assert cells[5:7] == ["4", "123 s"] and cells[7].endswith("%")          # 2 seeds of 2 families, the shared once
    write_results(tmp_path / "partial", [strong], {**RUN, "finished": False})
    proc = run_benchmark(["measured", str(tmp_path / "partial")], tmp_path)
    assert proc.returncode == 2 and "holds a partial run" in proc.stderr and "Traceback" not in proc.stderr
