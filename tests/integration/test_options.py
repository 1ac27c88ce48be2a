"""Bad options and selections stop the run at once with one clear message (nothing is trained)."""
import subprocess
import sys

import pytest

from tests.helpers import REPO


def _pytest(tmp_path, *args):
    proc = subprocess.run([sys.executable, "-m", "pytest", "cases", "-m", "paper", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "--bt-cache", str(tmp_path / "c"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--bt-scale", "huge"], "scale='huge' is unknown: expected one of mini, paper"),
    (["--bt-seeds", "1"], "expected at least 2 distinct seeds"),
    (["--bt-seeds", "x,y"], "--bt-seeds='x,y' is not understood"),
    (["--bt-first-seed", "-1"], "--bt-first-seed='-1': expected a whole number >= 0"),
    (["--bt-max-seeds", "2"], "--bt-max-seeds='2': expected a whole number >= 3"),
    (["--bt-looks", "2,5"], "--bt-looks='2,5': expected increasing seed counts, the first at least 3"),
    (["--bt-looks", "3,5,5"], "--bt-looks='3,5,5': expected increasing seed counts"),
    (["--bt-looks", "three"], "--bt-looks='three' is not understood"),
    (["--bt-seeds", "0,1,2", "--bt-first-seed", "3"], "--bt-first-seed does not apply to the seed list"),
    (["--bt-seeds", "5", "--bt-max-seeds", "8"], "--bt-looks/--bt-max-seeds apply to --bt-seeds auto"),
    (["--bt-arch", "resnet9000"], "architecture 'resnet9000' is unknown"),
    (["--bt-target", "imagenet21k"], "--bt-target ['imagenet21k'] unknown at scale mini"),
    (["--bt-device", "tpu"], "--bt-device='tpu' is unknown"),
    (["--bt-precision", "fp8"], "--bt-precision: invalid choice: 'fp8' (choose from 'auto', 'fp32', 'bf16', 'fp16')"),
    (["--bt-progress", "fancy"], "--bt-progress: invalid choice: 'fancy' (choose from 'auto', 'live', 'lines', 'off')"),
    (["-k", "no_such_case_anywhere"], "matches no test. Known cases: architectures, backdoor_fixed"),
])
def test_bad_option_is_one_clear_error(tmp_path, args, message):
    code, out = _pytest(tmp_path, *args)
    assert code != 0
    assert message in out


def test_unwritable_results_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out = _pytest(tmp_path, "--bt-output", str(blocker / "results"))
    assert code != 0 and "results directory (--bt-output)" in out and "not writable" in out


def test_unknown_mode_is_refused_by_the_option_itself(tmp_path):
    code, out = _pytest(tmp_path, "--bt-mode", "partial")
    assert code != 0 and "invalid choice: 'partial'" in out


def test_selection_narrows_the_parametrization(tmp_path):
    code, out = _pytest(tmp_path, "--bt-target", "shapes4", "--bt-mode", "full", "-k", "backdoor_full")
    assert code == 0, out
    assert "test_triggered_source_raises_full_network_asr[shapes4-full]" not in out  # mode is not a param there
    assert "test_triggered_source_raises_full_network_asr[shapes4]" in out
    assert "shapes12" not in out


def _audit_inputs(tmp_path):
    """A weights file of mini_resnet, a junk file and an ImageFolder target of two classes."""
    import numpy as np
    import torch
    from PIL import Image

    from bt_core.models import create_model

    torch.save(create_model("mini_resnet", 4).state_dict(), tmp_path / "w.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    for split in ("train", "test"):
        for c in ("a", "b"):
            (tmp_path / "target" / split / c).mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "target" / split / c / "0.png")
    (tmp_path / "flat").mkdir()


@pytest.mark.parametrize("args, message", [
    (["--bt-source-weights", "{t}/w.pt"], "--bt-source-weights='{t}/w.pt' needs --bt-arch"),
    (["--bt-source-weights", "{t}/nope.pt", "--bt-arch", "mini_resnet"], "source weights '{t}/nope.pt' does not exist"),
    (["--bt-source-weights", "{t}/junk.pt", "--bt-arch", "mini_resnet"], "source weights '{t}/junk.pt' is not a checkpoint"),
    (["--bt-source-weights", "{t}/w.pt", "--bt-arch", "mini_vgg"], "do not fit architecture 'mini_vgg': 30 missing keys"),
    (["--bt-target-dir", "{t}/none"], "target folder '{t}/none' does not exist: expected DIR/train/<class>/"),
    (["--bt-target-dir", "{t}/flat"], "target folder '{t}/flat' has neither train/ nor train.beton"),
    (["--bt-target-dir", "{t}/target", "--bt-target", "shapes4"], "--bt-target ['shapes4'] unknown at scale mini: "
                                                                  "expected some of target_dir"),
    (["--bt-target-dir", "{t}/target", "--bt-update-baselines"], "--bt-update-baselines records the suite's own"),
    (["--bt-stencil", "{t}/logo.png"], "stencil file '{t}/logo.png' does not exist"),
    (["--bt-stencil", "tennis"], "stencil 'tennis' is unknown: expected one of tennis_ball"),
    (["--bt-stencil", "hat", "--bt-stencil", "{t}/x/hat.png"], "expected distinct names other than 'trigger'"),
    (["--bt-stencil-size", "1.5"], "--bt-stencil-size='1.5': expected a fraction of the image side in (0, 1]"),
    (["--bt-stencil-corner", "middle"], "corner='middle' is unknown: expected one of top-left"),
])
def test_bad_audit_option_is_one_clear_error(tmp_path, args, message):
    _audit_inputs(tmp_path)
    code, out = _pytest(tmp_path, *[a.format(t=tmp_path) for a in args])
    assert code != 0
    assert message.format(t=tmp_path) in out


def test_an_audit_runs_the_natural_bias_checks_and_skips_the_planted_ones_with_the_reason(tmp_path):
    _audit_inputs(tmp_path)
    code, out = _pytest(tmp_path, "--bt-source-weights", str(tmp_path / "w.pt"), "--bt-arch", "mini_resnet",
                        "--bt-target-dir", str(tmp_path / "target"), "--bt-stencil", "hat")
    assert code == 0, out
    assert "test_intervention_shifts_transferred_more_than_scratch[full-hat]" in out
    assert "tennis_ball" not in out
    proc = subprocess.run([sys.executable, "-m", "pytest", "cases/test_backdoor_fixed.py", "-q", "-rs", "-p",
                           "no:cacheprovider", "--bt-cache", str(tmp_path / "c"), "--bt-target-dir",
                           str(tmp_path / "target")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIPPED" in proc.stdout and "measures a source the suite trains with a planted trigger" in proc.stdout


def _collect(tmp_path, *args):
    proc = subprocess.run([sys.executable, "-m", "pytest", "cases/test_natural_biases.py", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "--bt-cache", str(tmp_path / "c"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_the_feature_check_runs_in_an_audit_only(tmp_path):
    """The check against the scrambled control is an audit's: on the suite's own sources it is deselected
    (reported as such), and an audit collects it beside the paper's check."""
    own = _collect(tmp_path)
    assert "test_the_feature_not_the_covered_corner" not in own
    assert "6 deselected" in own and "test_intervention_shifts_transferred_more_than_scratch[full-hat]" in own
    _audit_inputs(tmp_path)
    audit = _collect(tmp_path, "-m", "audit", "--bt-source-weights", str(tmp_path / "w.pt"), "--bt-arch",
                     "mini_resnet", "--bt-target-dir", str(tmp_path / "target"), "--bt-stencil", "hat")
    assert "test_the_feature_not_the_covered_corner_shifts_transferred_more[full-hat]" in audit
    assert "test_intervention_shifts_transferred_more_than_scratch[full-hat]" in audit


@pytest.mark.parametrize("factory, message", [
    ("math:pi", "architecture factory 'math:pi' is a float, not a function"),
    ("builtins:dict", "architecture factory 'builtins:dict' returned a dict: expected a torch.nn.Module"),
])
def test_a_factory_that_makes_no_model_is_a_usage_error(tmp_path, factory, message):
    code, out = _pytest(tmp_path, "--bt-arch", factory)
    assert code == 4 and message in out and "INTERNALERROR" not in out     # pytest's usage error
