"""How long a model of each family took to build, and on which machine (its CPU model): a cold run's ETA prior.

The run that records the baselines (``--bt-update-baselines``) writes ``baselines/<scale>/timing.json``
beside them but apart: a baseline says what a claim measured, which any machine can check; a build's
seconds say how fast one machine was under its load that day. The file holds one machine's seconds per
family and seed (a recording on another machine starts it afresh, so its families compare with each
other), merged under a lock as workers and cases record, a model several checks share counted once.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from filelock import FileLock

from . import atomic
from .cache import CPU, HOST, built
from .events import Observer
from .families import Family

FILE = "timing.json"
NOTE = "written by `pytest -m paper --bt-update-baselines`; seconds per model build, for the ETA only"


@dataclass(frozen=True)
class Build:
    """A model a check used: the seconds its build took on ``machine`` (None where its cache entry
    does not say), and its cache entry's key."""

    family: str
    seed: int
    key: str
    wall_s: float | None
    machine: str | None


def path_for(root: Path, scale: str) -> Path:
    return Path(root) / scale / FILE


def _read(path: Path) -> dict[str, Any]:
    try:
        blob = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return blob if isinstance(blob, dict) and isinstance(blob.get("families"), dict) else {}


def here(builds: Iterable[Build], this: str, cache_builds: Callable[[], Iterable[dict[str, Any]]]) -> list[Build]:
    """The builds made on CPU ``this``; an entry written before entries named their CPU counts when the
    cache's build records (:meth:`bt_core.cache.Cache.builds`) say this host built it."""
    known = [b for b in builds if b.wall_s is not None]
    hosted = {r.get("key") for r in cache_builds() if r.get("host") == HOST} if any(
        b.machine is None for b in known) else set()
    return [b for b in known if b.machine == this or (b.machine is None and b.key in hosted)]


def record(root: Path, scale: str, builds: Iterable[Build], this: str) -> Path | None:
    """Add ``builds`` (made on machine ``this``) to the scale's timing file; safe when several
    pytest-xdist workers record at once. None when there was nothing to add."""
    builds = list(builds)
    if not builds:
        return None
    path = path_for(root, scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        blob = _read(path)
        families = blob["families"] if blob.get("machine") == this else {}
        for b in builds:
            families.setdefault(b.family, {})[str(b.seed)] = round(b.wall_s, 3)
        out = {"scale": scale, "machine": this, "note": NOTE,
               "families": {f: dict(sorted(s.items(), key=lambda kv: int(kv[0]))) for f, s in sorted(families.items())}}
        atomic.write_text(path, json.dumps(out, indent=2) + "\n")
    return path


def seconds(root: Path, scale: str) -> dict[str, float]:
    """Mean seconds per family in the scale's timing file; {} when there is none or it cannot be read
    (an estimate needs none)."""
    out = {}
    for family, by_seed in _read(path_for(root, scale)).get("families", {}).items():
        walls = [float(s) for s in by_seed.values()] if isinstance(by_seed, dict) else []
        if walls:
            out[family] = statistics.fmean(walls)
    return out


def cache_seconds(cache_builds: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Mean seconds per family of the models this host built into the cache (its ``builds.jsonl``)."""
    walls: dict[str, list[float]] = {}
    for r in cache_builds:
        if r.get("host") == HOST and r.get("family") and isinstance(r.get("wall_s"), (int, float)):
            walls.setdefault(r["family"], []).append(float(r["wall_s"]))
    return {f: statistics.fmean(w) for f, w in walls.items()}


class Recorder(Observer):
    """Keeps the seconds of each check's models built on this machine in the scale's timing file,
    whatever the verdict: they say how long building took, not what the claim measured."""

    def __init__(self, root: Path, scale: str, cache_builds: Callable[[], Iterable[dict[str, Any]]]):
        self.root, self.scale, self.cache_builds = root, scale, cache_builds
        self._builds: list[Build] | None = None

    def check_begun(self, case: str, check: str) -> None:
        self._builds = []

    def model_ready(self, family: Family, seed: int, entry: Path, hit: bool) -> None:
        if self._builds is not None:
            self._builds.append(Build(str(family), seed, entry.name, *built(entry)))

    def check_ended(self, case: str, check: str) -> None:
        record(self.root, self.scale, here(self._builds or [], CPU, self.cache_builds), CPU)
        self._builds = None
