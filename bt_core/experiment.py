"""Source -> transfer -> evaluate, every step cached by what produced it.

The flows here are the only place models are trained. Cases and the command line ask for a
source model (clean or with a planted trigger or a biased split), a transfer of it to a target in a
mode, and predictions on the target's test set under a set of *probes* (clean, the trigger, a
stencil); metrics are then computed from those predictions by :mod:`bt_core.claims`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from .cache import Cache, file_sha256
from .config import Scale
from .data import registry
from .data.batches import FeatureBatches, MemoryBatches, StreamBatches
from .data.beton import Arrays, read_arrays, read_columns, read_meta
from .errors import ConfigError, MissingDataError, NotBuiltError
from .events import Events
from .families import Family, SourceFamily, TransferFamily
from .models import (create_model, fingerprint, for_transfer, load_checkpoint, load_pretrained,
                     save_checkpoint)
from .precision import key_part
from .plan import Request, Tracer, placeholder_columns, placeholder_meta
from .train import extract_features, pinned_threads, predict, refresh_batchnorm, train
from .triggers import Trigger, make_trigger, select

TRIGGER_SEED = 10          # the paper's code draws triggered images with default_rng(seed=10)
EVAL_BATCH = 1000


@dataclass(frozen=True)
class Probe:
    """A test-time overlay (trigger or stencil) applied to every test image; ``None`` trigger means clean."""

    name: str
    trigger: dict[str, Any] | None = None
    digest: str | None = None        # sha256 of a user's stencil file: its predictions follow its content

    def make(self) -> Trigger | None:
        return None if self.trigger is None else make_trigger(**self.trigger)


CLEAN = Probe("clean")
CONTROL_SEED = 0              # one fixed scramble: the control's predictions are cached like any probe's


def control(intervention: str) -> str:
    """The probe that overlays ``intervention`` scrambled (:func:`bt_core.triggers.scrambled`): the
    same covered pixels, colours and coverage without the object, so what it shifts is sensitivity
    to the stencil's appearance in that corner, not to the feature."""
    return f"{intervention} scrambled"


@dataclass(frozen=True)
class SourceSpec:
    """What a source model is trained on: a dataset, and optionally a planted trigger on a
    fraction of its superclass; or a pre-trained model's weights file (``--bt-source-weights``),
    known by its sha256."""

    data: str | None = None          # None: the scale's source dataset
    trigger_fraction: float = 0.0
    arch: str | None = None
    weights: str | None = None
    weights_sha256: str | None = None
    # the weights file's bytes, read once when the run starts: the file may change, these do not
    weights_bytes: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        if self.weights:
            return f"weights sha256:{self.weights_sha256[:12]}"
        return f"{self.data or 'source'} p={self.trigger_fraction}"


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


@dataclass
class Context:
    """One session's scale, cache, device and data location."""

    scale: Scale
    cache: Cache
    device: torch.device = torch.device("cpu")
    data_root: Path | None = None
    events: Events = field(default_factory=Events)    # who watches builds: display, timing (bt_core.events)
    target_dir: Path | None = None     # a user's own target (--bt-target-dir), dataset TARGET_DIR
    tracer: Tracer | None = None       # planning: models are named, not built (bt_core.plan)
    read_only: bool = False            # judging after an executor built the plan: a missing model is an error
    failed_builds: dict[Path, Any] = field(default_factory=dict)   # entry -> its executor's Failure
    precision: str = "fp32"            # resolved (bt_core.precision): every model is trained and evaluated in it
    _resume: Path | None = field(default=None, repr=False)    # the epoch checkpoint of the model in training

    # --- datasets ------------------------------------------------------------------------
    def dataset(self, name: str, split: str, seed: int) -> Path:
        """Path of the .beton for ``name``/``split``; synthetic data is generated into the cache."""
        try:
            return registry.dataset_path(self, name, split, seed)
        except MissingDataError:
            if self.tracer is None or not self.tracer.allow_missing_data:
                raise
            return self.tracer.missing_dataset(name, split)

    def _meta(self, path: Path) -> dict[str, Any]:
        return placeholder_meta(path) if self.tracer and self.tracer.is_placeholder(path) else read_meta(path)

    def _columns(self, path: Path) -> dict[str, np.ndarray]:
        return placeholder_columns() if self.tracer and self.tracer.is_placeholder(path) else read_columns(path)

    def trigger(self) -> Trigger:
        return make_trigger(**self.scale.trigger)

    def probes(self) -> tuple[Probe, ...]:
        """Every evaluation runs the same probes, so every case can reuse every cached model: the
        scale's, and each intervention's scrambled control (:func:`control`)."""
        given = [Probe(name, spec, _stencil_digest(spec["name"])) for name, spec in self.scale.probes.items()]
        controls = [Probe(control(p.name), {**p.trigger, "scramble": CONTROL_SEED}, p.digest)
                    for p in given if p.name in self.scale.interventions]
        return (CLEAN, *given, *controls)

    def batches(self, path: Path, *, train: bool, seed: int, batch_size: int,
                trigger: Trigger | None = None, trigger_indices: np.ndarray | None = None,
                flip: bool = False):
        if self.scale.loader == "memory":
            return MemoryBatches(_decoded(path), batch_size=batch_size, train=train, seed=seed,
                                 device=self.device, trigger=trigger, trigger_indices=trigger_indices,
                                 flip=flip)
        return StreamBatches(path, batch_size=batch_size, image_size=self.scale.image_size, train=train,
                             seed=seed, device=self.device, trigger=trigger,
                             trigger_indices=trigger_indices, flip=flip)

    # --- models --------------------------------------------------------------------------
    def _cached(self, kind: str, key: dict[str, Any], build: Callable[[Path], None],
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
            outer = self._resume                # a build inside a build (a source a transfer needs) keeps its own
            self._resume = entry.with_name(f".{entry.name}.resume.pt") if self.scale.epoch_checkpoints and family \
                else None
            try:
                with pinned_threads(self.scale.threads):
                    build(folder)
                if self._resume is not None:
                    self._resume.unlink(missing_ok=True)
            finally:
                self._resume = outer

        entry = self.cache.get(kind, key, pinned, label=str(family) if family else None)
        if family:
            self.events.emit("model_ready", family, key["seed"], entry, not built)
        return entry

    def _trainer(self):
        return self.events.trainer()

    def source_model(self, spec: SourceSpec, seed: int):
        """Train (or load from the cache) a source model; a given one's weights are read as they are."""
        if spec.weights:
            model = load_pretrained(spec.weights, spec.arch or self.scale.arch, spec.weights_bytes)
            return model, self._source_key(spec, seed)
        entry, key, num_classes = self._source_entry(spec, seed)
        if self.tracer is not None:
            return None, key
        model, _ = load_checkpoint(entry / "model.pt", arch=key["arch"], num_classes=num_classes)
        return model, key

    def _source_key(self, spec: SourceSpec, seed: int) -> dict[str, Any]:
        """What a transfer's key says of its source. A given source has no seed: the seeds vary the
        target training and the head only."""
        if not spec.weights:
            return self._source_entry(spec, seed)[1]
        arch = spec.arch or self.scale.arch
        return {"what": "given source", "arch": arch, "arch_def": fingerprint(arch), "sha256": spec.weights_sha256}

    def _source_entry(self, spec: SourceSpec, seed: int) -> tuple[Path, dict[str, Any], int]:
        arch = spec.arch or self.scale.arch
        data = spec.data or self.scale.source_data
        cfg = self.scale.source_config(data, arch)
        path = self.dataset(data, "train", seed)
        meta = self._meta(path)
        num_classes = meta["num_classes"]
        family = SourceFamily(data, spec.trigger_fraction, arch)
        key = {"what": "source", "scale": self.scale.name, "arch": arch, "arch_def": fingerprint(arch),
               "data": data, "data_key": meta["info"],
               "trigger": self.scale.trigger if spec.trigger_fraction else None,
               "fraction": spec.trigger_fraction, "seed": seed, "train": cfg, "threads": self.scale.threads,
               **key_part(self.precision)}

        def build(folder: Path) -> None:
            trigger, chosen = None, None
            if spec.trigger_fraction > 0:
                trigger = self.trigger()
                chosen = select(read_columns(path)["label"], spec.trigger_fraction,
                                registry.superclass(self, data), seed=TRIGGER_SEED + seed)
            torch.manual_seed(seed)
            model = create_model(arch, num_classes)
            history = train(model, self.batches(path, train=True, seed=seed, batch_size=cfg.batch_size,
                                                trigger=trigger, trigger_indices=chosen, flip=cfg.flip),
                            cfg, device=self.device, seed=seed, on_progress=self._trainer(),
                            desc=f"{family} seed {seed}", resume=self._resume,
                            precision=self.precision)
            save_checkpoint(folder / "model.pt", model.cpu(), {"arch": arch, **key})
            (folder / "history.json").write_text(json.dumps(history.as_dict()))

        request = Request("source_model", (spec, seed))
        return self._cached("source", key, build, family, request=request), key, num_classes

    def _evaluation(self, model_entry: Path, arch: str, test_path: Path, seed: int,
                    info: dict[str, Any], request: Request) -> Evaluation:
        """The model in ``model_entry`` on ``test_path``; each probe's predictions are their own
        cache entry, made when a metric first reads them."""
        probes = {p.name: p for p in self.probes()}
        meta = self._meta(test_path)
        loaded: list = []

        def compute(name: str) -> np.ndarray:
            probe = probes[name]

            def build(folder: Path) -> None:
                if not loaded:
                    loaded.append(load_checkpoint(model_entry / "model.pt", arch=arch,
                                                  num_classes=meta["num_classes"])[0])
                preds = predict(loaded[0], self.batches(test_path, train=False, seed=seed,
                                                        batch_size=EVAL_BATCH, trigger=probe.make()),
                                device=self.device, precision=self.precision)
                np.save(folder / "preds.npy", preds)

            spec = {"model": model_entry.name, "kind": model_entry.parent.name, "test": meta["info"],
                    "probe": [probe.name, probe.trigger, *([probe.digest] if probe.digest else [])]}
            entry = self.cache.path("predictions", spec)
            if self.tracer is not None and not self.cache.ready(entry):
                self.tracer.predictions(model_entry, name, request)
                return labels.copy()            # a stand-in: while planning, values are not read
            return np.load(self._cached("predictions", spec, build, deps=(model_entry,)) / "preds.npy")

        columns = self._columns(test_path)
        labels = columns.pop("label")
        return Evaluation(labels, Predictions(tuple(probes), compute), columns, meta["num_classes"],
                          {"cache_key": model_entry.name, **info})

    def transfer(self, source: SourceSpec | None, target: str, mode: str, seed: int, *,
                 target_trigger_fraction: float = 0.0, arch: str | None = None,
                 recipe: str | None = None) -> Evaluation:
        """Transfer ``source`` to ``target`` (or train from scratch when ``source`` is None) on the
        target's recipe or a claim's own (``recipe``, :data:`bt_core.config.RECIPES`); the returned
        evaluation predicts the target's test set under a probe when a metric asks."""
        mode = self.scale.fixed_impl if mode == "fixed-feature" else mode
        cfg = self.scale.train_config("scratch" if source is None else mode, target, recipe)
        own = cfg != self.scale.train_config("scratch" if source is None else mode, target)
        if source is None and mode != "scratch":
            raise ConfigError(f"mode={mode!r} needs a source model; use mode='scratch' without one")
        arch = (source.arch if source is not None else arch) or self.scale.arch
        train_path = self.dataset(target, "train", seed)
        test_path = self.dataset(target, "test", seed)
        meta = self._meta(train_path)
        source_key = None if source is None else self._source_key(source, seed)
        deps = () if source is None or source.weights else (self.cache.path("source", source_key),)
        key = {"what": "transfer", "scale": self.scale.name, "source": source_key, "arch": arch,
               "arch_def": fingerprint(arch),
               "target": target, "target_key": meta["info"], "mode": mode, "seed": seed, "train": cfg,
               "target_trigger_fraction": target_trigger_fraction,
               "trigger": self.scale.trigger if target_trigger_fraction else None,
               "threads": self.scale.threads, **key_part(self.precision)}

        def build(folder: Path) -> None:
            trigger, chosen = None, None
            if target_trigger_fraction > 0:       # the de-biased target of Fig. 4: uniform over classes
                trigger = self.trigger()
                chosen = select(read_columns(train_path)["label"], target_trigger_fraction, None,
                                seed=TRIGGER_SEED + seed)
            torch.manual_seed(seed)
            if source is None:
                model = create_model(arch, meta["num_classes"])
            else:
                model = for_transfer(self.source_model(source, seed)[0], meta["num_classes"], mode)
            desc = f"{mode} {target} seed {seed}"
            loader = lambda train, bs: self.batches(train_path, train=train, seed=seed, batch_size=bs,  # noqa: E731
                                                    trigger=trigger, trigger_indices=chosen,
                                                    flip=cfg.flip and train)
            if mode == "linear-probe":
                model.to(self.device)
                refresh_batchnorm(model, loader(True, cfg.batch_size), precision=self.precision)
                feats, labels = extract_features(model, loader(False, EVAL_BATCH), device=self.device,
                                                 precision=self.precision)
                history = train(model.head, FeatureBatches(feats, labels, batch_size=cfg.batch_size, seed=seed),
                                cfg, device=self.device, seed=seed, desc=desc, on_progress=self._trainer(),
                                resume=self._resume, precision=self.precision)
            else:
                history = train(model, loader(True, cfg.batch_size), cfg, device=self.device, seed=seed,
                                desc=desc, on_progress=self._trainer(), resume=self._resume,
                                precision=self.precision)
            save_checkpoint(folder / "model.pt", model.cpu(), {"arch": arch})
            (folder / "history.json").write_text(json.dumps(history.as_dict()))

        family = TransferFamily(mode, target, arch, "scratch" if source is None else source.label,
                                target_trigger_fraction, recipe if own else None)
        request = Request("transfer", (source, target, mode, seed),
                          (("target_trigger_fraction", target_trigger_fraction), ("arch", arch), ("recipe", recipe)))
        entry = self._cached("transfer", key, build, family, request=request, deps=deps)
        info = {}
        if self.tracer is None:
            history = json.loads((entry / "history.json").read_text())
            info = {"train_wall_s": history["wall_s"],
                    "final_train_accuracy": history["accuracy"][-1] if history["accuracy"] else None}
        return self._evaluation(entry, arch, test_path, seed, info, request)

    def evaluate_source(self, spec: SourceSpec, seed: int) -> Evaluation:
        """The source model itself on the source test set (e.g. source ASR in Fig. 3)."""
        if spec.weights:
            raise ConfigError(f"evaluate_source needs a source the suite trains, got the given weights "
                              f"{str(spec.weights)!r}: there is no source test set for them")
        entry, key, _ = self._source_entry(spec, seed)
        test_path = self.dataset(spec.data or self.scale.source_data, "test", seed)
        return self._evaluation(entry, key["arch"], test_path, seed, {}, Request("evaluate_source", (spec, seed)))


def _stencil_digest(name: str) -> str | None:
    """A user's stencil file is known by its content, so an edited file is evaluated afresh."""
    path = Path(name)
    return file_sha256(path) if path.suffix and path.is_file() else None


@lru_cache(maxsize=64)
def _decoded(path: Path) -> Arrays:
    """Each dataset is decoded through FFCV once per process."""
    return read_arrays(path)
