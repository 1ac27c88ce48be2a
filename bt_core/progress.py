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
from typing import Callable

from rich.console import Console

console = Console(stderr=True)

EVENTS_DIR = "progress"
MODES = ("auto", "live", "lines", "off")     # the display: auto is live on a terminal, else lines
TRAIN_EVERY_S = 1.0           # at most one mid-epoch training event a second per process


class RunLog:
    """The events of one process: a check's seed begins or is measured, a model is being built, a
    training step, a model is ready (built, or found in the cache)."""

    def __init__(self, folder: Path, worker: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{worker}.jsonl"

    def emit(self, event: str, **fields) -> None:
        # one whole line per write, appended by this process only: a reader sees complete lines
        with open(self.path, "a") as f:
            f.write(json.dumps({"ev": event, "t": time.time(), **fields}) + "\n")

    def check(self, check: str, seed: int) -> None:
        self.emit("check", check=check, seed=seed)

    def measured(self, check: str, seed: int) -> None:
        self.emit("measured", check=check, seed=seed)

    def build(self, family: str, seed: int) -> None:
        self.emit("build", family=family, seed=seed)

    def model(self, family: str, seed: int, *, hit: bool, wall_s: float = 0.0, ips: float = 0.0) -> None:
        self.emit("model", family=family, seed=seed, hit=hit, wall_s=wall_s, ips=ips)

    def trainer(self) -> Callable[[float, int, float], None]:
        """A callback for :func:`bt_core.train.train`: (epochs done, of epochs, images/s), written at
        each epoch's end and at most once a second in between."""
        last = [0.0]

        def report(done: float, epochs: int, ips: float) -> None:
            now = time.monotonic()
            if done == int(done) or now - last[0] >= TRAIN_EVERY_S:
                last[0] = now
                self.emit("train", epoch=done, epochs=epochs, ips=ips)

        return report
