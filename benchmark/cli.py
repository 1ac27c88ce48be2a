"""``python -m benchmark``: the reproduction, its report, the seeds its checks need, backbone
comparison, performance measurement and conversion of the paper's datasets. Every sub-command runs
the same ``bt_core`` code the cases use."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

REPO = Path(__file__).resolve().parent.parent


def _pytest_args(args: argparse.Namespace) -> list[str]:
    out = ["--bt-scale", args.scale, "--bt-output", str(args.output)]
    for flag, value in (("--bt-seeds", args.seeds), ("--bt-first-seed", args.first_seed),
                        ("--bt-max-seeds", args.max_seeds), ("--bt-arch", args.arch), ("--bt-cache", args.cache),
                        ("--bt-data-root", args.data_root), ("--bt-device", args.device),
                        ("--bt-precision", args.precision), ("--bt-compile", args.compile),
                        ("--bt-executor", args.executor), ("--bt-jobs", args.jobs)):
        if value is not None:
            out += [flag, str(value)]
    if args.workers and args.workers > 1:
        out += ["-n", str(args.workers)]
    return out


# pytest options a sub-command sets itself from its own option: passed through as well, pytest would
# take the later one while the sub-command writes its examples and reads its results where it said
OWNED = {"--bt-scale": "--scale", "--bt-output": "--output", "--bt-seeds": "--seeds",
         "--bt-first-seed": "--first-seed", "--bt-max-seeds": "--max-seeds", "--bt-arch": "--arch",
         "--bt-cache": "--cache", "--bt-data-root": "--data-root", "--bt-device": "--device",
         "--bt-precision": "--precision", "--bt-compile": "--compile", "--bt-executor": "--executor", "--bt-jobs": "--jobs"}


def _owned(extra: list[str]) -> str | None:
    """The first pytest option in ``extra`` that the sub-command owns, with the one to use instead."""
    for arg in extra:
        name = arg.split("=", 1)[0]
        if name in OWNED:
            return f"{arg} is the sub-command's own {OWNED[name]}: expected {OWNED[name]} instead"
    return None


def _foreign(command: str, extra: list[str], parsers: dict[str, argparse.ArgumentParser]) -> str | None:
    """Why ``extra`` (passed on to pytest) holds an option that is another sub-command's, not
    ``command``'s: pytest would refuse it in its own words, naming none of ours."""
    if command == "compare":
        recording = [a for a in extra if a.split("=", 1)[0] in ("--update-baselines", "--bt-update-baselines",
                                                                 "--bt-force-baselines")]
        if recording:
            return (f"{recording[0]}: compare does not record baselines; expected `run --arch NAME "
                    "--update-baselines`, which records NAME's beside the default architecture's")
    own = set(parsers[command]._option_string_actions)
    for arg in extra:
        name = arg.split("=", 1)[0]
        others = [c for c, p in parsers.items() if c != command and name in p._option_string_actions]
        if name.startswith("--") and name not in own and others:
            return f"unrecognized arguments: {arg} (an option of {others[0]}, not of {command})"
    return None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", default="mini", help="mini, paper or paper-smoke")
    p.add_argument("--seeds", help="auto (default: seeds until each check is decided), a count or a comma list")
    p.add_argument("--first-seed", help="first seed (default 0)")
    p.add_argument("--max-seeds", help="most seeds a check may get under --seeds auto (default 30)")
    p.add_argument("--arch", help="architecture of every model (default: the scale's)")
    p.add_argument("--cache", help="artifact cache folder")
    p.add_argument("--data-root", help="folder of prepared .beton files (paper scale)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="arithmetic of every model (default auto: fp16 on CUDA, bf16 on a CPU with native bf16, else fp32)")
    p.add_argument("--compile", help="architectures whose models train through torch.compile: none (default), all, "
                   "or names comma-separated")
    p.add_argument("--output", type=Path, default=REPO / "bt-results", help="results folder")
    p.add_argument("-n", "--workers", type=int, default=1, help="pytest-xdist worker processes (1: in process)")
    p.add_argument("--executor", choices=("inline", "local", "slurm"),
                   help="where models are built: inline (default), local processes or Slurm job arrays (submitit); "
                        "Slurm's resources as pytest options, e.g. --bt-slurm-partition gpu --bt-gpus 1")
    p.add_argument("--jobs", help="jobs each wave of builds is spread over (default 2)")


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    """The reproduction: dataset overview, trigger examples, then every claim case via pytest."""
    import pytest

    from .examples import show_examples

    show_examples(args.scale, args.output)
    argv = ["-m", "paper", str(REPO / "cases"), "-q", *_pytest_args(args), *extra]
    argv += ["--bt-progress", args.progress]
    if args.update_baselines:
        argv.append("--bt-update-baselines")
    return int(pytest.main(argv))


def cmd_plan(args: argparse.Namespace, extra: list[str]) -> int:
    """The models the selected checks need, look by look, their device-hours and the wall time on N devices."""
    import pytest

    argv = ["-m", "paper", str(REPO / "cases"), "-qq", "--no-header", *_pytest_args(args), "--bt-plan",
            "--bt-devices", args.devices, "--bt-plan-seeds", str(args.plan_seeds), "--bt-progress", "off", *extra]
    return int(pytest.main(argv))


def _finished_run(output: Path) -> tuple[list, dict] | None:
    """The run's verdicts and info, or None after saying on stderr why they cannot be read."""
    from bt_core import results
    from bt_core.errors import ConfigError

    try:
        return results.read(output)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_report(args: argparse.Namespace, extra: list[str]) -> int:
    from bt_core import report, results

    finished = _finished_run(args.output)
    if finished is None:
        return 2
    verdicts, run = finished
    report.render(args.output, verdicts, run)
    report.print_table(verdicts, run)          # a partial run's table ends with a line that says so
    later = args.output / results.PARTIAL_DIR / results.RESULTS_JSON
    if later.is_file() and later.stat().st_mtime > (args.output / results.RESULTS_JSON).stat().st_mtime:
        print(f"note: {later.parent} holds a later run that did not finish", file=sys.stderr)
    if results.unfinished(run):
        return 1
    return 1 if len(report.failed(results.checks(results.frame(verdicts, run)))) else 0


def cmd_compare(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the claims with another backbone, set its numbers beside the recorded baselines and exit
    0 (every claim holds, none drifts), 1 (one does not hold, is undecided or drifts: named on
    stderr), 2 (usage error) or 3 (the run did not finish)."""
    from .compare import outcome, print_comparison

    if not args.arch:
        print("compare needs --arch NAME: the backbone to compare with the baselines", file=sys.stderr)
        return 2
    code, checks, run = _judged_run(["-m", "paper", str(REPO / "cases"), "-q", *_pytest_args(args), *extra],
                                    args.output)
    if checks is not None:
        print_comparison(checks, run, REPO / "baselines", args.scale)
    return _exit_with(outcome(checks, code), f"compare --arch {args.arch}")


def _judged_run(argv: list[str], output: Path) -> tuple[int, "pd.DataFrame | None", dict | None]:
    """pytest on ``argv``: its exit code, and the checks and run info of the results it wrote (None
    when it wrote none, so an earlier run's results.json is never taken for this one's). A run that
    stopped early (-x) wrote partial results only and counts as interrupted."""
    import pytest

    from bt_core import results

    written, partial = output / results.RESULTS_JSON, output / results.PARTIAL_DIR / results.RESULTS_JSON
    before = {p: p.stat().st_mtime_ns if p.exists() else None for p in (written, partial)}
    code = int(pytest.main(argv))
    if code in (0, 1) and partial.exists() and partial.stat().st_mtime_ns != before[partial]:
        return int(pytest.ExitCode.INTERRUPTED), None, None
    if code not in (0, 1) or not written.exists() or written.stat().st_mtime_ns == before[written]:
        return code, None, None
    verdicts, run = results.read(output)
    return code, results.checks(results.frame(verdicts, run)), run


def _exit_with(judged: tuple[int, list[str]], label: str) -> int:
    """Print why (each failing check, or what stopped the run) and the meaning of the exit status."""
    from .compare import MEANING

    status, reasons = judged
    for line in reasons:
        print(line, file=sys.stderr)
    print(f"{label}: {MEANING[status]} (exit {status})", file=sys.stderr)
    return status


def cmd_audit(args: argparse.Namespace, extra: list[str]) -> int:
    """Does a given pre-trained source's bias transfer to a given target? The natural-bias checks of
    Fig. 7/8 on them, with compare's exit statuses: 0 when every check holds, 1 when one does not hold
    or is undecided, 2 on a usage error, 3 when the run did not finish."""
    from .compare import outcome

    if not (args.source_weights or args.target_dir):
        print("audit needs --source-weights W (with --arch NAME) and/or --target-dir D", file=sys.stderr)
        return 2
    argv = ["-m", "audit", str(REPO / "cases"), "-q", *_pytest_args(args)]
    for flag, values in (("--bt-source-weights", [args.source_weights]), ("--bt-target-dir", [args.target_dir]),
                         ("--bt-stencil", args.stencil or []), ("--bt-stencil-size", [args.stencil_size]),
                         ("--bt-stencil-corner", [args.stencil_corner])):
        argv += [x for v in values if v is not None for x in (flag, str(v))]
    code, checks, _ = _judged_run([*argv, *extra], args.output)
    return _exit_with(outcome(checks, code), "audit")


def _probability(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        p = math.nan
    if not 0.0 < p < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a probability strictly between 0 and 1")
    return p


def cmd_power(args: argparse.Namespace, extra: list[str]) -> int:
    """Each check's chance to hold on a fresh draw of seeds, from the effect a finished run measured."""
    from bt_core.errors import ConfigError
    from bt_core.options import parse_looks

    from .power import print_power

    from bt_core import results

    finished = _finished_run(args.output)
    if finished is None:
        return 2
    why = results.unfinished(finished[1])
    if why:
        print(f"{args.output} holds a partial run ({why}): power needs the effects of a finished run",
              file=sys.stderr)
        return 2
    try:
        looks = parse_looks(args.looks, "--looks") if args.looks else None
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print_power(args.output, *finished, looks, args.power)
    return 0


def main(argv: list[str] | None = None) -> int:
    from bt_core.progress import MODES as PROGRESS_MODES

    parser = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="the reproduction: every claim over seeds, with its table")
    _common(p)
    p.add_argument("--update-baselines", action="store_true", help="record this run as the baselines")
    p.add_argument("--progress", default="auto", choices=PROGRESS_MODES,
                   help="the run's progress: live panel, a plain line per model, auto (live on a terminal, "
                        "else lines; the default) or off")
    p = sub.add_parser("plan", help="the models a run needs look by look, their device-hours and wall time on "
                                    "N devices (default: the paper scale)")
    _common(p)
    p.set_defaults(scale="paper")
    p.add_argument("--devices", default="1,8,64", help="device counts to give the wall time for (default 1,8,64)")
    p.add_argument("--plan-seeds", type=int, default=8, help="the last look to plan (default 8 seeds)")
    p = sub.add_parser("report", help="print the table and redraw the figures of a finished run")
    p.add_argument("output", type=Path, nargs="?", default=REPO / "bt-results")
    p = sub.add_parser("power", help="each check's chance to hold on a fresh draw of seeds, and the seeds it costs")
    p.add_argument("output", type=Path, nargs="?", default=REPO / "bt-results")
    p.add_argument("--looks", help="judge the run's effects under these looks instead of the run's design "
                                   "(comma list, e.g. 3,5,8,12)")
    p.add_argument("--power", type=_probability, default=0.9,
                   help="chance to hold that the fixed-sample seeds column aims at (default 0.9)")
    p = sub.add_parser("compare", help="run the claims with --arch and compare with the baselines")
    _common(p)
    p = sub.add_parser("audit", help="does a given pre-trained source's bias transfer to a given target? "
                                     "(the natural-bias checks, transferred vs scratch)")
    _common(p)
    p.add_argument("--source-weights", help="the pre-trained source's weights file (state dict or checkpoint); "
                                            "needs --arch")
    p.add_argument("--target-dir", help="your target: DIR/{train,test}/<class>/ images or DIR/{train,test}.beton")
    p.add_argument("--stencil", action="append",
                   help="tennis_ball, chain_link_fence, hat or an RGBA image file (repeatable; default the three)")
    p.add_argument("--stencil-size", help="stencil side as a fraction of the image side (default 0.4)")
    p.add_argument("--stencil-corner", help="top-left, top-right, bottom-left, bottom-right (default) or center")
    sub.add_parser("perf", help="measure loader, transfer and training speed", add_help=False)
    sub.add_parser("design", help="the seed design's boundaries and its error rates (--write stores it)",
                   add_help=False)
    sub.add_parser("executors", help="a mini slice inline, through local processes and through Slurm, side by side",
                   add_help=False)
    sub.add_parser("prepare", help="convert one of the paper's datasets from its native layout to .beton",
                   add_help=False)
    sub.add_parser("measured", help="the README's Measured rows for finished runs, from their results.json",
                   add_help=False)
    p = sub.add_parser("examples", help="trigger examples (PNG) and a dataset statistics table")
    p.add_argument("--scale", default="mini")
    p.add_argument("--output", type=Path, default=REPO / "bt-results")

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("perf", "prepare", "design", "executors", "measured"):          # they parse their own options
        from importlib import import_module

        return import_module(f".{argv[0]}", __package__).main(argv[1:])
    args, extra = parser.parse_known_args(argv)
    clash = _owned(extra) if args.command in ("run", "compare", "audit", "plan") else None
    if clash:
        parser.error(clash)
    foreign = _foreign(args.command, extra, sub.choices) if args.command in ("run", "compare", "audit") else None
    if foreign:
        sub.choices[args.command].error(foreign)
    if args.command == "examples":
        from .examples import show_examples

        show_examples(args.scale, args.output)
        return 0
    return {"run": cmd_run, "report": cmd_report, "compare": cmd_compare, "power": cmd_power,
            "audit": cmd_audit, "plan": cmd_plan}[args.command](args, extra)
