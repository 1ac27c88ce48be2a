"""Source models: what a source is trained on, its cache key, its build; or a user's given weights."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .builder import Builder, Built
from .data import registry
from .data.beton import read_columns
from .datasource import DataAccess
from .errors import ConfigError
from .families import SourceFamily
from .models import create_model, fingerprint
from .checkpoints import load_checkpoint, load_pretrained, save_checkpoint
from .plan import Request
from .compiling import key_part as compile_key, wanted as compiles
from .precision import key_part
from .train import train
from .triggers import select

TRIGGER_SEED = 10          # the paper's code draws triggered images with default_rng(seed=10)


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


class Sources(DataAccess, Builder):
    """Trains and loads source models. A part of :class:`bt_core.experiment.Context`, which holds these fields."""

    precision: str
    compile: str

    def source_model(self, spec: SourceSpec, seed: int):
        """Train (or load from the cache) a source model; a given one's weights are read as they are."""
        if spec.weights:
            model = load_pretrained(spec.weights, spec.arch or self.scale.arch, spec.weights_bytes)
            return model, self.source_key(spec, seed)
        entry, key, num_classes = self.source_entry(spec, seed)
        if self.tracer is not None:
            return None, key
        model, _ = load_checkpoint(entry / "model.pt", arch=key["arch"], num_classes=num_classes)
        return model, key

    def source_key(self, spec: SourceSpec, seed: int) -> dict[str, Any]:
        """What a transfer's key says of its source. A given source has no seed: the seeds vary the
        target training and the head only."""
        if not spec.weights:
            return self.source_entry(spec, seed)[1]
        arch = spec.arch or self.scale.arch
        return {"what": "given source", "arch": arch, "arch_def": fingerprint(arch), "sha256": spec.weights_sha256}

    def source_entry(self, spec: SourceSpec, seed: int) -> tuple[Path, dict[str, Any], int]:
        """The source's cache entry (built if missing), its key and its number of classes."""
        arch = spec.arch or self.scale.arch
        data = spec.data or self.scale.source_data
        cfg = self.scale.source_config(data, arch)
        path = self.dataset(data, "train", seed)
        meta = self.meta(path)
        num_classes = meta["num_classes"]
        family = SourceFamily(data, spec.trigger_fraction, arch)
        compiled = compiles(self.compile, arch)
        key = {"what": "source", "scale": self.scale.name, "arch": arch, "arch_def": fingerprint(arch),
               "data": data, "data_key": meta["info"],
               "trigger": self.scale.trigger if spec.trigger_fraction else None,
               "fraction": spec.trigger_fraction, "seed": seed, "train": cfg, "threads": self.scale.threads,
               **key_part(self.precision), **compile_key(compiled)}

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
                            cfg, device=self.device, seed=seed, on_progress=self.events.trainer(),
                            desc=f"{family} seed {seed}", resume=self.resume_file,
                            precision=self.precision, compile_root=self.cache.root if compiled else None)
            save_checkpoint(folder / "model.pt", model.cpu(), {"arch": arch, **key})
            (folder / "history.json").write_text(json.dumps(history.as_dict()))

        request = Request("source_model", (spec, seed))
        return self.cached("source", key, build, family, request=request), key, num_classes

    def built_source(self, spec: SourceSpec, seed: int) -> Built:
        """The source model itself, to be evaluated on the source test set (e.g. source ASR in Fig. 3)."""
        if spec.weights:
            raise ConfigError(f"evaluate_source needs a source the suite trains, got the given weights "
                              f"{str(spec.weights)!r}: there is no source test set for them")
        entry, key, _ = self.source_entry(spec, seed)
        test = self.dataset(spec.data or self.scale.source_data, "test", seed)
        return Built(entry, key["arch"], test, seed, Request("evaluate_source", (spec, seed)))
