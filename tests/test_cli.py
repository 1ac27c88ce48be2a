"""The command line as a user runs it: each sub-command in a subprocess, in a scratch cache."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(args, tmp_path, timeout=600):
    env = {"BT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _verdict(claim, values, passed=True):
    return {"check": f"test_x[{claim}]", "claim": claim, "metric": "m", "expect": "greater", "values": values,
            "summary": {"n": len(values), "mean": sum(values) / len(values), "std": 0.1, "ci_low": 0.0,
                        "ci_high": 1.0, "p_greater": 0.01},
            "baseline": None, "tolerance": None, "failures": [] if passed else ["boom"], "passed": passed,
            "context": {"source": "s", "target": "shapes12", "mode": "fixed-feature", "seeds": [0, 1],
                        "fraction": 0.1, "components": {"clean_source_asr": [0.1, 0.2],
                                                        "triggered_source_asr": [0.5, 0.6],
                                                        "source_asr": [0.3, 0.4], "transfer_asr": [0.5, 0.5],
                                                        "clean_transfer_asr": [0.1, 0.1]}}}


def test_report_prints_the_table_and_draws_the_figures(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    verdicts = [_verdict("backdoor_fixed", [0.4, 0.4]), _verdict("trigger_frequency", [0.2, 0.3], passed=False)]
    (out / "results.json").write_text(json.dumps({"run": {"scale": "mini", "arch": "mini_resnet",
                                                          "seeds": [0, 1], "commit": "abc"}, "verdicts": verdicts}))
    proc = _run(["report", str(out)], tmp_path)
    assert proc.returncode == 1, proc.stderr          # one check failed
    assert "backdoor_fixed" in proc.stdout and "FAIL" in proc.stdout and "1/2 checks passed" in proc.stdout
    assert (out / "fig_backdoor.png").stat().st_size > 0
    assert (out / "fig_frequency.png").stat().st_size > 0


def test_a_known_shortfall_is_reported_as_such_and_does_not_fail_the_report(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    known = _verdict("natural_biases", [0.2, 0.0], passed=False)
    known["context"]["known_shortfall"] = "not significant with 3 seeds"
    run = {"scale": "mini", "arch": "mini_resnet", "seeds": [0, 1], "commit": "abc"}
    (out / "results.json").write_text(json.dumps({"run": run, "verdicts": [known]}))
    proc = _run(["report", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL (known)" in proc.stdout and "0/1 checks passed, 1 known shortfall" in proc.stdout
    known["context"].pop("known_shortfall")
    (out / "results.json").write_text(json.dumps({"run": run, "verdicts": [known]}))
    assert _run(["report", str(out)], tmp_path).returncode == 1


def test_summary_csv_has_both_p_values_and_the_known_shortfall(tmp_path):
    import csv

    from bt_core import report

    known = _verdict("natural_biases", [0.2, 0.0], passed=False)
    known["context"]["known_shortfall"] = "not significant with 3 seeds"
    known["summary"]["p_less"] = 0.9
    run = {"scale": "mini", "arch": "mini_resnet", "seeds": [0, 1], "commit": "abc"}
    paths = report.write(tmp_path, [_verdict("backdoor_fixed", [0.4, 0.4]), known], run)
    rows = {r["claim"]: r for r in csv.DictReader(open(paths["summary"]))}
    assert rows["natural_biases"]["known_shortfall"] == "not significant with 3 seeds"
    assert rows["natural_biases"]["p_less"] == "0.9" and rows["natural_biases"]["passed"] == "False"
    assert rows["backdoor_fixed"]["known_shortfall"] == "" and rows["backdoor_fixed"]["passed"] == "True"


def test_power_gives_each_checks_chance_to_pass_and_the_seeds_it_needs(tmp_path):
    import csv

    out = tmp_path / "res"
    out.mkdir()
    weak, strong = _verdict("natural_biases", [0.1, 0.18]), _verdict("backdoor_fixed", [0.4, 0.5])
    run = {"scale": "mini", "arch": "mini_resnet", "seeds": [0, 1], "commit": "abc"}
    (out / "results.json").write_text(json.dumps({"run": run, "verdicts": [strong, weak]}))
    proc = _run(["power", str(out), "--seeds", "3,5", "--power", "0.8"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "seeds for 80%" in proc.stdout and "failing check(s) expected" in proc.stdout
    rows = list(csv.DictReader(open(out / "power.csv")))
    assert [r["claim"] for r in rows] == ["natural_biases", "backdoor_fixed"]     # weakest first
    assert float(rows[0]["effect"]) == pytest.approx(1.4)                         # mean 0.14 / std 0.1
    assert float(rows[0]["power_3"]) < float(rows[0]["power_5"]) < float(rows[1]["power_3"])
    assert int(rows[0]["seeds_needed"]) > int(rows[1]["seeds_needed"])


@pytest.mark.parametrize("args, message", [
    (["--seeds", "1,5"], "'1,5': expected a comma list of seed counts, each at least 2"),
    (["--seeds", "three"], "'three': expected a comma list of seed counts"),
    (["--power", "1.2"], "'1.2': expected a probability strictly between 0 and 1"),
])
def test_power_rejects_bad_options(tmp_path, args, message):
    proc = _run(["power", str(tmp_path), *args], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr


def test_power_on_a_folder_without_results_says_so(tmp_path):
    proc = _run(["power", str(tmp_path / "nothing")], tmp_path)
    assert proc.returncode == 2 and "results.json" in proc.stderr


def test_report_on_a_folder_without_results_says_so(tmp_path):
    proc = _run(["report", str(tmp_path / "nothing")], tmp_path)
    assert proc.returncode != 0
    assert "results.json" in proc.stderr


@pytest.mark.slow
def test_examples_writes_the_trigger_grid_and_the_dataset_table(tmp_path):
    proc = _run(["examples", "--output", str(tmp_path / "ex")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ex" / "triggers.png").stat().st_size > 0
    assert "shapes12" in proc.stdout and "source" in proc.stdout


@pytest.mark.slow
def test_perf_reports_loader_ratios(tmp_path):
    out = tmp_path / "perf.json"
    proc = _run(["perf", "--skip-training", "--images", "600", "--epochs", "1", "--output", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    loaders = json.loads(out.read_text())["loaders"]
    assert loaders["ffcv_img_s"] > 0 and loaders["torch_img_s"] > 0
    assert loaders["ffcv_over_torch"] == pytest.approx(loaders["ffcv_img_s"] / loaders["torch_img_s"])


def test_perf_times_every_architecture_of_the_sweep_against_the_default():
    import torch

    from benchmark.perf import measure_architectures
    from bt_core.config import get_scale
    from bt_core.data.synthetic import mini_world

    scale = get_scale("mini")
    data = mini_world(n_source=64).source.generate("train", 0)
    out = measure_architectures(data, torch.device("cpu"), batch_size=16)
    assert {f"{a}_img_s" for a in scale.architectures} <= set(out)
    for arch in scale.architectures[1:]:
        ratio = out[f"{arch}_img_s"] / out[f"{scale.arch}_img_s"]
        assert out[f"{arch}_over_{scale.arch}"] == pytest.approx(ratio)
