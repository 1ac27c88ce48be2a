"""Run-level progress events, written by whichever process trains.

Each process (the one pytest process, or each pytest-xdist worker) appends small JSON lines to its
own file in the run's output folder, and the controlling process renders them
(:mod:`bt_core.monitor`): files work the same in one process and across worker processes, and a run
without a display has no log and writes nothing.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console

from .cache import built
from .events import Observer
from .families import Family

console = Console(stderr=True)

EVENTS_DIR = "progress"
MODES = ("auto", "live", "lines", "off")     # the display: auto is live on a terminal, else lines
TRAIN_EVERY_S = 1.0           # at most one mid-epoch training event a second per process


class RunLog(Observer):
    """Writes one process's events for the display: a check's seed begins or is measured, a model is
    being built, a training step, a model is ready (built, or found in the cache)."""

    def __init__(self, folder: Path, worker: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{worker}.jsonl"
        self._last_train = 0.0

    def emit(self, event: str, **fields) -> None:
        # one whole line per write, appended by this process only: a reader sees complete lines
        with open(self.path, "a") as f:
            f.write(json.dumps({"ev": event, "t": time.time(), **fields}) + "\n")

    def seed_begun(self, check: str, seed: int) -> None:
        self.emit("check", check=check, seed=seed)

    def seed_measured(self, check: str, seed: int) -> None:
        self.emit("measured", check=check, seed=seed)

    def build_begun(self, family: Family, seed: int) -> None:
        self._last_train = 0.0
        self.emit("build", family=str(family), seed=seed)

    def training(self, done: float, epochs: int, ips: float) -> None:
        """Written at each epoch's end and at most once a second in between (the first step of a
        model's training always)."""
        now = time.monotonic()
        if done == int(done) or now - self._last_train >= TRAIN_EVERY_S:
            self._last_train = now
            self.emit("train", epoch=done, epochs=epochs, ips=ips)

    def model_ready(self, family: Family, seed: int, entry: Path, hit: bool) -> None:
        self._last_train = 0.0          # the model a nested build was for trains next
        wall = 0.0 if hit else built(entry)[0] or 0.0
        ips = 0.0 if hit else json.loads((entry / "history.json").read_text())["images_per_s"]
        self.emit("model", family=str(family), seed=seed, hit=hit, wall_s=wall, ips=ips)
