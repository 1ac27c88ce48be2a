"""A new backbone's numbers beside the recorded baselines, check by check, and the exit status a CI
job acts on: 0 when every claim holds and no check drifts, 1 when one does not, 2 on a usage error."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.console import Console

from bt_core import baselines, report

HOLDS, BROKEN, USAGE, DID_NOT_FINISH = 0, 1, 2, 3
MEANING = {HOLDS: "every claim holds and none drifts from its baseline",
           BROKEN: "a claim does not hold, is undecided or drifts", USAGE: "usage error",
           DID_NOT_FINISH: "the run did not finish"}
PYTEST_USAGE, PYTEST_NO_TESTS = int(pytest.ExitCode.USAGE_ERROR), int(pytest.ExitCode.NO_TESTS_COLLECTED)


def outcome(checks: pd.DataFrame | None, pytest_code: int) -> tuple[int, list[str]]:
    """The comparison's exit status and the lines that say why: the run's own verdicts (see
    :func:`bt_core.report.failed`), with pytest's status for what never reached a verdict."""
    if pytest_code in (PYTEST_USAGE, PYTEST_NO_TESTS):
        return USAGE, [f"usage error: pytest stopped with exit code {pytest_code} before any check ran "
                       "(its message is above)"]
    if pytest_code not in (0, 1):
        return DID_NOT_FINISH, [f"the run did not finish: pytest exit code {pytest_code} (interrupted or an "
                                "internal error)"]
    if checks is None or checks.empty:
        if pytest_code == 1:
            return BROKEN, ["no check reached a verdict: the tests failed before measuring (see the log above)"]
        return USAGE, ["no check ran (all were skipped or deselected): nothing to compare"]
    bad = report.failed(checks)
    lines = [f"{row['claim']} {row['check']}: {row['failures']}" for _, row in bad.iterrows()]
    if pytest_code == 1 and bad.empty:
        lines.append("a test failed without a verdict (an error while measuring: see the log above)")
    return (BROKEN, lines) if lines else (HOLDS, [])


def print_comparison(checks: pd.DataFrame, run: dict[str, Any], baselines_dir: Path, scale: str,
                     console: Console | None = None) -> None:
    """Baseline mean, this backbone's mean, their difference and the verdict, one row per check;
    it fits 120 columns and is never cut to 80 in a log."""
    recorded = {(claim, check): entry for claim in checks["claim"].unique()
                for check, entry in baselines.load(baselines_dir, scale, claim).items()}
    archs = sorted({recorded[key]["provenance"]["arch"] for key in zip(checks["claim"], checks["check"])
                    if key in recorded})

    def cells(row: pd.Series) -> tuple[str, ...]:
        base = recorded.get((row["claim"], row["check"]))
        return (f"{base['mean']:.3f}" if base else "—", f"{row['mean']:.3f}",
                f"{row['mean'] - base['mean']:+.3f}" if base else "—", str(row["n"]), report.verdict_text(row))

    console = console or report.wide_console()
    console.print(f"{run['arch']} vs the baselines of {', '.join(archs) or 'no recorded arch'} (scale {scale})",
                  style="bold")
    console.print(report.headed_table(checks, ("baseline", "backbone", "Δ", "seeds", "verdict"), cells))
