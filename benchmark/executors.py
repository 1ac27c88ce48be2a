"""``python -m benchmark executors``: one mini slice built inline, through submitit's local processes
and through Slurm, each in a fresh cache, side by side: wall time, models built, and whether the
per-seed values equal the inline run's."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLICE = ["-m", "paper", "-k", "backdoor_fixed and shapes12"]


def _cpu() -> str:
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        return f"{names[0]} x{len(names)}" if names else platform.processor()
    except OSError:
        return platform.processor()


def _one(executor: str, seeds: str, jobs: int, work: Path) -> dict:
    cache, out = work / f"cache-{executor}", work / f"out-{executor}"
    argv = [sys.executable, "-m", "pytest", "cases", *SLICE, "--bt-seeds", seeds, "-q", "-p", "no:cacheprovider",
            "--bt-cache", str(cache), "--bt-output", str(out), "--bt-executor", executor]
    if executor != "inline":
        argv += ["--bt-jobs", str(jobs)]
    if executor == "slurm":
        argv += ["--bt-slurm-cpus", "1"]
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, env={**os.environ, "BT_PROGRESS": "off"}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"executor": executor, "error": (proc.stdout + proc.stderr)[-2000:]}
    builds = [json.loads(x) for x in (cache / "builds.jsonl").read_text().splitlines() if x.strip()]
    values = {v["check"]: v["values"] for v in json.loads((out / "results.json").read_text())["verdicts"]}
    return {"executor": executor, "wall_s": wall,
            "models": sum(1 for b in builds if b["kind"] in ("source", "transfer")), "values": values}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark executors", description=__doc__)
    p.add_argument("--seeds", default="2", help="fixed seeds of the slice (default 2: seeds 0 and 1)")
    p.add_argument("--jobs", type=int, default=2, help="jobs per wave for local and slurm (default 2)")
    p.add_argument("--executors", default="inline,local,slurm", help="which to run, in order")
    args = p.parse_args(argv)
    chosen = args.executors.split(",")
    if "slurm" in chosen and shutil.which("sbatch") is None:
        print("sbatch is not on PATH: expected a Slurm client (.ci/slurm-up starts a one-node Slurm), or "
              "--executors inline,local", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bt-executors-") as tmp:
        rows = [_one(e, args.seeds, args.jobs, Path(tmp)) for e in chosen]
    print(f"slice {SLICE[-1]!r}, --bt-seeds {args.seeds}, {args.jobs} jobs; {_cpu()}")
    base = rows[0]
    print(f"{'executor':10} {'wall s':>8} {'ratio':>6} {'models':>7}  same values as {base['executor']}")
    for r in rows:
        if "error" in r:
            print(f"{r['executor']:10} failed:\n{r['error']}")
            continue
        ratio = r["wall_s"] / base["wall_s"] if "wall_s" in base else float("nan")
        print(f"{r['executor']:10} {r['wall_s']:8.1f} {ratio:6.2f} {r['models']:7d}  "
              f"{'yes' if r['values'] == base.get('values') else 'NO'}")
    return 0 if all("error" not in r for r in rows) else 1
