"""The look-by-look driver of a run whose models an executor builds.

At each look of the seed design it plans the models every still-undecided check needs for its next
seeds, hands the missing ones to the executor at once (sources before the transfers that read them),
then judges those seeds from the cache alone, and plans the next look for what remains undecided.
The verdicts themselves are then taken by the ordinary checks, which find every model built.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from . import sequential
from .claims import Measurement, status
from .executors import BuildReport, Failure
from .plan import trace


@dataclass
class CheckSpec:
    """A check as its case states it: a name, a per-seed measurement and the direction it expects."""

    key: str
    measure: Callable[[int], float | Measurement]
    expect: str = "greater"
    threshold: float = 0.0


@dataclass
class DriveReport:
    looks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)     # check -> why the driver left it to its test


def _value(m: float | Measurement) -> float:
    return m.value if isinstance(m, Measurement) else float(m)


def drive(ctx: Any, seed_plan: Any, checks: list[CheckSpec], builder: Any,
          say: Callable[[str], None] = print) -> DriveReport:
    """Build, look by look, every model ``checks`` need; ``builder.build(needs)`` gives a BuildReport."""
    report = DriveReport()
    ctx.read_only = True                              # judging reads the cache, never trains
    taken: dict[str, list[float]] = {c.key: [] for c in checks}
    pending = list(checks)
    for look in seed_plan.design.looks:
        if not pending:
            break
        new = {c.key: seed_plan.seeds(look)[len(taken[c.key]):] for c in pending}
        needs: dict = {}
        for check in list(pending):
            try:
                tracer = trace(ctx, [(check.measure, s) for s in new[check.key]])
            except Exception as exc:                  # missing data or a bug: its own test reports it
                report.skipped[check.key] = f"{type(exc).__name__}: {exc}"
                pending.remove(check)
                continue
            for entry, need in tracer.needs.items():
                if entry in needs:
                    needs[entry].probes |= need.probes
                    if not need.cached:                # the model itself is missing: it reads its deps
                        needs[entry].cached, needs[entry].deps = False, need.deps
                else:
                    needs[entry] = need
        missing = [n for n in needs.values() if not n.cached]
        say(f"look {look} seeds: {len(pending)} checks undecided, {len(missing)} models to build, "
            f"{len(needs) - len(missing)} more to predict with")
        built = builder.build(list(needs.values())) if needs else BuildReport()
        report.failures += built.failures
        report.looks.append({"seeds": look, "checks": len(pending), "models": len(missing),
                             "jobs": built.jobs, "resubmitted": built.resubmitted,
                             "failed": len(built.failures)})
        ctx.failed_builds.update({f.need.entry: f for f in built.failures})
        still = []
        for check in pending:
            try:
                taken[check.key] += [_value(check.measure(s)) for s in new[check.key]]
            except Exception as exc:                  # a failed build (NotBuiltError) or a bug: its test says which
                report.skipped[check.key] = f"{type(exc).__name__}: {exc}"
                continue
            values = taken[check.key]
            if not all(math.isfinite(v) for v in values):
                continue                              # its test names the seed and the value
            if status(values, seed_plan.design, expect=check.expect,
                      threshold=check.threshold) == sequential.CONTINUE:
                still.append(check)
        pending = still
    return report
