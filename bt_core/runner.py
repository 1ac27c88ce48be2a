"""A run from its options: the session built and checked before anything trains, the executor's
driver, the plan's table and the end-of-run report. Free of pytest (the plugin in
``benchmark/pytest_plugin.py`` calls it) and of the repository's layout."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from . import baselines, compiling, phases, precision, timing
from .cache import Cache
from .config import get_scale
from .errors import ConfigError
from .experiment import Context
from .observers import observe
from .options import executor_options, given_source, resolve_device, seed_plan, side_fraction, whole_number
from .session import Session, TornRecordWarning, check_writable, collect_phases, collect_rows


def _option(getoption: Callable[[str], Any], name: str) -> Any:
    try:
        return getoption(name)
    except (ValueError, KeyError):          # a plugin that is not loaded (pytest-xdist)
        return None


def build_session(getoption: Callable[[str], Any], *, worker: str, command: Sequence[str],
                  run_id: str = "solo") -> Session:
    from .data import target_dir
    from .models import create_backbone

    scale = get_scale(getoption("--bt-scale"))
    arch = getoption("--bt-arch")
    if arch:
        create_backbone(arch)                      # fails early, with the list of known names
    cache = Cache(getoption("--bt-cache"))
    plan = seed_plan(getoption("--bt-seeds"), first=getoption("--bt-first-seed"), looks=getoption("--bt-looks"),
                     max_seeds=getoption("--bt-max-seeds"), cache_dir=cache.root)
    weights, target = getoption("--bt-source-weights"), getoption("--bt-target-dir")
    if getoption("--bt-force-baselines") and not getoption("--bt-update-baselines"):
        raise ConfigError("--bt-force-baselines applies to --bt-update-baselines: expected both or neither")
    if (weights or target) and getoption("--bt-update-baselines"):
        raise ConfigError("--bt-update-baselines records the suite's own reproduction: expected no "
                          "--bt-source-weights or --bt-target-dir with it")
    given = given_source(weights, arch)            # reads and hashes the whole file: after the cheap checks
    if target is not None:      # every image is decoded once, by the controlling process
        check = target_dir.validate if worker == "main" else target_dir.layout
        check(Path(target))
    scale = scale.with_overrides(arch=arch, targets=(target_dir.NAME,) if target else None).with_interventions(
        tuple(getoption("--bt-stencil") or ()), side_fraction("--bt-stencil-size", getoption("--bt-stencil-size")),
        getoption("--bt-stencil-corner"))
    unknown = set(getoption("--bt-target") or ()) - set(scale.targets)
    if unknown:
        raise ConfigError(f"--bt-target {sorted(unknown)} unknown at scale {scale.name}: expected "
                          f"some of {', '.join(scale.targets)}")
    output = Path(getoption("--bt-output"))
    check_writable(output, "results directory (--bt-output)")
    data_root = getoption("--bt-data-root")
    executor = executor_options(getoption, output)
    if executor.kind != "inline" and (_option(getoption, "numprocesses") or 0) not in (0, 1):
        raise ConfigError(f"--bt-executor={executor.kind} with pytest-xdist -n: expected one or the other "
                          "(the executor spreads builds over its own jobs)")
    device = resolve_device(getoption("--bt-device"), worker)
    # resolved for where models are built: an executor's GPU jobs, even when the driver has none
    built_on = "cuda" if executor.gpus else device.type
    ctx = Context(scale, cache, device, Path(data_root) if data_root else None,
                  target_dir=Path(target) if target else None,
                  precision=precision.resolve(getoption("--bt-precision"), built_on),
                  compile=compiling.parse(getoption("--bt-compile")))
    for probe in ctx.probes():
        probe.make()                               # a missing stencil file, a bad size or corner
    session = Session(ctx, plan, Path(getoption("--bt-baselines")), output,
                      update_baselines=getoption("--bt-update-baselines"),
                      force_baselines=getoption("--bt-force-baselines"), command=command, worker=worker,
                      run_id=run_id, given=given, executor=executor)
    observe(session)
    return session


AUDIT_SKIP = ("measures a source the suite trains with a planted trigger or a known biased split; with "
              "--bt-source-weights or --bt-target-dir only the natural-bias checks (marker audit) apply")


def drive_checks(session: Session, checks: list, say: Callable[[str], None]) -> None:
    """Build what ``checks`` need look by look through the session's executor; judging then reads the cache."""
    from .drive import drive
    from .executors import ContextSetup, SubmititBuilder

    ctx = session.ctx
    # the driver may run where there is no GPU (a login node): jobs given GPUs train on them
    device = "cuda" if session.executor.gpus else ctx.device.type
    setup = ContextSetup(ctx.scale, str(ctx.cache.root), device,
                         str(ctx.data_root) if ctx.data_root else None,
                         str(ctx.target_dir) if ctx.target_dir else None, ctx.precision, ctx.compile)
    session.drive_report = drive(ctx, session.plan, checks, SubmititBuilder(setup, session.executor, say), say)


def print_plan(session: Session, checks: list, devices: Sequence[int], most_seeds: int) -> None:
    """The models the selected checks need, look by look, with their device-hours and wall time."""
    from rich.console import Console
    from rich.table import Table

    from .schedule import look_needs, mini_cost, paper_hours, plan_rows

    ctx, scale = session.ctx, session.scale
    looks, missing = look_needs(ctx, session.plan, checks, most_seeds, allow_missing_data=True)
    paper = scale.name != "mini"
    cost = (lambda n: paper_hours(n, scale)) if paper else mini_cost(ctx.cache)
    rows = plan_rows(ctx, looks, devices, cost)
    unit = "GPU" if paper else "process"
    table = Table(title=f"plan: {len(checks)} checks at scale {scale.name} ({scale.arch}), if all are decided at "
                        f"the look of each row", title_justify="left")
    for col in ("seeds", "+sources", "+transfers", "+scratch", "cached", "device-h",
                *(f"wall {d} {unit}{'s' if d > 1 else ''}" for d in devices)):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["seeds"]), str(r["source"]), str(r["transfer"]), str(r["scratch"]), str(r["cached"]),
                      _hours(r["device_h"]), *(_hours(r[f"wall_{d}"]) for d in devices))
    console = Console(width=140)
    console.print(table)
    console.print("costs: " + ("estimated from App. A.3 (an ImageNet ResNet-18 in about 1 V100-hour), scaled by "
                               "the images each build trains on (Table 1), a third for fixed-feature and the "
                               "architecture's GFLOPs (bt_core/schedule.py)" if paper else
                               f"this cache's recorded build seconds per model family ({ctx.cache.root})"))
    console.print("wall time: the driver's waves (sources, then the transfers that read them) per look, "
                  "each spread longest-first over the devices")
    if missing:
        console.print(f"not in --bt-data-root, planned by name: {', '.join(sorted(missing))}")


def plan_options(getoption: Callable[[str], Any]) -> tuple[tuple[int, ...], int]:
    """``--bt-devices`` and ``--bt-plan-seeds``."""
    text = getoption("--bt-devices")
    try:
        devices = tuple(int(x) for x in text.split(","))
    except ValueError:
        devices = ()
    if not devices or min(devices) < 1:
        raise ConfigError(f"--bt-devices={text!r}: expected device counts like 1,8,64")
    return devices, whole_number("--bt-plan-seeds", getoption("--bt-plan-seeds"), 2)


def _hours(h: float) -> str:
    if h != h:
        return "?"
    return f"{h:.1f} h" if h >= 1 else f"{h * 60:.1f} min"


def failed_builds_lines(session: Session) -> list[str]:
    """One line per build the executor could not finish, with its error and job log."""
    report = session.drive_report
    if report is None or not report.failures:
        return []
    lines = [f"{len(report.failures)} builds failed (the run did not finish, exit 3):"]
    lines += [f"  {f.need.name} seed {f.need.seed}: {f.error}" + (f" (log: {f.log})" if f.log else "")
              for f in report.failures]
    return lines


def stop_reason(exitstatus: int, stopped: str | bool) -> str | None:
    """Why a run with pytest's ``exitstatus`` did not finish (``stopped``: pytest's own reason to stop
    early, e.g. -x), or None when every selected test ran."""
    if exitstatus == 2:
        return "interrupted (pytest exit status 2: Ctrl-C or a stop request)"
    if isinstance(stopped, str) and exitstatus == 3:
        return stopped
    if exitstatus == 3:
        return "an internal error stopped it (pytest exit status 3)"
    if stopped:
        return f"stopped early ({stopped if isinstance(stopped, str) else 'a stop request'})"
    return None


def finish_report(session: Session, stopped: str | None = None) -> list[str]:
    """Merge the workers' rows, write results and figures, print the table; returns summary lines.

    ``stopped`` says why the run did not finish (None: it did): its results then go to
    ``<output>/partial/``, marked ``"finished": false``, and a finished run's files stay as they were."""

    from . import report, results

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TornRecordWarning)
        rows = collect_rows(session.work_dir)
        by_phase = collect_phases(session.work_dir)
    lines = [f"warning: {w.message}" for w in caught if issubclass(w.category, TornRecordWarning)]
    if not rows:
        return lines + failed_builds_lines(session)
    run = {**session.run_info(), "time_by_phase": by_phase, "finished": stopped is None,
           **({"stopped": stopped} if stopped else {})}
    outdir = session.output_dir if stopped is None else session.output_dir / results.PARTIAL_DIR
    paths = report.write(outdir, rows, run)
    report.print_table(rows, run)
    lines += [phases.summary_line(run["time_by_phase"]),
              f"results: {paths['json']}  {paths['csv']}  {paths['summary']}  {paths['markdown']}"]
    if stopped:
        lines.append(f"the run did not finish ({stopped}): its partial results are in {outdir}; "
                     f"{session.output_dir / results.RESULTS_JSON} is left as it was")
    figs = [str(p) for k, p in paths.items() if k.startswith("fig")]
    if figs:
        lines.append("figures: " + "  ".join(figs))
    if session.update_baselines:
        where = baselines.path_for(session.baselines_dir, session.scale.name, "*", session.baseline_arch).parent
        lines.append(f"baselines of the checks that hold recorded under {where}; build seconds in "
                     f"{timing.path_for(session.baselines_dir, session.scale.name)}")
    return lines + failed_builds_lines(session)
