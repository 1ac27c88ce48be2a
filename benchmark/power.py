"""How many seeds each check of a finished run needs.

A verdict over three seeds is one draw: a check whose effect is two seed standard deviations passes
a one-sided t-test at alpha 0.05 about seven times in ten. This command turns each check's measured
effect into its chance to pass on a fresh draw of n seeds (the power of the test), the seeds it
needs for a chosen chance, and, over the whole run, the failing checks to expect. It covers the
paper's inequality only: the baseline comparison's tolerance of four standard errors is seldom the
part of a verdict that a fresh draw of seeds fails.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from bt_core import claims, metrics, report

POWER_CSV = "power.csv"


def power_rows(verdicts: Sequence[dict[str, Any]], seeds: Sequence[int], target: float,
               alpha: float = claims.ALPHA) -> list[dict[str, Any]]:
    """One row per check: its standardized effect, its power at each seed count in ``seeds`` and
    the fewest seeds reaching ``target`` (None beyond 100; NaN effect: a one-seed run)."""
    rows = []
    for v in verdicts:
        effect = claims.standardized_effect(v)
        known = not math.isnan(effect)
        rows.append({"claim": v["claim"], "check": v["check"], "metric": v["metric"], "n": v["summary"]["n"],
                     "effect": effect,
                     "power": {n: metrics.t_test_power(effect, n, alpha) if known else math.nan for n in seeds},
                     "seeds_needed": metrics.seeds_for_power(effect, target, alpha) if known else None})
    return rows


def run_outlook(rows: Sequence[dict[str, Any]], n: int) -> tuple[float, float]:
    """Expected failing checks at ``n`` seeds, and the chance that none fails if the checks were
    independent (they share models, so the real chance is likely higher)."""
    powers = [r["power"][n] for r in rows if not math.isnan(r["power"][n])]
    return sum(1.0 - p for p in powers), math.prod(powers)


def _pct(p: float) -> str:
    if math.isnan(p):
        return "—"
    return ">99%" if 0.99 < p < 1.0 else f"{100 * p:.0f}%"


def print_power(outdir: Path, seeds: Sequence[int], target: float, console: Console | None = None) -> list[dict]:
    """Print the table (weakest check first), the run's outlook per seed count, and write power.csv."""
    console = console or report.wide_console()
    verdicts, run = report.load(outdir)
    rows = sorted(power_rows(verdicts, seeds, target), key=lambda r: (r["power"][seeds[0]], r["check"]))
    n_run = len(run.get("seeds", []))
    t = Table(title=f"Chance each check passes on a fresh draw of seeds — effects measured on {n_run} seeds "
                    f"(scale {run.get('scale')}, arch {run.get('arch')}, commit {str(run.get('commit'))[:12]})",
              header_style="bold")
    for col in ("claim", "case", "metric", "effect (sd)", *(f"{n} seeds" for n in seeds),
                f"seeds for {_pct(target)}"):
        t.add_column(col, justify="left" if col in ("claim", "case", "metric") else "right")
    for r in rows:
        t.add_row(r["claim"], r["check"].partition("[")[2].rstrip("]"), r["metric"],
                  "—" if math.isnan(r["effect"]) else f"{r['effect']:.2f}",
                  *(_pct(r["power"][n]) for n in seeds),
                  "—" if r["seeds_needed"] is None else str(r["seeds_needed"]))
    console.print(t)
    for n in seeds:
        failing, all_pass = run_outlook(rows, n)
        console.print(f"{n} seeds: {failing:.2f} failing check(s) expected, all {len(rows)} pass with "
                      f"chance {_pct(all_pass)} (if independent)")
    if n_run <= 3:
        console.print(f"[dim]Effects measured on {n_run} seeds are rough and on average overstated; a run "
                      "with more seeds (benchmark/bt run --seeds 5) gives firmer figures.[/]")
    with open(outdir / POWER_CSV, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["claim", "check", "metric", "n", "effect", *(f"power_{n}" for n in seeds), "seeds_needed"])
        for r in rows:
            w.writerow([r["claim"], r["check"], r["metric"], r["n"], r["effect"], *(r["power"][n] for n in seeds),
                        r["seeds_needed"]])
    return rows
