"""Who watches a run's checks and builds (:mod:`bt_core.events`): the time by phase, the timing file,
the progress display's event files and the display itself, registered by the runner and the plugin
apart from the path that measures and judges."""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Sequence

from . import phases, timing
from .session import PHASES_DIR, Session


def observe(session: Session) -> None:
    """Register this process's observers of its checks and builds: the time by phase (kept beside its
    rows) and, on a run that records baselines, the timing file."""
    events = session.ctx.events
    events.add(phases.CheckPhases(session.work_dir / PHASES_DIR / f"{session.worker}.json"))
    if session.update_baselines:
        events.add(timing.Recorder(session.baselines_dir, session.scale.name, session.ctx.cache.builds))


def report_progress(session: Session) -> None:
    """This process writes progress events (checks, builds, training) for the run's display."""
    from .progress import EVENTS_DIR, RunLog

    session.ctx.events.add(RunLog(session.work_dir / EVENTS_DIR, session.worker))


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
    # this host's own builds in the cache say more of its speed than another machine's recording
    recorded = {**timing.seconds(session.baselines_dir, session.scale.name),
                **timing.cache_seconds(session.ctx.cache.builds())}
    estimate = RunEstimate(plan, session.plan.design.looks, session.plan.seeds, time.time(), recorded)
    return Monitor(session.work_dir / EVENTS_DIR, estimate, stream, mode).start()
