"""``python -m benchmark measured DIR...``: the README's Measured rows for finished runs, from what each
run wrote (results.json), so the figures there are generated, not typed: the machine and precision,
the seed draw, the verdicts, seeds per check, pytest's span, the models its checks used, and the chance
that every check holds on a fresh draw (:mod:`benchmark.power`)."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bt_core import results
from bt_core.errors import BTError

from .power import pct, expected_models, outlook

HEADER = ("| command, commit | machine, precision | first seed | verdicts | seeds per check | models | pytest span | all hold on a fresh draw |\n"
          "|---|---|--:|---|---|--:|--:|--:|")


def _portable(command: str) -> str:
    """The command without its output folder (a path of the machine that ran it) or its progress
    display (no figure depends on it), its cache folder as DIR (that one was given stays said). Older
    runs recorded the CLI's sub-commands after "pytest"; they are named as the CLI they came from."""
    command = re.sub(r"^pytest (?=(?:run|compare|audit|plan)\b)", "python -m benchmark ", command)
    command = re.sub(r"(\s--(?:bt-)?cache[ =])\S+", r"\1DIR", command)
    return re.sub(r"\s--(?:bt-)?(?:output|progress)[ =]\S+", "", command)


def row(outdir: Path) -> str:
    """One Markdown row for the finished run in ``outdir``."""
    verdicts, run = results.read(outdir)
    why = results.unfinished(run)
    if why:
        raise BTError(f"{outdir} holds a partial run ({why}): expected a finished run")
    checks = results.checks(results.frame(verdicts, run))
    design, rows, all_hold = outlook(verdicts, run)
    _, trained = expected_models(rows, design.looks)
    holds = int((checks["status"] == "holds").sum())
    drifted = int(((checks["status"] == "holds") & ~checks["passed"].astype(bool)).sum())
    per_check = checks["n"].value_counts().sort_index()
    span = (run.get("time_by_phase") or {}).get("span_s")
    machine = (run.get("machine") or {}).get("cpu", "CPU not recorded")
    seeds = run.get("seeds") or {}
    return (f"| `{_portable(run.get('command', '?'))}` at {str(run.get('commit'))[:7]} | {machine}, {run.get('precision', 'fp32')} | "
            f"{seeds.get('first', '—')} | {holds}/{len(checks)} hold, {drifted} drifted | "
            + ", ".join(f"{k} at {n}" for n, k in per_check.items())
            + f" | {trained} | {'—' if span is None else f'{span:.0f} s'} | {pct(all_hold)} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark measured", description=__doc__)
    parser.add_argument("outputs", nargs="+", type=Path, help="results folders of finished runs")
    args = parser.parse_args(argv)
    lines = [HEADER]
    for outdir in args.outputs:
        try:
            lines.append(row(outdir))
        except BTError as exc:
            print(exc, file=sys.stderr)
            return 2
    print("\n".join(lines))
    return 0
