"""Bad options and selections stop the run at once with one clear message (nothing is trained)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
