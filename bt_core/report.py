"""What a run leaves behind: a table that fits 120 columns, report.md, CSV/JSON results and figures
in the paper's style. The numbers come from :mod:`bt_core.results`' frame, the one a notebook loads."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import atomic, phases, results

REPORT_MD = "report.md"
FIGURES = ("triggers", "fig_backdoor", "fig_frequency", "fig_histograms")
LEGEND = ("seeds: used before the verdict · p: one-sided, of the paper's inequality · (~N): seeds to decide it · "
          "more: summary.csv")


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or x != x else f"{x:.{digits}f}"


def failed(checks: pd.DataFrame) -> pd.DataFrame:
    """Checks that fail the run: the claim does not hold, is undecided at the design's maximum, or
    drifted from its baseline."""
    return checks[~checks["passed"].astype(bool)]


def verdict_text(row: pd.Series, markup: bool = True) -> str:
    colour = {"holds": "green", "does not hold": "red", "undecided": "yellow"}[row["status"]]
    text = f"[{colour}]{row['status']}[/]" if markup else row["status"]
    if row["status"] == "undecided":
        need = row["seeds_needed"]
        text += " (>100)" if pd.isna(need) else f" (~{need})"
    if row["status"] == "holds" and not row["passed"]:
        text += ", [red]drifted[/]" if markup else ", drifted"
    return text


def inequality(row: pd.Series) -> str:
    return f"{row['metric']} {'>' if row['expect'] == 'greater' else '<'} {row['threshold']:g}"


def label(row: pd.Series) -> str:
    """The check within its claim and metric: its parameters, or the test's name when it has none."""
    return row["case"] if not pd.isna(row["case"]) else row["check"].removeprefix("test_")


def _mean_ci(row: pd.Series) -> str:
    return f"{_fmt(row['mean'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"


def _arithmetic(record: dict[str, Any]) -> str:
    """A run's or a baseline's precision, and what it compiled where that is not nothing."""
    compiled = record.get("compile", "none")
    return record.get("precision", "fp32") + ("" if compiled == "none" else f", compiled {compiled}")


def _title(run: dict[str, Any]) -> str:
    return (f"Bias transfer — scale {run.get('scale')}, arch {run.get('arch')}, precision {_arithmetic(run)}, "
            f"commit {str(run.get('commit'))[:12]}")


def precision_line(verdicts: Sequence[dict[str, Any]], run: dict[str, Any]) -> str | None:
    """Which checks compare with a baseline trained in another precision or compile setting (its
    floats differ as on another machine's kernels), or None when all share this run's."""
    ours = _arithmetic(run)
    theirs: dict[str, int] = {}
    for v in verdicts:
        if v.get("baseline"):
            p = _arithmetic(v["baseline"].get("provenance", {}))
            if p != ours:
                theirs[p] = theirs.get(p, 0) + 1
    if not theirs:
        return None
    return (f"this run trained in {ours}; baselines trained otherwise: "
            + ", ".join(f"{n} checks' in {p}" for p, n in sorted(theirs.items())))


def headed_table(checks: pd.DataFrame, columns: Sequence[str], cells: Callable[[pd.Series], Sequence[str]]) -> Table:
    """A table of checks under headings "claim: metric > threshold", one row each: its label, then
    ``cells(row)`` under ``columns`` (right-aligned, the last left-aligned). Narrow by
    design: names are never cut and nothing wraps at 120 columns."""
    t = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    t.add_column("claim: metric / check", no_wrap=True)
    for col in columns:
        t.add_column(col, justify="left" if col == columns[-1] else "right", no_wrap=True)
    heading = None
    for _, row in checks.sort_values(["claim", "metric", "check"], kind="stable").iterrows():
        if (row["claim"], row["metric"]) != heading:
            heading = row["claim"], row["metric"]
            t.add_row(f"[bold]{escape(row['claim'])}[/]: {escape(inequality(row))}")
        t.add_row(f"  {escape(label(row))}", *cells(row))
    return t


def table(checks: pd.DataFrame) -> Table:
    """The run's verdicts: seeds, mean with its interval, p and the verdict; everything else is in
    summary.csv."""
    return headed_table(checks, ("seeds", "mean [95% CI]", "p", "verdict"),
                        lambda row: (str(row["n"]), _mean_ci(row), _fmt(row["p"], 4), verdict_text(row)))


def markdown(checks: pd.DataFrame, run: dict[str, Any], figures: Sequence[str] = ()) -> str:
    """The table in Markdown, for a CI job summary, with the run's figures linked beside report.md."""
    lines = [f"## {_title(run)}", "", outcome_line(checks), "",
             f"{results.seed_plan(run)}; {seeds_line(checks)}", "",
             *([phases.summary_line(run["time_by_phase"]), ""] if run.get("time_by_phase") else []),
             "| claim | check | metric | seeds | mean [95% CI] | p | verdict |", "|---|---|---|--:|--:|--:|---|"]
    for _, row in checks.sort_values(["claim", "metric", "check"], kind="stable").iterrows():
        cells = (row["claim"], label(row), inequality(row), str(row["n"]), _mean_ci(row), _fmt(row["p"], 4),
                 verdict_text(row, markup=False) if row["passed"] else f"**{verdict_text(row, markup=False)}**")
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    lines += ["", LEGEND] + [f"\n![{name}]({name})" for name in figures]
    partial = results.partial_line(run, len(checks))
    if partial:
        lines += ["", f"**{partial}**"]
    return "\n".join(lines) + "\n"


def write(outdir: Path, verdicts: Sequence[dict[str, Any]], run: dict[str, Any]) -> dict[str, Path]:
    """results.csv (one row per check and seed), summary.csv (one row per check), the figures,
    report.md and, last, results.json (everything); each file replaces the old one whole (see
    :mod:`bt_core.atomic`). Returns the paths written."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = results.write_csvs(outdir, results.frame(verdicts, run))
    paths.update(render(outdir, verdicts, run))
    paths["json"] = atomic.write_text(outdir / results.RESULTS_JSON,
                                      json.dumps({"run": run, "verdicts": list(verdicts)}, indent=2, default=str))
    return paths


def render(outdir: Path, verdicts: Sequence[dict[str, Any]], run: dict[str, Any]) -> dict[str, Path]:
    """The figures and report.md, which links the figures drawn for these verdicts (and the trigger
    examples, drawn before the run), never one an earlier run left in ``outdir``."""
    paths = figures(outdir, verdicts, run)
    drawn = {p.name for p in paths.values()}
    present = [f"{name}.png" for name in FIGURES
               if f"{name}.png" in drawn or (name == "triggers" and (outdir / "triggers.png").exists())]
    paths["markdown"] = outdir / REPORT_MD
    atomic.write_text(paths["markdown"], markdown(results.checks(results.frame(verdicts, run)), run, present))
    return paths


def wide_console() -> Console:
    """A console that does not wrap tables to 80 columns when writing to a log or CI."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def print_table(verdicts: Sequence[dict[str, Any]], run: dict[str, Any], console: Console | None = None) -> None:
    console = console or wide_console()
    checks = results.checks(results.frame(verdicts, run))
    console.print(_title(run), style="bold")
    console.print(table(checks))
    console.print(LEGEND, markup=False)
    console.print(outcome_line(checks))
    console.print(seeds_line(checks))
    other = precision_line(verdicts, run)
    if other:
        console.print(other, style="yellow", markup=False)
    partial = results.partial_line(run, len(checks))
    if partial:
        console.print(partial, style="bold red", markup=False)


def outcome_line(checks: pd.DataFrame) -> str:
    """How many checks hold, do not hold, are undecided at the maximum and drifted from the baseline."""
    count = checks["status"].value_counts()
    drifted = int(((checks["status"] == "holds") & ~checks["passed"]).sum())
    return (f"{count.get('holds', 0)}/{len(checks)} checks hold, {count.get('does not hold', 0)} do not hold, "
            f"{count.get('undecided', 0)} undecided at the maximum, {drifted} drifted from the baseline")


def seeds_line(checks: pd.DataFrame) -> str:
    """How many checks stopped at each number of seeds."""
    used = checks["n"].value_counts().sort_index()
    return "seeds per check: " + ", ".join(f"{k} at {n}" for n, k in used.items())


# --- figures -----------------------------------------------------------------------------------

def _components(verdicts, claim: str) -> list[dict[str, Any]]:
    return [v for v in verdicts if v["claim"] == claim and v["context"].get("components")]


def _save(fig, path: Path) -> None:
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def _mean(xs) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def figures(outdir: Path, verdicts: Sequence[dict[str, Any]], run: dict[str, Any]) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    out: dict[str, Path] = {}
    stamp = f"scale {run.get('scale')} · arch {run.get('arch')} · {results.seed_plan(run)}"

    backdoor = _components(verdicts, "backdoor_fixed") + _components(verdicts, "backdoor_full")
    if backdoor:
        modes = sorted({v["context"]["mode"] for v in backdoor})
        fig, axes = plt.subplots(1, len(modes), figsize=(5 * len(modes), 3.6), squeeze=False)
        for ax, mode in zip(axes[0], modes):
            rows = [v for v in backdoor if v["context"]["mode"] == mode]
            targets = [v["context"]["target"] for v in rows]
            xs = range(len(rows))
            for off, (key, label, colour) in enumerate((("clean_source_asr", "clean source", "#7f8c8d"),
                                                        ("triggered_source_asr", "triggered source", "#c0392b"))):
                at = [x + (off - 0.5) * 0.4 for x in xs]
                ax.bar(at, [_mean(v["context"]["components"][key]) for v in rows], width=0.4, label=label,
                       color=colour, alpha=0.8)
                for x, v in zip(at, rows):          # one dot per seed
                    seeds = v["context"]["components"][key]
                    ax.scatter([x] * len(seeds), seeds, s=8, color="black", zorder=3)
            ax.set_xticks(list(xs), targets, rotation=20)
            ax.set_title(f"{mode} transfer")
            ax.set_ylabel("ASR")
            ax.legend(fontsize=8)
        fig.suptitle(f"Backdoor ASR per target (Fig. 1/2) — {stamp}", fontsize=9)
        fig.tight_layout()
        out["fig_backdoor"] = outdir / "fig_backdoor.png"
        _save(fig, out["fig_backdoor"])
        plt.close(fig)

    freq = _components(verdicts, "trigger_frequency")
    if freq:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        rows = sorted(freq, key=lambda v: v["context"]["fraction"])
        fr = [v["context"]["fraction"] for v in rows]
        for key, label in (("source_asr", "source model"), ("transfer_asr", "transferred (fixed)"),
                           ("clean_transfer_asr", "transferred from clean source")):
            if all(key in v["context"]["components"] for v in rows):
                line, = ax.plot(fr, [_mean(v["context"]["components"][key]) for v in rows], marker="o",
                                label=f"{label} (mean)")
                for f, v in zip(fr, rows):          # one dot per seed, in the line's colour
                    seeds = v["context"]["components"][key]
                    ax.scatter([f] * len(seeds), seeds, s=10, color=line.get_color(), alpha=0.45, zorder=3)
        ax.set_xscale("log")
        ax.set_xticks(fr, [f"{f:g}" for f in fr])           # the fractions themselves, as plain numbers
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("fraction of superclass images with the trigger (log scale)")
        ax.set_ylabel("ASR (dots: one per seed)")
        ax.legend(fontsize=8)
        ax.set_title(f"ASR vs trigger frequency (Fig. 3)\n{stamp}", fontsize=9, wrap=True)
        fig.tight_layout()
        out["fig_frequency"] = outdir / "fig_frequency.png"
        _save(fig, out["fig_frequency"])
        plt.close(fig)

    natural = [v for v in verdicts if v["claim"] == "natural_biases"
               and "histograms" in v["context"].get("components", {})]
    if natural:
        # one row per transfer mode, one column per intervention; legend keys name the probe generically
        modes = sorted({v["context"]["mode"] for v in natural})
        probes = sorted({v["context"]["probe"] for v in natural})
        fig, axes = plt.subplots(len(modes), len(probes), figsize=(4.2 * len(probes), 2.9 * len(modes) + 0.6),
                                 squeeze=False)
        for v in natural:
            ax = axes[modes.index(v["context"]["mode"])][probes.index(v["context"]["probe"])]
            per_seed = v["context"]["components"]["histograms"]
            h = {k: [_mean(col) for col in zip(*(seed[k] for seed in per_seed))] for k in per_seed[0]}
            n = len(next(iter(h.values())))
            for off, (key, colour) in enumerate(zip(h, ("#95a5a6", "#2980b9", "#e67e22", "#8e44ad"))):
                label = key.replace(f" + {v['context']['probe']}", " + intervention")
                ax.bar([i + off * 0.8 / len(h) for i in range(n)], h[key], width=0.8 / len(h), label=label,
                       color=colour)
            ax.set_title(f"{v['context']['probe']} · {v['context']['mode']} ({len(per_seed)} seeds)", fontsize=9)
            ax.set_xlabel("predicted class", fontsize=8)
            ax.set_ylabel("share of predictions", fontsize=8)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
        fig.subplots_adjust(bottom=0.12)
        fig.suptitle(f"Prediction histograms with the intervention (Fig. 7d) — {stamp}", fontsize=9)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        out["fig_histograms"] = outdir / "fig_histograms.png"
        _save(fig, out["fig_histograms"])
        plt.close(fig)
    return out
