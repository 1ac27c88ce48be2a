"""A new backbone's numbers beside the recorded baselines, check by check."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from bt_core import baselines, report


def print_comparison(verdicts: Sequence[dict[str, Any]], run: dict[str, Any], baselines_dir: Path, scale: str,
                     console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"{run['arch']} vs the recorded baselines (scale {scale}, {report.seeds_text(run)})",
                  header_style="bold")
    for col in ("claim", "check", "metric", "baseline arch", "baseline", run["arch"], "Δ", "seeds", "claim verdict"):
        table.add_column(col)
    cases: dict[str, dict] = {}
    for v in verdicts:
        case = v["claim"]
        if case not in cases:
            cases[case] = baselines.load(baselines_dir, scale, case)
        base = cases[case].get(v["check"])
        now = v["summary"]["mean"]
        colour = {"holds": "green", "does not hold": "red"}.get(v["status"], "yellow")
        table.add_row(v["claim"], v["check"], v["metric"],
                      base["provenance"]["arch"] if base else "—",
                      f"{base['mean']:.3f}" if base else "not recorded", f"{now:.3f}",
                      f"{now - base['mean']:+.3f}" if base else "—", str(len(v["values"])),
                      f"[{colour}]{v['status']}[/]")
    console.print(table)
