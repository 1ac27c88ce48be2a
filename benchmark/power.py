"""How a finished run's checks would fare on a fresh draw of seeds, and what that costs.

Every machine, backbone or code change trains other models from the same seeds, so a verdict is
one draw. This command takes each check's measured effect (mean over the seeds' spread, in the
direction the paper expects) and simulates the run's seed design with it: the chance the check
holds, does not hold or stays undecided, the seeds it uses on average, and, over the run, the
chance that every check holds and the models a run is expected to train (a model is trained for
seed n when any check that uses it reaches n seeds). It covers the paper's inequalities only, not
the baseline drift check.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from bt_core import claims, metrics, report, results, sequential

POWER_CSV = "power.csv"
SIMS = 20_000


def run_design(run: dict[str, Any], looks: Sequence[int] | None) -> sequential.Design:
    """The design the run used (or one with other ``looks``)."""
    plan = run.get("seeds") or {}
    if looks:
        return sequential.design(sequential.Spec(looks=tuple(looks)))
    if plan.get("kind") == "sequential":
        return sequential.Design.from_dict(plan["design"])
    return sequential.fixed(len(plan["seeds"]))


def power_rows(checks: pd.DataFrame, design: sequential.Design, target: float) -> list[dict[str, Any]]:
    """One row per check (a row of :func:`bt_core.results.checks`): its standardized effect, how the
    design treats that effect, and the seeds a fixed-sample test would need for a ``target`` chance
    (None beyond 100; NaN effect: one seed)."""
    rows = []
    for i, c in enumerate(checks.to_dict("records")):
        effect = claims.standardized_effect(c)
        known = not math.isnan(effect)
        op = sequential.operating(design, effect, sims=SIMS, seed=i) if known else None
        models = c["models"].split("; ") if isinstance(c["models"], str) else []
        rows.append({"claim": c["claim"], "check": c["check"], "metric": c["metric"], "n": int(c["n"]),
                     "effect": effect, "op": op, "models": models,
                     "seeds_needed": metrics.seeds_for_power(effect, target, design.spec.alpha) if known else None})
    return rows


def expected_models(rows: Sequence[dict[str, Any]], looks: Sequence[int]) -> tuple[float, int]:
    """Models a run is expected to train under the design (each family of models, e.g. the clean
    source, is trained up to the most seeds any check using it reaches), and the models these
    rows' own seed counts trained."""
    families: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        for f in r["models"]:
            families.setdefault(f, []).append(r)
    expected, measured = 0.0, 0
    for users in families.values():
        measured += max(r["n"] for r in users)
        # E[max N] = sum over n >= 1 of P(max N >= n) = sum of 1 - prod_c P(N_c < n)
        for n in range(1, looks[-1] + 1):
            below = [sum(p for look, p in zip(looks, r["op"].seeds_at_look) if look < n) if r["op"] else 1.0
                     for r in users]
            expected += 1.0 - math.prod(below)
    return expected, measured


def _effect(effect: float) -> str:
    """A standardized effect; values that barely vary give huge ones, whose digits mean nothing."""
    return "—" if math.isnan(effect) else ">= 100" if effect >= 100 else f"{effect:.2f}"


def pct(p: float) -> str:
    if math.isnan(p):
        return "—"
    if 0.999 < p < 1.0:
        return ">99.9%"
    return f"{100 * p:.1f}%" if p > 0.99 else f"{100 * p:.0f}%"


def outlook(verdicts: Sequence[dict[str, Any]], run: dict[str, Any], looks: Sequence[int] | None = None,
            target: float = 0.9) -> tuple[sequential.Design, list[dict[str, Any]], float]:
    """The design, each check's row (weakest first) and the chance that every check holds on a fresh draw."""
    design = run_design(run, looks)
    rows = sorted(power_rows(results.checks(results.frame(verdicts, run)), design, target),
                  key=lambda r: (r["op"].holds if r["op"] else -1.0, r["effect"], r["check"]))
    return design, rows, math.prod(r["op"].holds for r in rows if r["op"])


def print_power(outdir: Path, verdicts: Sequence[dict[str, Any]], run: dict[str, Any], looks: Sequence[int] | None,
                target: float, console: Console | None = None) -> list[dict]:
    """Print the table (weakest check first) and the run's outlook; write power.csv in ``outdir``."""
    console = console or report.wide_console()
    design, rows, all_hold = outlook(verdicts, run, looks, target)
    t = Table(title=f"Each check on a fresh draw of seeds, looks {list(design.looks)} — effects measured by the run "
                    f"(scale {run.get('scale')}, arch {run.get('arch')}, commit {str(run.get('commit'))[:12]})",
              header_style="bold")
    for col in ("claim", "case", "metric", "effect (sd)", "seeds used", "holds", "does not hold", "undecided",
                "mean seeds", f"fixed n for {pct(target)}"):
        t.add_column(col, justify="left" if col in ("claim", "case", "metric") else "right")
    for r in rows:
        op = r["op"]
        t.add_row(r["claim"], r["check"].partition("[")[2].rstrip("]"), r["metric"],
                  _effect(r["effect"]), str(r["n"]),
                  *((pct(op.holds), pct(op.does_not_hold), pct(op.undecided), f"{op.expected_seeds:.1f}")
                    if op else ("—",) * 4),
                  "—" if r["seeds_needed"] is None else str(r["seeds_needed"]))
    console.print(t)
    known = [r["op"] for r in rows if r["op"]]
    models, trained = expected_models(rows, design.looks)
    console.print(f"All {len(rows)} checks hold with chance {pct(all_hold)} (if independent); "
                  f"{sum(1 - op.holds for op in known):.2f} checks expected not to hold; "
                  f"{np.mean([op.expected_seeds for op in known]):.1f} seeds per check expected; "
                  f"about {models:.0f} models trained per cold run (this run: {trained}).")
    if any(r["n"] <= 3 for r in rows):
        console.print("[dim]Effects measured on three seeds are rough and on average overstated (a check stops "
                      "early when its draw is strong), so these chances lean optimistic for those checks.[/]")
    with open(outdir / POWER_CSV, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["claim", "check", "metric", "n", "effect", "p_holds", "p_does_not_hold", "p_undecided",
                    "expected_seeds", "fixed_seeds_needed"])
        for r in rows:
            op = r["op"]
            w.writerow([r["claim"], r["check"], r["metric"], r["n"], r["effect"],
                        *((op.holds, op.does_not_hold, op.undecided, op.expected_seeds) if op else [""] * 4),
                        r["seeds_needed"]])
    return rows
