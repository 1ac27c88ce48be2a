"""The progress display end to end: one small cold run of a case prints a line per model built and
a closing line, with no terminal codes off a terminal."""
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO


@pytest.mark.slow
def test_a_cold_run_of_one_case_prints_a_line_per_model_built(tmp_path):
    env = {**os.environ, "BT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "cases", "-m", "paper", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-k", "backdoor_fixed and shapes4", "--bt-seeds", "2",
                           "--bt-arch", "tests.helpers.backbones:tiny", "--bt-output", str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=1200, env=env)
    lines = [s for s in proc.stderr.splitlines() if s.startswith("bt: ")]
    assert len([s for s in lines if s.startswith("bt: built ")]) == 8, proc.stdout + proc.stderr
    assert lines[-1].startswith("bt: run done: 8 models trained") and "\x1b" not in proc.stderr
    assert "models 8/8 " in lines[-2] and "checks 0/1" in lines[-2]
