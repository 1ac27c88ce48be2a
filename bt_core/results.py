"""A finished run's results as pandas frames: one tidy row per check and seed, the run's context on
every row, so a notebook, the CSVs, the report and the comparison read the same numbers.

``load("bt-results")`` is the one call a notebook needs; :func:`checks` folds it to one row per
check (summary.csv).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from . import atomic
from .errors import ConfigError

RESULTS_JSON = "results.json"
PARTIAL_DIR = "partial"          # where a run that did not finish writes, beside the last finished one
RESULTS_CSV = "results.csv"
SUMMARY_CSV = "summary.csv"

# what a check measured and how it was judged: the same on each of its seed rows
CHECK_COLUMNS = ("claim", "check", "case", "source", "target", "mode", "metric", "expect", "threshold", "status",
                 "passed", "n", "mean", "std", "ci_low", "ci_high", "t", "t_bound", "p", "p_needed", "p_greater",
                 "p_less", "seeds_needed", "baseline_mean", "baseline_arch", "tolerance", "failures", "models")
SEED_COLUMNS = ("seed", "value")
RUN_COLUMNS = ("scale", "arch", "seed_plan", "commit")
COLUMNS = (*CHECK_COLUMNS[:9], *SEED_COLUMNS, *CHECK_COLUMNS[9:], *RUN_COLUMNS)
# nullable types, so a missing value reads back from the CSV as the same NA
DTYPES = {**{c: "string" for c in ("claim", "check", "case", "source", "target", "mode", "metric", "expect",
                                   "status", "baseline_arch", "failures", "models", *RUN_COLUMNS)},
          **{c: "Int64" for c in ("seed", "n", "seeds_needed")}, "passed": "boolean"}


def read(run_dir: Path | str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A finished run's verdicts and run info as results.json holds them; a missing file or one of
    another shape is a clear error."""
    path = Path(run_dir) / RESULTS_JSON
    try:
        blob = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no {RESULTS_JSON} in {str(run_dir)!r}: expected the output folder of a finished "
                          "run (benchmark/bt run writes bt-results/)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{str(path)!r} is not valid JSON ({exc}): expected a finished run's results") from None
    verdicts = blob.get("verdicts") if isinstance(blob, dict) else None
    if not isinstance(verdicts, list) or any("status" not in v or "seeds" not in v for v in verdicts):
        raise ConfigError(f"{str(path)!r} holds no verdicts of this suite's shape (each with a status and its "
                          "seeds; results written before sequential verdicts lack both): rerun benchmark/bt run")
    return verdicts, blob["run"]


def unfinished(run: dict[str, Any]) -> str | None:
    """Why the run did not finish (interrupted, stopped early), or None for a finished run (results
    written before runs said so count as finished)."""
    return None if run.get("finished", True) else str(run.get("stopped") or "it did not finish")


def partial_line(run: dict[str, Any], checks: int) -> str | None:
    """The line that ends a partial run's table and report, or None for a finished run."""
    why = unfinished(run)
    return None if why is None else (f"PARTIAL RUN, not finished: {why}; only the {checks} checks that reached "
                                     "a verdict are shown")


def seed_plan(run: dict[str, Any]) -> str:
    """The run's seed plan in words."""
    plan = run.get("seeds") or {}
    if plan.get("kind") == "fixed":
        return f"seeds {plan['seeds']} (fixed-sample t-test)"
    if plan.get("kind") == "sequential":
        return f"sequential seeds from {plan['first']}, looks {plan['looks']}"
    return f"seeds {plan}"


def _check_fields(v: dict[str, Any]) -> dict[str, Any]:
    s, c, base = v["summary"], v["context"], v.get("baseline") or {}
    return {"claim": v["claim"], "check": v["check"], "case": v["check"].partition("[")[2].rstrip("]") or None,
            "source": c.get("source"), "target": c.get("target"), "mode": c.get("mode"), "metric": v["metric"],
            "expect": v["expect"], "threshold": c.get("threshold", 0.0), "status": v["status"],
            "passed": v["passed"], "n": s["n"], "mean": s["mean"], "std": s.get("std"), "ci_low": s["ci_low"],
            "ci_high": s["ci_high"], "t": s["t"], "t_bound": s["bound"], "p": s["p"], "p_needed": s["p_needed"],
            "p_greater": s["p_greater"], "p_less": s["p_less"], "seeds_needed": c.get("seeds_needed"),
            "baseline_mean": base.get("mean"), "baseline_arch": (base.get("provenance") or {}).get("arch"),
            "tolerance": v.get("tolerance"), "failures": " | ".join(v["failures"]) or None,
            "models": "; ".join(c.get("models", [])) or None}


def frame(verdicts: Sequence[dict[str, Any]], run: dict[str, Any]) -> pd.DataFrame:
    """One row per check and seed: the seed's value, the check's verdict, the run's context."""
    context = {"scale": run.get("scale"), "arch": run.get("arch"), "seed_plan": seed_plan(run),
               "commit": run.get("commit")}
    rows = [{**_check_fields(v), "seed": seed, "value": value, **context}
            for v in verdicts for seed, value in zip(v["seeds"], v["values"])]
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.astype(DTYPES)


def load(run_dir: Path | str) -> pd.DataFrame:
    """A finished run's results.json as one tidy frame (see :func:`frame`)."""
    return frame(*read(run_dir))


def checks(results: pd.DataFrame) -> pd.DataFrame:
    """One row per check, in the run's order: its verdict, the seeds it used (space-separated) and
    the run's context."""
    keys = ["claim", "check"]
    seeds = results.groupby(keys, sort=False)["seed"].agg(lambda s: " ".join(map(str, s))).rename("seeds")
    out = results.drop_duplicates(keys).drop(columns=list(SEED_COLUMNS)).join(seeds, on=keys)
    cols = list(out.columns)
    cols.insert(cols.index("n") + 1, cols.pop())
    return out[cols].reset_index(drop=True)


def write_csvs(outdir: Path, results: pd.DataFrame) -> dict[str, Path]:
    """results.csv (the tidy frame) and summary.csv (one row per check)."""
    paths = {"csv": outdir / RESULTS_CSV, "summary": outdir / SUMMARY_CSV}
    for path, table in ((paths["csv"], results), (paths["summary"], checks(results))):
        with atomic.replacing(path) as tmp:
            table.to_csv(tmp, index=False)
    return paths
