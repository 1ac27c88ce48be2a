"""Data access: where a run's datasets are (found, or generated into the cache), what their sidecars
and columns say, and their images in batches on the run's device."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import Cache
from .config import Scale
from .data import registry
from .data.batches import MemoryBatches, StreamBatches
from .data.beton import Arrays, read_arrays, read_columns, read_meta
from .errors import MissingDataError
from .plan import Tracer, placeholder_columns, placeholder_meta
from .triggers import Trigger, make_trigger

EVAL_BATCH = 1000           # images per forward pass without gradients: predictions, extracted features


class DataAccess:
    """The data a run's models are trained and evaluated on. A part of
    :class:`bt_core.experiment.Context`, which holds these fields; while planning (``tracer``), a
    dataset that is not there may be named instead of read."""

    scale: Scale
    cache: Cache
    device: torch.device
    data_root: Path | None
    target_dir: Path | None
    tracer: Tracer | None

    def dataset(self, name: str, split: str, seed: int) -> Path:
        """Path of the .beton for ``name``/``split``; synthetic data is generated into the cache."""
        try:
            return registry.dataset_path(self, name, split, seed)
        except MissingDataError:
            if self.tracer is None or not self.tracer.allow_missing_data:
                raise
            return self.tracer.missing_dataset(name, split)

    def meta(self, path: Path) -> dict[str, Any]:
        return placeholder_meta(path) if self.tracer and self.tracer.is_placeholder(path) else read_meta(path)

    def columns(self, path: Path) -> dict[str, np.ndarray]:
        return placeholder_columns() if self.tracer and self.tracer.is_placeholder(path) else read_columns(path)

    def trigger(self) -> Trigger:
        return make_trigger(**self.scale.trigger)

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


@lru_cache(maxsize=64)
def _decoded(path: Path) -> Arrays:
    """Each dataset is decoded through FFCV once per process."""
    return read_arrays(path)
