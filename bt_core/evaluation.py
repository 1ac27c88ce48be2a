"""Evaluation: a built model's predicted classes on its test set under each probe, each probe's
predictions their own cache entry, made when a metric first reads them."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .builder import Builder, Built
from .datasource import EVAL_BATCH, DataAccess
from .checkpoints import load_checkpoint
from .probes import Probe, for_scale
from .train import predict


class Predictions(Mapping):
    """Predicted classes under each probe, computed the first time a probe is read.

    A case reads only the probes its claim needs (the backdoor cases the trigger, the attribute
    cases none), so evaluating every probe for every model would mostly be wasted forward passes.
    """

    def __init__(self, names: tuple[str, ...], compute: Callable[[str], np.ndarray]):
        self._names, self._compute, self._done = names, compute, {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(f"probe {name!r} is unknown: expected one of {', '.join(self._names)}")
        if name not in self._done:
            self._done[name] = self._compute(name)
        return self._done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class Evaluation:
    """Predictions of one model on one test set under each probe, with the test labels and
    attributes: everything a metric needs, nothing more."""

    labels: np.ndarray
    preds: Mapping[str, np.ndarray]
    attrs: dict[str, np.ndarray] = field(default_factory=dict)
    num_classes: int = 0
    info: dict[str, Any] = field(default_factory=dict)


class Evaluator(DataAccess, Builder):
    """Evaluates built models. A part of :class:`bt_core.experiment.Context`, which holds these fields."""

    precision: str

    def probes(self) -> tuple[Probe, ...]:
        return for_scale(self.scale)

    def evaluate(self, model: Built) -> Evaluation:
        """``model`` on its test set; while planning, each probe a metric reads is named to the
        tracer and read as a stand-in (the labels)."""
        by_name = {p.name: p for p in self.probes()}
        meta = self.meta(model.test)
        loaded: list = []

        def compute(name: str) -> np.ndarray:
            probe = by_name[name]

            def build(folder: Path) -> None:
                if not loaded:
                    loaded.append(load_checkpoint(model.entry / "model.pt", arch=model.arch,
                                                  num_classes=meta["num_classes"])[0])
                preds = predict(loaded[0], self.batches(model.test, train=False, seed=model.seed,
                                                        batch_size=EVAL_BATCH, trigger=probe.make()),
                                device=self.device, precision=self.precision)
                np.save(folder / "preds.npy", preds)

            spec = {"model": model.entry.name, "kind": model.entry.parent.name, "test": meta["info"],
                    "probe": [probe.name, probe.trigger, *([probe.digest] if probe.digest else [])]}
            entry = self.cache.path("predictions", spec)
            if self.tracer is not None and not self.cache.ready(entry):
                self.tracer.predictions(model.entry, name, model.request)
                return labels.copy()            # a stand-in: while planning, values are not read
            return np.load(self.cached("predictions", spec, build, deps=(model.entry,)) / "preds.npy")

        columns = self.columns(model.test)
        labels = columns.pop("label")
        return Evaluation(labels, Predictions(tuple(by_name), compute), columns, meta["num_classes"],
                          {"cache_key": model.entry.name, **model.info})
