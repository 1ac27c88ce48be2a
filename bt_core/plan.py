"""Planning: which models a set of checks needs at a look, named before any is built.

A check's measurement is an ordinary function of a seed that asks a :class:`~bt_core.experiment.Context`
for models and predictions. Run under a :class:`Tracer`, the context names every model it would build,
with the request that builds it and the models that request reads, and hands back stand-in
predictions instead of training. The same cache keys are computed either way, so a plan is exactly
what the judging will read. Needs are deduplicated across checks and split into waves by their
dependencies (sources before the transfers that read them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .families import Family

MISSING_DATA = Path("<missing data>")
KINDS = ("source", "transfer", "scratch")


@dataclass(frozen=True)
class Request:
    """A call on a Context that, replayed in any process sharing the cache, builds one model and the
    predictions asked of it: the unit an executor ships to a worker."""

    method: str                                   # source_model, transfer or evaluate_source
    args: tuple
    kwargs: tuple[tuple[str, Any], ...] = ()

    def replay(self, ctx: Any, probes: Iterable[str] = ()) -> None:
        out = getattr(ctx, self.method)(*self.args, **dict(self.kwargs))
        for probe in probes:
            out.preds[probe]


@dataclass
class Need:
    """One model the plan needs built (or only predicted: ``cached``), with its dependencies."""

    entry: Path                                   # the model's cache entry
    kind: str                                     # source, transfer or scratch
    family: Family | None                         # what it is, less the seed; None: known by its predictions only
    seed: int | None
    request: Request
    deps: tuple[Path, ...] = ()
    probes: set[str] = field(default_factory=set)
    cached: bool = False                          # the model is built; only predictions are missing

    @property
    def name(self) -> str:
        """The family as records write it, else the kind."""
        return str(self.family) if self.family else self.kind

    @property
    def key(self) -> str:
        return f"{self.entry.parent.name}/{self.entry.name}"


def model_kind(cache_kind: str, request: Request | None) -> str:
    """source, transfer or scratch (a transfer without a source)."""
    if cache_kind == "source":
        return "source"
    if request is not None and request.method == "transfer" and request.args[0] is None:
        return "scratch"
    return "transfer"


class Tracer:
    """Collects the needs of every measurement run while it is set on a context."""

    def __init__(self, *, allow_missing_data: bool = False):
        self.needs: dict[Path, Need] = {}
        self.allow_missing_data = allow_missing_data
        self.missing_data: set[str] = set()

    def model(self, cache_kind: str, entry: Path, family: Family | None, seed: int | None,
              request: Request | None, deps: tuple[Path, ...]) -> None:
        if request is None:
            raise ValueError(f"{cache_kind} {entry.name}: a model built while planning needs its request")
        need = self.needs.get(entry)
        if need is None:
            self.needs[entry] = Need(entry, model_kind(cache_kind, request), family, seed,
                                     request, deps)
        elif need.cached:                              # known for its predictions only, until now
            need.cached, need.deps = False, deps

    def predictions(self, model_entry: Path, probe: str, request: Request) -> None:
        need = self.needs.get(model_entry)
        if need is None:
            kind = model_kind(model_entry.parent.name, request)
            need = self.needs[model_entry] = Need(model_entry, kind, None, None, request, cached=True)
        if request.method != "source_model":
            need.request = request                     # the evaluation's request predicts as well as builds
        need.probes.add(probe)

    def missing_dataset(self, name: str, split: str) -> Path:
        self.missing_data.add(f"{name}/{split}")
        return MISSING_DATA / name / f"{split}.beton"

    @staticmethod
    def is_placeholder(path: Path) -> bool:
        return Path(path).parts[:1] == MISSING_DATA.parts


def placeholder_meta(path: Path) -> dict[str, Any]:
    """What planning assumes of a dataset that is not there yet: keys name it, not its content."""
    return {"num_classes": 2, "info": {"missing": str(path)}}


class _AnyAttribute(dict):
    def __missing__(self, name: str) -> np.ndarray:
        return np.array([0, 0, 1, 1])


def placeholder_columns() -> dict[str, np.ndarray]:
    """Labels and any attribute a metric reads, both values of each present, for a missing dataset."""
    columns = _AnyAttribute()
    columns["label"] = np.array([0, 1, 0, 1])
    return columns


def trace(ctx: Any, measures: Iterable[tuple[Callable[[int], Any], int]], *,
          allow_missing_data: bool = False) -> Tracer:
    """Run each ``measure(seed)`` with ``ctx`` planning, and return what they need."""
    tracer = Tracer(allow_missing_data=allow_missing_data)
    before, ctx.tracer = ctx.tracer, tracer
    try:
        for measure, seed in measures:
            measure(seed)
    finally:
        ctx.tracer = before
    return tracer


def waves(needs: Iterable[Need]) -> list[list[Need]]:
    """The needs in dependency order: each wave reads only models built in earlier waves or cached."""
    pending = {n.entry: n for n in needs}
    out: list[list[Need]] = []
    while pending:
        ready = [n for n in pending.values() if all(d not in pending or pending[d].cached for d in n.deps)]
        if not ready:
            raise ValueError(f"the plan's dependencies form a cycle among {sorted(str(e) for e in pending)}")
        out.append(sorted(ready, key=lambda n: (n.kind, n.name, n.seed or 0, n.key)))
        for n in ready:
            del pending[n.entry]
    return out
