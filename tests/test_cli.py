"""The command line as a user runs it: each sub-command in a subprocess, in a scratch cache."""
import json
import subprocess
import sys

import pytest

from tests.helpers import REPO


def _run(args, tmp_path, timeout=600):
    env = {"BT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


RUN = {"scale": "mini", "arch": "mini_resnet", "commit": "abc",
       "seeds": {"kind": "fixed", "seeds": [0, 1], "alpha": 0.05}}


def _verdict(claim, values, status="holds", passed=None):
    return {"check": f"test_x[{claim}]", "claim": claim, "metric": "m", "expect": "greater", "values": values,
            "seeds": list(range(len(values))), "status": status,
            "summary": {"n": len(values), "mean": sum(values) / len(values), "std": 0.1, "ci_low": 0.0,
                        "ci_high": 1.0, "p_greater": 0.01, "p_less": 0.99, "t": 4.0, "bound": 6.3, "p": 0.01,
                        "p_needed": 0.05},
            "baseline": None, "tolerance": None, "passed": status == "holds" if passed is None else passed,
            "failures": [] if (status == "holds" if passed is None else passed) else ["boom"],
            "context": {"source": "s", "target": "shapes12", "mode": "fixed-feature", "threshold": 0.0,
                        "fraction": 0.1, "components": {"clean_source_asr": [0.1, 0.2],
                                                        "triggered_source_asr": [0.5, 0.6],
                                                        "source_asr": [0.3, 0.4], "transfer_asr": [0.5, 0.5],
                                                        "clean_transfer_asr": [0.1, 0.1]}}}


def _results(out, verdicts, run=RUN):
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps({"run": run, "verdicts": verdicts}))


def test_report_prints_the_table_and_draws_the_figures(tmp_path):
    out = tmp_path / "res"
    natural = _verdict("natural_biases", [0.2, 0.3])
    natural["context"].update(probe="hat", mode="full")
    natural["context"]["components"] = {"histograms": [{"scratch": [0.5, 0.5], "transfer + hat": [0.9, 0.1]}] * 2}
    _results(out, [_verdict("backdoor_fixed", [0.4, 0.4]), _verdict("trigger_frequency", [0.2, 0.3], "does not hold"),
                   natural])
    proc = _run(["report", str(out)], tmp_path)
    assert proc.returncode == 1, proc.stderr          # one check does not hold
    assert "backdoor_fixed" in proc.stdout and "does not hold" in proc.stdout
    assert "2/3 checks hold, 1 do not hold, 0 undecided" in proc.stdout
    assert (out / "fig_backdoor.png").stat().st_size > 0
    assert (out / "fig_histograms.png").stat().st_size > 0
    assert (out / "fig_frequency.png").stat().st_size > 0


@pytest.mark.parametrize("verdict, shown", [
    (_verdict("natural_biases", [0.2, 0.0], "undecided"), "undecided"),
    (_verdict("natural_biases", [0.2, 0.3], "holds", passed=False), "drifted"),
])
def test_an_undecided_or_drifted_check_fails_the_report_and_says_which(tmp_path, verdict, shown):
    verdict["context"]["seeds_needed"] = 41
    _results(tmp_path / "res", [_verdict("backdoor_fixed", [0.4, 0.4]), verdict])
    proc = _run(["report", str(tmp_path / "res")], tmp_path)
    assert proc.returncode == 1 and shown in proc.stdout
    if shown == "undecided":
        assert "(~41)" in proc.stdout and "1 undecided at the maximum" in proc.stdout
    else:
        assert "1 drifted from the baseline" in proc.stdout
    _results(tmp_path / "res", [_verdict("backdoor_fixed", [0.4, 0.4])])
    assert _run(["report", str(tmp_path / "res")], tmp_path).returncode == 0


def test_summary_csv_says_each_checks_status_seeds_and_both_p_values(tmp_path):
    import csv

    from bt_core import report

    undecided = _verdict("natural_biases", [0.2, 0.0], "undecided")
    undecided["context"]["seeds_needed"] = 41
    paths = report.write(tmp_path, [_verdict("backdoor_fixed", [0.4, 0.4, 0.5]), undecided], RUN)
    rows = {r["claim"]: r for r in csv.DictReader(open(paths["summary"]))}
    assert rows["natural_biases"]["status"] == "undecided" and rows["natural_biases"]["seeds_needed"] == "41"
    assert rows["natural_biases"]["p_less"] == "0.99" and rows["natural_biases"]["passed"] == "False"
    assert rows["backdoor_fixed"]["seeds"] == "0 1 2" and rows["backdoor_fixed"]["status"] == "holds"


def test_power_gives_each_checks_chance_to_hold_and_the_models_a_run_costs(tmp_path):
    import csv

    weak, strong = _verdict("natural_biases", [0.1, 0.18]), _verdict("backdoor_fixed", [0.4, 0.5])
    weak["context"]["models"] = ["source clean", "scratch"]
    strong["context"]["models"] = ["source clean"]
    _results(tmp_path / "res", [strong, weak])
    proc = _run(["power", str(tmp_path / "res"), "--looks", "3,5,8", "--power", "0.8"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All 2 checks hold with chance" in proc.stdout and "models trained per cold run" in proc.stdout
    rows = list(csv.DictReader(open(tmp_path / "res" / "power.csv")))
    assert [r["claim"] for r in rows] == ["natural_biases", "backdoor_fixed"]     # weakest first
    assert float(rows[0]["effect"]) == pytest.approx(1.4)                         # mean 0.14 / std 0.1
    assert float(rows[0]["p_holds"]) < float(rows[1]["p_holds"])
    assert 3 <= float(rows[1]["expected_seeds"]) < float(rows[0]["expected_seeds"]) <= 8
    assert int(rows[0]["fixed_seeds_needed"]) > int(rows[1]["fixed_seeds_needed"])


def test_expected_models_count_a_shared_model_up_to_the_most_seeds_any_check_reaches():
    from benchmark.power import expected_models
    from bt_core.sequential import Operating

    def row(models, at_look, n):
        return {"models": models, "n": n, "op": Operating(1.0, 1.0, 0.0, 0.0, 0.0, at_look)}

    three, five = (1.0, 0.0), (0.0, 1.0)
    rows = [row(["source"], three, 3), row(["source", "scratch"], five, 5)]
    expected, measured = expected_models(rows, (3, 5))
    assert expected == pytest.approx(5 + 5) and measured == 10        # both families reach 5 seeds
    expected, _ = expected_models([row(["source"], (0.5, 0.5), 3)], (3, 5))
    assert expected == pytest.approx(4.0)


@pytest.mark.parametrize("args, message", [
    (["--looks", "1,5"], "--looks='1,5': expected increasing seed counts, the first at least 3"),
    (["--looks", "three"], "--looks='three' is not understood"),
    (["--power", "1.2"], "'1.2': expected a probability strictly between 0 and 1"),
])
def test_power_rejects_bad_options(tmp_path, args, message):
    _results(tmp_path / "res", [_verdict("backdoor_fixed", [0.4, 0.5])])
    proc = _run(["power", str(tmp_path / "res"), *args], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr


def test_power_on_a_folder_without_results_says_so(tmp_path):
    proc = _run(["power", str(tmp_path / "nothing")], tmp_path)
    assert proc.returncode == 2 and "results.json" in proc.stderr


@pytest.mark.parametrize("content", ["{not json", json.dumps({"run": {}, "verdicts": [{"check": "c", "passed": True}]})])
def test_report_on_results_of_another_shape_says_so(tmp_path, content):
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "results.json").write_text(content)
    proc = _run(["report", str(tmp_path / "res")], tmp_path)
    assert proc.returncode == 2 and "results.json" in proc.stderr and "Traceback" not in proc.stderr


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
    proc = _run(["perf", "--skip-training", "--images", "600", "--jpeg-images", "32", "--epochs", "1",
                 "--output", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    loaders, paper = results["loaders"], results["paper_pipeline"]
    assert loaders["ffcv_img_s"] > 0 and loaders["torch_img_s"] > 0
    assert loaders["ffcv_over_torch"] == pytest.approx(loaders["ffcv_img_s"] / loaders["torch_img_s"])
    assert paper["ffcv_img_s"] > 0 and paper["torchvision_img_s"] > 0
    assert paper["ffcv_over_torchvision"] == pytest.approx(paper["ffcv_img_s"] / paper["torchvision_img_s"])
    assert "paper_pipeline: ffcv_over_torchvision" in proc.stdout


def test_perf_paper_pipeline_loaders_see_the_same_triggered_224_px_images(tmp_path):
    """Both sides of the comparison read the same files in the same order, so the trigger lands on
    the same samples, and both hand over 224 px crops."""
    import torch

    from benchmark.perf import _TriggeredFolder, _write_jpegs
    from bt_core.data.adapters.common import scan_classes
    from bt_core.triggers import YELLOW, make_trigger

    _write_jpegs(tmp_path / "train", 6, classes=2)
    files, labels, _ = scan_classes(tmp_path, "train", "<class>/*.jpg")
    folder = _TriggeredFolder(tmp_path / "train", make_trigger("square", size=0.25), [1, 4], 224)
    assert [(p, y) for p, y in folder.folder.samples] == list(zip(files, labels.tolist()))
    for i in range(6):
        image, label = folder[i]
        assert image.shape == (3, 224, 224) and label == labels[i]
        assert (image[:, :56, :56] == torch.tensor(YELLOW).view(3, 1, 1)).all() == (i in (1, 4))


def test_perf_refuses_a_negative_image_count(tmp_path):
    proc = _run(["perf", "--jpeg-images", "-1"], tmp_path)
    assert proc.returncode == 2 and "--jpeg-images=-1 is out of range" in proc.stderr


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


def _faulty_engine(arch, variant, batch_size, device, threads):
    """perf's engine worker, with variants that fail inside the child: at build, by a real abort
    while stepping, or by never returning."""
    import os
    import time

    from benchmark.perf import _engine_worker

    if variant == "raises":
        raise RuntimeError("no C++ compiler")
    if variant == "aborts":
        return lambda n: os.abort()
    if variant == "hangs":
        return lambda n: time.sleep(3600)
    return _engine_worker(arch, variant, batch_size, device, threads)


def test_perf_engine_sets_each_variant_beside_eager_and_names_one_that_cannot_run():
    import torch

    from benchmark import perf
    from bt_core.config import get_scale

    out = perf.measure_engine(torch.device("cpu"), batch_size=8, steps=1, rounds=2,
                              variants=("eager", "channels_last", "raises", "aborts"), worker=_faulty_engine)
    for arch in get_scale("mini").architectures:
        ratio = out[f"{arch}/channels_last_img_s"] / out[f"{arch}/eager_img_s"]
        assert out[f"{arch}/channels_last_over_eager"] == pytest.approx(ratio)
        one = {v: out[f"{arch}/{v}/warmup_s"] + out["source_model_images"] / out[f"{arch}/{v}_img_s"]
               for v in ("eager", "channels_last")}
        assert out[f"{arch}/channels_last/one_source_over_eager"] == pytest.approx(one["eager"] / one["channels_last"])
        assert out[f"{arch}/raises/unavailable"] == "RuntimeError: no C++ compiler"
        assert out[f"{arch}/aborts/unavailable"] == "crashed (SIGABRT)"
        assert f"{arch}/raises_img_s" not in out and f"{arch}/aborts_img_s" not in out


def test_perf_engine_times_out_a_variant_that_hangs_and_skips_one_that_needs_it(monkeypatch):
    import torch

    from benchmark import perf

    monkeypatch.setitem(perf._NEEDS, "compiled_channels_last", "hangs")
    out = perf.measure_engine(torch.device("cpu"), batch_size=8, steps=1, rounds=1, architectures=("mini_vgg",),
                              variants=("hangs", "compiled_channels_last"), timeout_s=20, worker=_faulty_engine)
    assert out["mini_vgg/hangs/unavailable"] == "timed out after 20 s"
    assert out["mini_vgg/compiled_channels_last/unavailable"] == "not tried: hangs timed out after 20 s"
    assert not any(key.endswith("_img_s") for key in out)


@pytest.mark.parametrize("command", [["run"], ["compare", "--arch", "mini_vgg"]])
def test_a_pytest_option_the_command_sets_itself_is_refused_with_the_one_to_use(tmp_path, command):
    proc = _run([*command, "--bt-output=elsewhere"], tmp_path)
    assert proc.returncode == 2
    assert "--bt-output=elsewhere is the sub-command's own --output: expected --output instead" in proc.stderr


def test_perf_refuses_a_bad_engine_budget(tmp_path):
    proc = _run(["perf", "--engine-only", "--engine-rounds", "0"], tmp_path)
    assert proc.returncode == 2 and "--engine-rounds=0: expected integers >= 1" in proc.stderr


def test_perf_refuses_an_engine_time_limit_that_is_not_positive(tmp_path):
    proc = _run(["perf", "--engine-only", "--engine-timeout", "0"], tmp_path)
    assert proc.returncode == 2 and "--engine-timeout=0.0: expected a number of seconds > 0" in proc.stderr


def _checks(*verdicts):
    from bt_core import results

    return results.checks(results.frame(list(verdicts), RUN))


@pytest.mark.parametrize("verdicts, pytest_code, status, named", [
    ([_verdict("backdoor_fixed", [0.4, 0.5])], 0, 0, None),
    ([_verdict("backdoor_fixed", [0.4, 0.5]), _verdict("natural_biases", [0.0, -0.1], "does not hold")], 1, 1,
     "natural_biases"),
    ([_verdict("natural_biases", [0.2, 0.0], "undecided")], 1, 1, "natural_biases"),
    ([_verdict("backdoor_full", [0.4, 0.5], "holds", passed=False)], 1, 1, "backdoor_full"),
    ([_verdict("backdoor_fixed", [0.4, 0.5])], 1, 1, "without a verdict"),      # a test errored
    ([], 1, 1, "no check reached a verdict"),
    ([], 0, 2, "no check ran"),                                                  # all skipped
    ([], 4, 2, "usage error"),
    ([], 5, 2, "usage error"),
    ([], 2, 3, "did not finish"),                                                # interrupted
])
def test_compare_exits_0_when_every_claim_holds_1_when_one_does_not_and_names_it(verdicts, pytest_code, status,
                                                                                 named):
    from benchmark.compare import outcome

    code, reasons = outcome(_checks(*verdicts) if verdicts else None, pytest_code)
    assert code == status
    assert (reasons == []) if named is None else any(named in line for line in reasons)
    if status == 1 and verdicts and pytest_code == 1 and named != "without a verdict":
        assert any("boom" in line for line in reasons)       # the check's own failure text


@pytest.mark.parametrize("args, message", [
    ([], "compare needs --arch NAME"),
    (["--arch", "resnet9000"], "architecture 'resnet9000' is unknown"),
    (["--arch", "mini_resnet", "--seeds", "many"], "--bt-seeds='many' is not understood"),
    (["--arch", "mini_resnet", "-k", "no_such_claim"], "-k 'no_such_claim' matches no test"),
])
def test_compare_exits_2_on_a_usage_error_and_says_why(tmp_path, args, message):
    _results(tmp_path / "res", [_verdict("backdoor_fixed", [0.4, 0.5])])       # an earlier run's: not reused
    proc = _run(["compare", *args, "--output", str(tmp_path / "res")], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr and "vs the baselines" not in proc.stdout


def test_compare_table_fits_120_columns_and_names_are_never_cut(tmp_path):
    from rich.console import Console

    from benchmark.compare import print_comparison

    long = _verdict("gender_age", [0.4, 0.5], "undecided", passed=False)
    long["check"] = "test_biased_source_widens_the_gender_gap[fixed-feature-celeba_target_1]"
    long["metric"] = "group accuracy gap biased − unbiased"
    long["context"]["seeds_needed"] = 41
    (tmp_path / "mini").mkdir()
    (tmp_path / "mini" / "gender_age.json").write_text(json.dumps({"scale": "mini", "checks": {long["check"]: {
        "n": 3, "mean": 0.25, "std": 0.1, "values": [0.2, 0.25, 0.3], "provenance": {"arch": "mini_resnet"}}}}))
    console = Console(width=120, record=True)
    print_comparison(_checks(long), {**RUN, "arch": "benchmark.backbones:corner_blind"}, tmp_path, "mini", console)
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 120 and "…" not in "".join(lines)
    [row] = [line for line in lines if "fixed-feature-celeba_target_1" in line]
    assert row.split()[1:] == ["0.250", "0.450", "+0.200", "2", "undecided", "(~41)"]


@pytest.mark.parametrize("args, message", [
    ([], "audit needs --source-weights W (with --arch NAME) and/or --target-dir D"),
    (["--arch", "mini_resnet", "--source-weights", "nope.pt"], "source weights 'nope.pt' does not exist"),
])
def test_audit_usage_errors_exit_2_with_the_reason(tmp_path, args, message):
    proc = _run(["audit", "--output", str(tmp_path / "out"), *args], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr


@pytest.mark.parametrize("args, message", [
    (["audit", "--target-dir", "x", "--progress", "off"],
     "python -m benchmark audit: error: unrecognized arguments: --progress (an option of run, not of audit)"),
    (["compare", "--arch", "mini_vgg", "--source-weights=w.pt"],
     "python -m benchmark compare: error: unrecognized arguments: --source-weights=w.pt (an option of audit, "
     "not of compare)"),
    (["compare", "--arch", "mini_vgg", "--update-baselines"],
     "--update-baselines: compare does not record baselines; expected `run --arch NAME --update-baselines`"),
    (["compare", "--arch", "mini_vgg", "--bt-update-baselines"], "compare does not record baselines"),
])
def test_audit_and_compare_name_an_option_that_is_not_theirs(tmp_path, args, message):
    proc = _run([*args, "--output", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "pytest.main()" not in proc.stderr
    assert not (tmp_path / "out").exists()
