"""The fp32 fallback end to end: a run forced to fp32 (what ``auto`` gives on a CPU without bf16
units) passes against baselines recorded in bf16, says so under its table, and records its precision."""
import json
import subprocess
import sys

from tests.helpers import REPO


def test_a_run_forced_to_fp32_judges_against_bf16_baselines_and_says_so(tmp_path):
    baselines = tmp_path / "baselines" / "mini"
    baselines.mkdir(parents=True)
    recorded = json.loads((REPO / "baselines" / "mini" / "linear.json").read_text())
    for entry in recorded["checks"].values():
        entry["provenance"]["precision"] = "bf16"          # as a machine with bf16 units records them
    (baselines / "linear.json").write_text(json.dumps(recorded))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "pytest", "cases/test_linear.py", "-q", "-p", "no:cacheprovider",
                           "--bt-precision", "fp32", "--bt-baselines", str(tmp_path / "baselines"),
                           "--bt-output", str(out), "--bt-cache", str(tmp_path / "cache"), "--bt-progress", "off"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "this run trained in fp32; baselines trained otherwise: 2 checks' in bf16" in proc.stdout
    run = json.loads((out / "results.json").read_text())["run"]
    assert run["precision"] == "fp32"
