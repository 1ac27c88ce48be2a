"""The command line as a user runs it, and the results.json its report, power and compare commands read."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

RUN = {"scale": "mini", "arch": "mini_resnet", "commit": "abc",
       "seeds": {"kind": "fixed", "seeds": [0, 1], "alpha": 0.05}}


def run_benchmark(args: list[str], tmp_path: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m benchmark ARGS`` in a subprocess, as a user runs it, with a scratch cache and home."""
    env = {"BT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def make_verdict(claim: str, values: list[float], status: str = "holds", passed: bool | None = None) -> dict:
    """A verdict of results.json's shape; it passes when it holds unless ``passed`` says otherwise."""
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


def write_results(out: Path, verdicts: list[dict], run: dict = RUN) -> None:
    """A run's results.json in ``out``, as the commands that read one find it."""
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps({"run": run, "verdicts": verdicts}))
