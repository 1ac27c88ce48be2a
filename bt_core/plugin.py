"""What the pytest plugin does, kept free of pytest so the command line can share it."""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from . import baselines, phases, sequential
from .cache import Cache
from .config import get_scale
from .errors import ConfigError
from .experiment import Context, SourceSpec
from .session import (SeedPlan, Session, TornRecordWarning, case_name, check_writable, collect_phases,
                      collect_rows)


def _count(option: str, text: str | None, least: int) -> int | None:
    if text is None:
        return None
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or n < least:
        raise ConfigError(f"{option}={text!r}: expected a whole number >= {least}")
    return n


def parse_looks(text: str | None, option: str = "--bt-looks") -> tuple[int, ...]:
    if text is None:
        return sequential.DEFAULT_LOOKS
    try:
        looks = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"{option}={text!r} is not understood: expected increasing seed counts like "
                          "3,5,8,12") from None
    if looks[0] < 3 or any(b <= a for a, b in zip(looks, looks[1:])):
        raise ConfigError(f"{option}={text!r}: expected increasing seed counts, the first at least 3")
    return looks


def seed_plan(seeds: str | None, *, first: str | None = None, looks: str | None = None,
              max_seeds: str | None = None, cache_dir: Path | None = None) -> SeedPlan:
    """``--bt-seeds auto`` (the default): the sequential design over seeds ``first``, ``first`` + 1, ...
    with looks ``--bt-looks`` cut at ``--bt-max-seeds``; ``5``: seeds ``first`` .. ``first`` + 4 and
    ``0,1,2``: those seeds, each judged by a fixed-sample t-test."""
    start = _count("--bt-first-seed", first, 0) or 0
    text = "auto" if seeds is None else seeds.strip()
    if text == "auto":
        chosen = parse_looks(looks)
        most = _count("--bt-max-seeds", max_seeds, chosen[0])
        if most is not None:
            chosen = tuple(n for n in chosen if n < most) + (most,)
        return SeedPlan(sequential.design(sequential.Spec(looks=chosen), cache_dir), first=start)
    if looks is not None or max_seeds is not None:
        raise ConfigError(f"--bt-looks/--bt-max-seeds apply to --bt-seeds auto, not to --bt-seeds={text!r}")
    try:
        fixed = (tuple(range(start, start + int(text))) if "," not in text
                 else tuple(int(s) for s in text.split(",")))
    except ValueError:
        raise ConfigError(f"--bt-seeds={text!r} is not understood: expected auto, a count like 5 or a "
                          "comma list like 0,1,2") from None
    if "," in text and first is not None:
        raise ConfigError(f"--bt-first-seed does not apply to the seed list --bt-seeds={text!r}")
    if len(fixed) < 2 or len(set(fixed)) != len(fixed) or min(fixed) < 0:
        raise ConfigError(f"--bt-seeds={text!r} gives {fixed}: expected at least 2 distinct seeds >= 0, "
                          "since every claim is a test over seeds")
    return SeedPlan(sequential.fixed(len(fixed)), first=fixed[0], fixed=fixed)


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--bt-device={name!r} is unknown: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--bt-device={name!r} but no CUDA device is available: expected auto or cpu")
    return device


def _fraction(option: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"{option}={text!r}: expected a fraction of the image side in (0, 1]")
    return value


def given_source(weights: str | None, arch: str | None) -> SourceSpec | None:
    """``--bt-source-weights``: read once here, so a file that is missing, is not a checkpoint or does
    not fit ``--bt-arch`` stops the run before anything is trained."""
    from .models import load_pretrained, read_bytes

    if weights is None:
        return None
    if not arch:
        raise ConfigError(f"--bt-source-weights={weights!r} needs --bt-arch: expected the architecture the "
                          "weights are for (a torchvision name, 'timm:NAME' or 'package.module:function')")
    data = read_bytes(weights, "source weights")
    load_pretrained(weights, arch, data)
    return SourceSpec(arch=arch, weights=str(Path(weights).resolve()), weights_sha256=hashlib.sha256(data).hexdigest(),
                      weights_bytes=data)


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
        tuple(getoption("--bt-stencil") or ()), _fraction("--bt-stencil-size", getoption("--bt-stencil-size")),
        getoption("--bt-stencil-corner"))
    unknown = set(getoption("--bt-target") or ()) - set(scale.targets)
    if unknown:
        raise ConfigError(f"--bt-target {sorted(unknown)} unknown at scale {scale.name}: expected "
                          f"some of {', '.join(scale.targets)}")
    output = Path(getoption("--bt-output"))
    check_writable(output, "results directory (--bt-output)")
    data_root = getoption("--bt-data-root")
    ctx = Context(scale, cache, resolve_device(getoption("--bt-device")),
                  Path(data_root) if data_root else None, target_dir=Path(target) if target else None)
    for probe in ctx.probes():
        probe.make()                               # a missing stencil file, a bad size or corner
    return Session(ctx, plan, Path(getoption("--bt-baselines")), output,
                   update_baselines=getoption("--bt-update-baselines"),
                   force_baselines=getoption("--bt-force-baselines"), command=command, worker=worker,
                   run_id=run_id, given=given)


AUDIT_SKIP = ("measures a source the suite trains with a planted trigger or a known biased split; with "
              "--bt-source-weights or --bt-target-dir only the natural-bias checks (marker audit) apply")


def is_case(nodeid: str) -> bool:
    return nodeid.startswith("cases/")


def report_progress(session: Session) -> None:
    """This process writes progress events (checks, builds, training) for the run's display."""
    from .progress import EVENTS_DIR, RunLog

    session.ctx.progress = RunLog(session.work_dir / EVENTS_DIR, session.worker)


def watch(session: Session, nodeids: Sequence[str], mode: str):
    """Start the run's display for the selected cases (a :class:`bt_core.monitor.Monitor`)."""
    from .estimate import RunEstimate, key_of, priors
    from .monitor import Monitor
    from .progress import EVENTS_DIR

    plan = priors([key_of(n) for n in nodeids], baselines_dir=session.baselines_dir,
                  output_dir=session.output_dir, scale=session.scale.name, arch=session.arch,
                  baseline_arch=session.baseline_arch)
    if session.plan.fixed:          # every check takes the listed seeds, whatever it took before
        plan = {k: dataclasses.replace(p, seeds=None) for k, p in plan.items()}
    try:    # the terminal itself: pytest captures stderr while a test runs in this process
        stream = os.fdopen(os.dup(sys.stderr.fileno()), "w")
    except (AttributeError, OSError, ValueError):
        stream = sys.stderr
    estimate = RunEstimate(plan, session.plan.design.looks, session.plan.seeds, time.time())
    return Monitor(session.work_dir / EVENTS_DIR, estimate, stream, mode).start()


def known_names(session: Session) -> str:
    cases = sorted(case_name(p) for p in (Path(__file__).parent.parent / "cases").glob("test_*.py"))
    return (f"Known cases: {', '.join(cases)}; targets at scale {session.scale.name}: "
            f"{', '.join(session.scale.targets)}; modes: fixed-feature, full.")


def stop_reason(exitstatus: int, stopped: str | bool) -> str | None:
    """Why a run with pytest's ``exitstatus`` did not finish (``stopped``: pytest's own reason to stop
    early, e.g. -x), or None when every selected test ran."""
    if exitstatus == 2:
        return "interrupted (pytest exit status 2: Ctrl-C or a stop request)"
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
        timing = collect_phases(session.work_dir)
    lines = [f"warning: {w.message}" for w in caught if issubclass(w.category, TornRecordWarning)]
    if not rows:
        return lines
    run = {**session.run_info(), "time_by_phase": timing, "finished": stopped is None,
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
        lines.append(f"baselines of the checks that hold recorded under {where}")
    return lines
