"""The build step: one cache entry, built on the scale's threads and announced to the observers, or,
while planning, named to the tracer and not built."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .cache import Cache
from .config import Scale
from .errors import NotBuiltError
from .events import Events
from .families import Family
from .plan import Request, Tracer
from .train import pinned_threads


@dataclass(frozen=True)
class Built:
    """A model in the cache (or named by the plan) and what evaluating it needs."""

    entry: Path
    arch: str
    test: Path                       # the test set it is evaluated on
    seed: int
    request: Request                 # what builds it and the predictions asked of it, in any process
    info: dict[str, Any] = field(default_factory=dict)


class Builder:
    """Builds what the cache lacks. A part of :class:`bt_core.experiment.Context`, which holds these
    fields: ``read_only`` when judging after an executor built the plan, so that a missing model is
    an error naming why (``failed_builds``: entry -> its executor's Failure)."""

    scale: Scale
    cache: Cache
    events: Events
    tracer: Tracer | None
    read_only: bool
    failed_builds: dict[Path, Any]
    resume_file: Path | None         # the epoch checkpoint of the model in training

    def cached(self, kind: str, key: dict[str, Any], build: Callable[[Path], None],
               family: Family | None = None, *, request: Request | None = None,
               deps: tuple[Path, ...] = ()) -> Path:
        """A cache entry built on the scale's thread count, whatever the process set before
        (pytest-xdist workers, FFCV loaders and earlier tests all change it). While planning, a
        missing entry is named to the tracer with the request that builds it, and not built."""
        entry = self.cache.path(kind, key)
        if (self.tracer is not None or self.read_only) and not self.cache.ready(entry):
            if self.tracer is None:
                failure = next((self.failed_builds[e] for e in (entry, *deps) if e in self.failed_builds), None)
                why = (f"its build failed: {failure.error} (job log: {failure.log})" if failure
                       else "the run's plan did not build it")
                raise NotBuiltError(f"{family or kind} seed {key.get('seed')} ({kind} {entry.name}) is not in "
                                    f"the cache {self.cache.root}: {why}")
            self.tracer.model(kind, entry, family, key.get("seed"), request, deps)
            return entry
        if self.tracer is not None:
            return entry
        built: list[Path] = []

        def pinned(folder: Path) -> None:
            built.append(folder)
            if family:
                self.events.emit("build_begun", family, key["seed"])
            outer = self.resume_file            # a build inside a build (a source a transfer needs) keeps its own
            self.resume_file = entry.with_name(f".{entry.name}.resume.pt") if self.scale.epoch_checkpoints and family \
                else None
            try:
                with pinned_threads(self.scale.threads):
                    build(folder)
                if self.resume_file is not None:
                    self.resume_file.unlink(missing_ok=True)
            finally:
                self.resume_file = outer

        entry = self.cache.get(kind, key, pinned, label=str(family) if family else None)
        if family:
            self.events.emit("model_ready", family, key["seed"], entry, not built)
        return entry
