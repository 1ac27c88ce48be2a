"""Transfers: a source fine-tuned on a target in a mode, or the same architecture trained on the
target from scratch; what is trained, its cache key, its build."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .builder import Built
from .data.batches import FeatureBatches
from .data.beton import read_columns
from .datasource import EVAL_BATCH
from .errors import ConfigError
from .families import TransferFamily
from .models import create_model, fingerprint, for_transfer
from .checkpoints import save_checkpoint
from .compiling import key_part as compile_key, wanted as compiles
from .plan import Request
from .precision import key_part
from .sources import TRIGGER_SEED, SourceSpec, Sources
from .train import extract_features, refresh_batchnorm, train
from .triggers import select


class Transfers(Sources):
    """Trains models on targets. A part of :class:`bt_core.experiment.Context`, which holds these fields."""

    def built_transfer(self, source: SourceSpec | None, target: str, mode: str, seed: int, *,
                       target_trigger_fraction: float = 0.0, arch: str | None = None,
                       recipe: str | None = None) -> Built:
        """``source`` transferred to ``target`` (or trained from scratch when ``source`` is None) on the
        target's recipe or a claim's own (``recipe``, :data:`bt_core.config.RECIPES`)."""
        mode = self.scale.fixed_impl if mode == "fixed-feature" else mode
        cfg = self.scale.train_config("scratch" if source is None else mode, target, recipe)
        own = cfg != self.scale.train_config("scratch" if source is None else mode, target)
        if source is None and mode != "scratch":
            raise ConfigError(f"mode={mode!r} needs a source model; use mode='scratch' without one")
        arch = (source.arch if source is not None else arch) or self.scale.arch
        train_path = self.dataset(target, "train", seed)
        test_path = self.dataset(target, "test", seed)
        meta = self.meta(train_path)
        source_key = None if source is None else self.source_key(source, seed)
        deps = () if source is None or source.weights else (self.cache.path("source", source_key),)
        compiled = mode != "linear-probe" and compiles(self.compile, arch)   # a probe trains a linear head only
        key = {"what": "transfer", "scale": self.scale.name, "source": source_key, "arch": arch,
               "arch_def": fingerprint(arch),
               "target": target, "target_key": meta["info"], "mode": mode, "seed": seed, "train": cfg,
               "target_trigger_fraction": target_trigger_fraction,
               "trigger": self.scale.trigger if target_trigger_fraction else None,
               "threads": self.scale.threads, **key_part(self.precision), **compile_key(compiled)}
        family = TransferFamily(mode, target, arch, "scratch" if source is None else source.label,
                                target_trigger_fraction, recipe if own else None)

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
            desc = f"{family} seed {seed}"
            loader = lambda train, bs: self.batches(train_path, train=train, seed=seed, batch_size=bs,  # noqa: E731
                                                    trigger=trigger, trigger_indices=chosen,
                                                    flip=cfg.flip and train)
            if mode == "linear-probe":
                model.to(self.device)
                refresh_batchnorm(model, loader(True, cfg.batch_size), precision=self.precision)
                feats, labels = extract_features(model, loader(False, EVAL_BATCH), device=self.device,
                                                 precision=self.precision)
                history = train(model.head, FeatureBatches(feats, labels, batch_size=cfg.batch_size, seed=seed),
                                cfg, device=self.device, seed=seed, desc=desc, on_progress=self.events.trainer(),
                                resume=self.resume_file, precision=self.precision)
            else:
                history = train(model, loader(True, cfg.batch_size), cfg, device=self.device, seed=seed,
                                desc=desc, on_progress=self.events.trainer(), resume=self.resume_file,
                                precision=self.precision, compile_root=self.cache.root if compiled else None)
            save_checkpoint(folder / "model.pt", model.cpu(), {"arch": arch})
            (folder / "history.json").write_text(json.dumps(history.as_dict()))

        request = Request("transfer", (source, target, mode, seed),
                          (("target_trigger_fraction", target_trigger_fraction), ("arch", arch), ("recipe", recipe)))
        entry = self.cached("transfer", key, build, family, request=request, deps=deps)
        info = {}
        if self.tracer is None:
            history = json.loads((entry / "history.json").read_text())
            info = {"train_wall_s": history["wall_s"],
                    "final_train_accuracy": history["accuracy"][-1] if history["accuracy"] else None}
        return Built(entry, arch, test_path, seed, request, info)
