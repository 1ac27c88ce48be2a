"""A run that did not finish never passes for a finished one: its results go to <output>/partial/,
marked "finished": false with why, and report, power and compare say so. No model is trained here:
the checks measure a fixed number per seed through the suite's own plugin."""
import json
import subprocess
import sys

import pytest

from tests.helpers import REPO

DEMO = '''
def test_a(check):
    check(metric="m", measure=lambda seed: 0.3 + seed / 100)


def test_b(check):
    check(metric="m", measure=lambda seed: 0.2 + seed / 100)
    {stop}
'''


def _pytest(tmp_path, stop, *args):
    (tmp_path / "test_demo.py").write_text(DEMO.format(stop=stop))
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "benchmark.pytest_plugin", "test_demo.py", "-q", "-p",
                           "no:cacheprovider", "-p", "no:xdist", "--bt-output", "out", "--bt-baselines", "base",
                           "--bt-cache", "cache", "--bt-progress", "off", "--bt-seeds", "3", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def _cli(tmp_path, *args):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("stop, args, code, why", [
    ("raise KeyboardInterrupt", (), 2, "interrupted (pytest exit status 2: Ctrl-C or a stop request)"),
    ("assert False", ("-x",), 1, "stopped early"),
])
def test_an_unfinished_run_leaves_the_finished_runs_results_and_says_it_is_partial(tmp_path, stop, args, code, why):
    first = _pytest(tmp_path, "pass")
    assert first.returncode == 0, first.stdout + first.stderr
    out = tmp_path / "out"
    finished = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert json.loads(finished["results.json"])["run"]["finished"] is True
    second = _pytest(tmp_path, stop, "--bt-first-seed", "5", *args)
    assert second.returncode == code, second.stdout + second.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == finished
    run = json.loads((out / "partial" / "results.json").read_text())["run"]
    assert run["finished"] is False and run["stopped"].startswith(why)
    assert (out / "partial" / "report.md").read_text().rstrip().splitlines()[-1].startswith(
        f"**PARTIAL RUN, not finished: {why}")
    assert "PARTIAL RUN, not finished" in second.stdout and "out/results.json is left as it was" in second.stdout
    assert not list(out.rglob(".*.tmp"))
    power = _cli(tmp_path, "power", str(out / "partial"))
    assert power.returncode == 2 and "holds a partial run" in power.stderr
    shown = _cli(tmp_path, "report", str(out / "partial"))
    assert shown.returncode == 1 and "PARTIAL RUN, not finished" in shown.stdout
    shown = _cli(tmp_path, "report", str(out))
    assert shown.returncode == 0 and "holds a later run that did not finish" in shown.stderr
