"""The executors on this machine, with a real one-node Slurm (``.ci/slurm-up``): a mini slice built
through submitit gives the inline run's per-seed values with each model built once; a job killed
mid-build is resubmitted; a build that raises is named with its log and the run exits 3; two runs on
one cache build nothing twice."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from bt_core.locks import holder

REPO = Path(__file__).resolve().parents[2]
# the cheapest claim slice: per seed one source, its full-network transfer and a scratch model
SLICE = ["-m", "paper", "-k", "natural_biases and tennis_ball and full", "--bt-seeds", "2"]
MODELS = 6
FINISHED = (0, 1)         # every check judged; whether it holds at two seeds is not what these tests ask
pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _slurm_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=False)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm():
    if not _slurm_up():
        if os.environ.get("BT_REQUIRE_SLURM"):
            pytest.fail("BT_REQUIRE_SLURM is set but no Slurm node answers (run .ci/slurm-up)")
        pytest.skip("no Slurm here: .ci/slurm-up starts a one-node one")


def _start(tmp: Path, cache: Path, *extra: str) -> subprocess.Popen:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BT_PROGRESS": "off"}
    argv = [sys.executable, "-m", "pytest", "cases", *SLICE, "-p", "no:cacheprovider", "-q",
            "--bt-cache", str(cache), "--bt-output", str(tmp / "out"), *extra]
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=open(tmp / "log.txt", "w"), stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen, tmp: Path, timeout: float = 1500) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return code, (tmp / "log.txt").read_text()


def _values(tmp: Path) -> dict[str, list[float]]:
    verdicts = json.loads((tmp / "out" / "results.json").read_text())["verdicts"]
    return {v["check"]: v["values"] for v in verdicts}


def _model_builds(cache: Path) -> Counter:
    lines = [json.loads(x) for x in (cache / "builds.jsonl").read_text().splitlines() if x.strip()]
    return Counter(b["key"] for b in lines if b["kind"] in ("source", "transfer"))


@pytest.fixture(scope="module")
def inline(tmp_path_factory):
    """The slice inline, in a cache of its own: the values every executor must reproduce."""
    tmp = tmp_path_factory.mktemp("inline")
    code, log = _finish(_start(tmp, tmp / "cache"), tmp)
    assert code in FINISHED, log[-3000:]
    values = _values(tmp)
    assert [len(v) for v in values.values()] == [2], values
    return values


def test_local_executor_with_two_processes_gives_the_inline_values(inline, tmp_path):
    cache = tmp_path / "cache"
    code, log = _finish(_start(tmp_path, cache, "--bt-executor", "local", "--bt-jobs", "2"), tmp_path)
    assert code in FINISHED, log[-3000:]
    assert _values(tmp_path) == inline
    builds = _model_builds(cache)
    assert len(builds) == MODELS and set(builds.values()) == {1}
    assert len({b["pid"] for b in map(json.loads, (cache / "builds.jsonl").read_text().splitlines())
                if b["kind"] == "source"}) == 2, "the sources were not spread over two processes"


def _kill_first_build(cache: Path, killed: list[int]) -> None:
    """SIGKILL the job process that builds the first source, once it has started (its lock names the
    process): a lost node or an OOM kill. scancel would not do: submitit's job process ignores SIGTERM,
    and within Slurm's KillWait a short job finishes its builds and writes its result."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and not killed:
        locks = list((cache / "source").glob("*.lock")) if (cache / "source").is_dir() else []
        holders = [h for h in map(holder, locks) if h and isinstance(h.get("pid"), int)]
        if holders:
            time.sleep(3)
            try:
                os.kill(holders[0]["pid"], signal.SIGKILL)
            except ProcessLookupError:
                continue                              # that build ended meanwhile: wait for the next
            killed.append(holders[0]["pid"])
            return
        time.sleep(0.5)


def test_slurm_gives_the_inline_values_and_resubmits_a_job_killed_mid_build(slurm, inline, tmp_path):
    cache = tmp_path / "cache"
    proc = _start(tmp_path, cache, "--bt-executor", "slurm", "--bt-jobs", "2", "--bt-slurm-cpus", "1",
                  "--bt-slurm-time", "30", "--bt-job-logs", str(tmp_path / "jobs"))
    killed: list[str] = []
    killer = threading.Thread(target=_kill_first_build, args=(cache, killed), daemon=True)
    killer.start()
    code, log = _finish(proc, tmp_path)
    killer.join(timeout=5)
    assert code in FINISHED, log[-3000:]
    assert killed, "no job was running a build to kill"
    assert "died without a result: resubmitting" in log
    assert _values(tmp_path) == inline
    builds = _model_builds(cache)
    assert len(builds) == MODELS and set(builds.values()) == {1}
    assert list((tmp_path / "jobs").glob("*/*_log.err")), "no job log kept"


def test_a_build_that_raises_is_named_with_its_log_and_the_run_exits_3(slurm, tmp_path):
    code, log = _finish(_start(tmp_path, tmp_path / "cache", "--bt-executor", "slurm", "--bt-slurm-cpus", "1",
                               "--bt-arch", "tests.helpers.backbones:raises_in_training",
                               "--bt-job-logs", str(tmp_path / "jobs")), tmp_path, timeout=600)
    assert code == 3, log[-3000:]
    assert "builds failed (the run did not finish, exit 3)" in log
    assert "planted failure: this backbone raises in its first training step" in log
    assert "(log: " in log and str(tmp_path / "jobs") in log
    assert "a model it is transferred from failed to build" in log
    assert not (tmp_path / "out" / "results.json").exists(), "a run that did not finish wrote finished results"


def test_two_runs_on_one_cache_build_each_model_once(slurm, inline, tmp_path):
    cache = tmp_path / "cache"
    opts = ("--bt-executor", "slurm", "--bt-jobs", "1", "--bt-slurm-cpus", "1")
    procs = [_start(tmp_path / name, cache, *opts, "--bt-job-logs", str(tmp_path / name / "jobs"))
             for name in ("a", "b")]
    for name, proc in zip(("a", "b"), procs):
        code, log = _finish(proc, tmp_path / name)
        assert code in FINISHED, log[-3000:]
        assert _values(tmp_path / name) == inline
    builds = _model_builds(cache)
    assert len(builds) == MODELS and set(builds.values()) == {1}
