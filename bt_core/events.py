"""What checks and builds tell whoever watches them, expecting nothing back.

A session's checks and a context's builds emit these events; the progress display's event files, the
time by phase and the timing file are observers the runner registers, so the path that measures and
judges is the same with or without them.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from .families import Family

O = TypeVar("O", bound="Observer")


class Observer:
    """The events, each ignored here: an observer overrides those it wants."""

    def check_begun(self, case: str, check: str) -> None:
        """A check starts measuring its seeds."""

    def seed_begun(self, check: str, seed: int) -> None:
        """One of its seeds is about to be measured (``check`` as ``case::name``)."""

    def seed_measured(self, check: str, seed: int) -> None:
        """That seed was measured."""

    def check_ended(self, case: str, check: str) -> None:
        """The check was judged and its row kept (not sent when a seed raised)."""

    def build_begun(self, family: Family, seed: int) -> None:
        """A model the cache lacks is about to be built."""

    def training(self, done: float, epochs: int, ips: float) -> None:
        """The model in training: epochs done (a fraction within one), of how many, images/s."""

    def model_ready(self, family: Family, seed: int, entry: Path, hit: bool) -> None:
        """A model is in the cache at ``entry``: just built, or found there (``hit``)."""


class Events:
    """One process's observers, each told every event in the order they were added."""

    def __init__(self, *observers: Observer):
        self.observers = list(observers)

    def add(self, observer: O) -> O:
        self.observers.append(observer)
        return observer

    @contextmanager
    def watching(self, observer: O) -> Iterator[O]:
        """``observer`` told the events of the block only."""
        self.add(observer)
        try:
            yield observer
        finally:
            self.observers.remove(observer)

    def emit(self, event: str, *args) -> None:
        for observer in list(self.observers):
            getattr(observer, event)(*args)

    def trainer(self) -> Callable[[float, int, float], None] | None:
        """The trainer's progress callback (:func:`bt_core.train.train`), None while nobody watches."""
        if not self.observers:
            return None
        return lambda done, epochs, ips: self.emit("training", done, epochs, ips)
