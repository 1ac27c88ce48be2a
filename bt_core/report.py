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


def failed(verdicts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks that fail the run: the claim does not hold, is undecided at the design's maximum, or
    drifted from its baseline."""
    return [v for v in verdicts if not v["passed"]]


def _verdict_text(v: dict[str, Any]) -> str:
    colour = {"holds": "green", "does not hold": "red", "undecided": "yellow"}[v["status"]]
    text = f"[{colour}]{v['status']}[/]"
    if v["status"] == "undecided":
        need = v["context"].get("seeds_needed")
        text += f" (~{need} seeds)" if need else " (>100 seeds)"
    if v["status"] == "holds" and not v["passed"]:
        text += ", [red]drifted[/]"
    return text


def _p_text(s: dict[str, Any]) -> str:
    return f"{_fmt(s['p'], 4)} (<{_fmt(s['p_needed'], 4)})"


def table(verdicts: Sequence[dict[str, Any]], title: str) -> Table:
    t = Table(title=title, show_lines=False, header_style="bold",
              caption="p: one-sided p of the paper's inequality (in brackets: the p the design needs at that many "
                      "seeds); seeds: how many the check used before its verdict")
    for col, kw in (("claim", {}), ("case", {}), ("metric", {}), ("seeds", {"justify": "right"}),
                    ("mean [95% CI]", {"justify": "right"}), ("p (needed)", {"justify": "right"}),
                    ("baseline ± tol", {"justify": "right"}), ("verdict", {})):
        t.add_column(col, **kw)
    for v in sorted(verdicts, key=lambda v: (v["claim"], v["check"])):
        s, c = v["summary"], v["context"]
        base = v.get("baseline")
        base_txt = (f"{_fmt(base['mean'])} ± {_fmt(v['tolerance'])}" if base else "not recorded")
        params = v["check"].partition("[")[2].rstrip("]")
        expect = ">" if v["expect"] == "greater" else "<"
        t.add_row(v["claim"], params, f"{v['metric']} {expect} {c.get('threshold', 0)}", str(len(v["values"])),
                  f"{_fmt(s['mean'])} [{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]", _p_text(s),
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
            for seed, value in zip(v["seeds"], v["values"]):
                w.writerow([v["claim"], v["check"], c.get("source"), c.get("target"), c.get("mode"),
                            v["metric"], seed, value, run.get("scale"), run.get("arch")])
    with open(paths["summary"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["claim", "check", "metric", "expect", "threshold", "status", "n", "seeds", "mean", "ci_low",
                    "ci_high", "t", "t_bound", "p", "p_needed", "p_greater", "p_less", "seeds_needed",
                    "baseline_mean", "tolerance", "passed", "failures"])
        for v in verdicts:
            s, b, c = v["summary"], v.get("baseline") or {}, v["context"]
            w.writerow([v["claim"], v["check"], v["metric"], v["expect"], c.get("threshold", 0.0), v["status"],
                        s["n"], " ".join(map(str, v["seeds"])), s["mean"], s["ci_low"], s["ci_high"], s["t"],
                        s["bound"], s["p"], s["p_needed"], s["p_greater"], s["p_less"], c.get("seeds_needed"),
                        b.get("mean"), v.get("tolerance"), v["passed"], " | ".join(v["failures"])])
    paths.update(figures(outdir, verdicts, run))
    return paths


def load(outdir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A finished run's verdicts and run info; a file of another shape is a clear error."""
    from .errors import ConfigError

    path = Path(outdir) / RESULTS_JSON
    try:
        blob = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no {RESULTS_JSON} in {str(outdir)!r}: expected the output folder of a finished "
                          "run (benchmark/bt run writes bt-results/)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{str(path)!r} is not valid JSON ({exc}): expected a finished run's results") from None
    verdicts = blob.get("verdicts") if isinstance(blob, dict) else None
    if not isinstance(verdicts, list) or any("status" not in v or "seeds" not in v for v in verdicts):
        raise ConfigError(f"{str(path)!r} holds no verdicts of this suite's shape (each with a status and its "
                          "seeds; results written before sequential verdicts lack both): rerun benchmark/bt run")
    return verdicts, blob["run"]


def wide_console() -> Console:
    """A console that does not wrap tables to 80 columns when writing to a log or CI."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def print_table(verdicts: Sequence[dict[str, Any]], run: dict[str, Any], console: Console | None = None) -> None:
    console = console or wide_console()
    title = (f"Bias transfer — scale {run.get('scale')}, arch {run.get('arch')}, {seeds_text(run)}, "
             f"commit {str(run.get('commit'))[:12]}")
    console.print(table(verdicts, title))
    console.print(outcome_line(verdicts))


def seeds_text(run: dict[str, Any]) -> str:
    plan = run.get("seeds") or {}
    if plan.get("kind") == "fixed":
        return f"seeds {plan['seeds']} (fixed-sample t-test)"
    if plan.get("kind") == "sequential":
        return f"sequential seeds from {plan['first']}, looks {plan['looks']}"
    return f"seeds {plan}"


def outcome_line(verdicts: Sequence[dict[str, Any]]) -> str:
    """One line: how many checks hold, do not hold, are undecided, drifted, and the seeds used."""
    count = {s: sum(v["status"] == s for v in verdicts) for s in ("holds", "does not hold", "undecided")}
    drifted = sum(v["status"] == "holds" and not v["passed"] for v in verdicts)
    used: dict[int, int] = {}
    for v in verdicts:
        used[len(v["values"])] = used.get(len(v["values"]), 0) + 1
    seeds = ", ".join(f"{k} at {n}" for n, k in sorted(used.items()))
    return (f"{count['holds']}/{len(verdicts)} checks hold, {count['does not hold']} do not hold, "
            f"{count['undecided']} undecided at the maximum, {drifted} drifted from the baseline "
            f"(seeds per check: {seeds})")


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
    stamp = f"scale {run.get('scale')} · arch {run.get('arch')} · {seeds_text(run)}"

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
        fig.savefig(out["fig_histograms"], dpi=110)
        plt.close(fig)
    return out
