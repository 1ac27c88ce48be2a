"""What a run leaves behind: a rich table, CSV/JSON results and figures in the paper's style."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

RESULTS_JSON = "results.json"


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or x != x else f"{x:.{digits}f}"


def _known_shortfall(v: dict[str, Any]) -> str:
    """The recorded reason a check falls short on this run (conftest's ``shortfall``), or ''."""
    return v["context"].get("known_shortfall", "")


def unexpected_failures(verdicts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed checks that are not a known shortfall of the run: what makes a run fail."""
    return [v for v in verdicts if not v["passed"] and not _known_shortfall(v)]


def _verdict_text(v: dict[str, Any]) -> str:
    if v["passed"]:
        return "[green]pass[/]"
    return "[yellow]FAIL (known)[/]" if _known_shortfall(v) else "[red]FAIL[/]"


def table(verdicts: Sequence[dict[str, Any]], title: str) -> Table:
    t = Table(title=title, show_lines=False, header_style="bold")
    for col, kw in (("claim", {}), ("case", {}), ("source", {}), ("target", {}), ("mode", {}), ("metric", {}),
                    ("mean [95% CI]", {"justify": "right"}), ("p", {"justify": "right"}),
                    ("baseline ± tol", {"justify": "right"}), ("verdict", {})):
        t.add_column(col, **kw)
    for v in sorted(verdicts, key=lambda v: (v["claim"], v["check"])):
        s, c = v["summary"], v["context"]
        base = v.get("baseline")
        base_txt = (f"{_fmt(base['mean'])} ± {_fmt(v['tolerance'])}" if base else "not recorded")
        params = v["check"].partition("[")[2].rstrip("]")
        t.add_row(v["claim"], params, str(c.get("source", "")), str(c.get("target", "")), str(c.get("mode", "")),
                  f"{v['metric']} ({v['expect']} {c.get('threshold', 0)})",
                  f"{_fmt(s['mean'])} [{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]",
                  _fmt(s.get("p_less") if v["expect"] == "below" else s["p_greater"], 4),
                  base_txt, _verdict_text(v))
    return t


def write(outdir: Path, verdicts: Sequence[dict[str, Any]], run: dict[str, Any]) -> dict[str, Path]:
    """results.json (everything), results.csv (one row per check and seed), summary.csv (one row
    per check), and the figures; returns the paths written."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {"json": outdir / RESULTS_JSON, "csv": outdir / "results.csv", "summary": outdir / "summary.csv"}
    paths["json"].write_text(json.dumps({"run": run, "verdicts": list(verdicts)}, indent=2, default=str))
    with open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["claim", "check", "source", "target", "mode", "metric", "seed", "value", "scale", "arch"])
        for v in verdicts:
            c = v["context"]
            for seed, value in zip(c.get("seeds", []), v["values"]):
                w.writerow([v["claim"], v["check"], c.get("source"), c.get("target"), c.get("mode"),
                            v["metric"], seed, value, run.get("scale"), run.get("arch")])
    with open(paths["summary"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["claim", "check", "metric", "expect", "n", "mean", "ci_low", "ci_high", "p_greater",
                    "p_less", "baseline_mean", "tolerance", "passed", "known_shortfall", "failures"])
        for v in verdicts:
            s, b = v["summary"], v.get("baseline") or {}
            w.writerow([v["claim"], v["check"], v["metric"], v["expect"], s["n"], s["mean"], s["ci_low"],
                        s["ci_high"], s["p_greater"], s.get("p_less"), b.get("mean"), v.get("tolerance"),
                        v["passed"], _known_shortfall(v), " | ".join(v["failures"])])
    paths.update(figures(outdir, verdicts, run))
    return paths


def load(outdir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    blob = json.loads((Path(outdir) / RESULTS_JSON).read_text())
    return blob["verdicts"], blob["run"]


def wide_console() -> Console:
    """A console that does not wrap tables to 80 columns when writing to a log or CI."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def print_table(verdicts: Sequence[dict[str, Any]], run: dict[str, Any], console: Console | None = None) -> None:
    console = console or wide_console()
    title = (f"Bias transfer — scale {run.get('scale')}, arch {run.get('arch')}, seeds {run.get('seeds')}, "
             f"commit {str(run.get('commit'))[:12]}")
    console.print(table(verdicts, title))
    passed = sum(v["passed"] for v in verdicts)
    known = len(verdicts) - passed - len(unexpected_failures(verdicts))
    console.print(f"{passed}/{len(verdicts)} checks passed" + (f", {known} known shortfall(s)" if known else ""))


# --- figures -----------------------------------------------------------------------------------

def _components(verdicts, claim: str) -> list[dict[str, Any]]:
    return [v for v in verdicts if v["claim"] == claim and v["context"].get("components")]


def _mean(xs) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def figures(outdir: Path, verdicts: Sequence[dict[str, Any]], run: dict[str, Any]) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, Path] = {}
    stamp = f"scale {run.get('scale')} · arch {run.get('arch')} · {len(run.get('seeds', []))} seeds"

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
                ax.bar([x + (off - 0.5) * 0.4 for x in xs], [_mean(v["context"]["components"][key]) for v in rows],
                       width=0.4, label=label, color=colour)
            ax.set_xticks(list(xs), targets, rotation=20)
            ax.set_title(f"{mode} transfer")
            ax.set_ylabel("ASR")
            ax.legend(fontsize=8)
        fig.suptitle(f"Backdoor ASR per target (Fig. 1/2) — {stamp}", fontsize=9)
        fig.tight_layout()
        out["fig_backdoor"] = outdir / "fig_backdoor.png"
        fig.savefig(out["fig_backdoor"], dpi=110)
        plt.close(fig)

    freq = _components(verdicts, "trigger_frequency")
    if freq:
        fig, ax = plt.subplots(figsize=(5, 3.6))
        rows = sorted(freq, key=lambda v: v["context"]["fraction"])
        fr = [v["context"]["fraction"] for v in rows]
        for key, label in (("source_asr", "source model"), ("transfer_asr", "transferred (fixed)"),
                           ("clean_transfer_asr", "transferred from clean source")):
            if all(key in v["context"]["components"] for v in rows):
                ax.plot(fr, [_mean(v["context"]["components"][key]) for v in rows], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_xlabel("fraction of superclass images with the trigger")
        ax.set_ylabel("ASR")
        ax.legend(fontsize=8)
        ax.set_title(f"ASR vs trigger frequency (Fig. 3) — {stamp}", fontsize=9)
        fig.tight_layout()
        out["fig_frequency"] = outdir / "fig_frequency.png"
        fig.savefig(out["fig_frequency"], dpi=110)
        plt.close(fig)

    natural = [v for v in verdicts if v["claim"] == "natural_biases" and v["context"].get("histograms")]
    if natural:
        fig, axes = plt.subplots(1, len(natural), figsize=(4 * len(natural), 3.4), squeeze=False)
        for ax, v in zip(axes[0], natural):
            h = v["context"]["histograms"]
            n = len(next(iter(h.values())))
            for off, (key, colour) in enumerate(zip(h, ("#7f8c8d", "#2980b9", "#c0392b", "#8e44ad"))):
                ax.bar([i + off * 0.8 / len(h) for i in range(n)], h[key], width=0.8 / len(h), label=key, color=colour)
            ax.set_title(f"{v['context']['probe']} · {v['context']['mode']}", fontsize=9)
            ax.set_xlabel("predicted class")
            ax.legend(fontsize=7)
        fig.suptitle(f"Prediction histograms with the intervention (Fig. 7d) — {stamp}", fontsize=9)
        fig.tight_layout()
        out["fig_histograms"] = outdir / "fig_histograms.png"
        fig.savefig(out["fig_histograms"], dpi=110)
        plt.close(fig)
    return out
