"""Where a run's time goes, by phase, measured in every process that does the work.

A cold run is dominated by one or two phases; knowing which (on this machine, for this selection of
checks) is what decides whether a faster engine, smaller data or more workers would help, so each
run keeps the split of its checks' time with its results instead of leaving it to a profiler run.
Phases nest (a transfer may train its source first); each second counts for the innermost phase
only, and what no phase claims (statistics, the cases' own code, waiting on another process's cache
entry) is "other".
"""
from __future__ import annotations

import json
import time
from collections import defaultdict
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from . import atomic
from .events import Observer

# train: every model's training (a streaming loader decodes inside it); evaluate: predictions under
# each probe; features: the linear-probe mode's batch-norm refresh and feature extraction; data:
# generating and writing a dataset, or finding it; decode: reading a .beton into memory;
# checkpoint: saving and loading models.
PHASES = ("train", "evaluate", "features", "data", "decode", "checkpoint")
OTHER = "other"
SPAN = "span_s"

F = TypeVar("F", bound=Callable[..., Any])


class Clock:
    """Exclusive seconds per phase in one process; a session reads its own share as the difference
    of two :meth:`snapshot` calls."""

    def __init__(self, now: Callable[[], float] = time.perf_counter):
        self._now = now
        self._start = self._mark = now()
        self._seconds: dict[str, float] = defaultdict(float)
        self._stack: list[str] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in PHASES:
            raise ValueError(f"phase {name!r} is unknown: expected one of {', '.join(PHASES)}")
        self._switch()
        self._stack.append(name)
        try:
            yield
        finally:
            self._switch()
            self._stack.pop()

    def _switch(self) -> None:
        now = self._now()
        if self._stack:
            self._seconds[self._stack[-1]] += now - self._mark
        self._mark = now

    def snapshot(self) -> dict[str, float]:
        """Seconds per phase so far (an open phase counts up to now) and the seconds since the clock
        started (``span_s``)."""
        self._switch()
        return {SPAN: self._mark - self._start, **{p: self._seconds.get(p, 0.0) for p in PHASES}}


CLOCK = Clock()


def timed(name: str) -> Callable[[F], F]:
    """Count every call of the decorated function as phase ``name`` of this process's clock."""
    def wrap(fn: F) -> F:
        @wraps(fn)
        def inner(*args, **kwargs):
            with CLOCK.phase(name):
                return fn(*args, **kwargs)
        return inner  # type: ignore[return-value]
    return wrap


def since(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """The seconds per phase between two snapshots of one clock."""
    return {k: after[k] - before.get(k, 0.0) for k in after}


def merge(parts: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The processes' shares summed: seconds per phase, ``other`` (each span less its phases) and
    the summed span. Processes that worked side by side add up to more than the run's wall time."""
    total = {SPAN: 0.0, **{p: 0.0 for p in PHASES}}
    for part in parts:
        for key in total:
            total[key] += float(part.get(key, 0.0))
    total[OTHER] = max(total[SPAN] - sum(total[p] for p in PHASES), 0.0)
    return total


class CheckPhases(Observer):
    """This process's seconds per phase inside its checks, kept in ``path`` after each check: other
    tests of the same pytest session (bt test, CI) are not the claims' time."""

    def __init__(self, path: Path):
        self.path = path
        self.total: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def check_begun(self, case: str, check: str) -> None:
        self._started = CLOCK.snapshot()

    def check_ended(self, case: str, check: str) -> None:
        self.total = merge([self.total, since(self._started, CLOCK.snapshot())])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(self.path, json.dumps(self.total))


def summary_line(total: Mapping[str, float]) -> str:
    """One line for the run's summary: each phase's seconds and share of the processes' time."""
    span = total.get(SPAN, 0.0)
    if span <= 0:
        return "time by phase: nothing measured"
    parts = sorted(((k, total.get(k, 0.0)) for k in (*PHASES, OTHER)), key=lambda kv: -kv[1])
    shown = [f"{k} {s:,.0f} s ({s / span:.0%})" for k, s in parts if s >= 0.5]
    return f"time by phase ({span:,.0f} s inside the checks, all processes): " + " · ".join(shown)
