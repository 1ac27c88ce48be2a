"""Batch sources the trainer iterates: ``(uint8 NCHW images, int64 labels)`` on the device.

``MemoryBatches`` holds a dataset decoded once through FFCV (``read_arrays``) as one tensor and
applies the trigger with the torch form of the shared kernel: the mini scale's path, where a new
FFCV Loader per model would spend more time compiling than training. ``StreamBatches`` wraps an FFCV
Loader with the trigger as a pipeline operation: the paper scale's path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..triggers import Trigger, checked_indices
from .beton import Arrays, read_meta, stream


class MemoryBatches:
    def __init__(self, data: Arrays, *, batch_size: int, train: bool, seed: int, device: torch.device,
                 trigger: Trigger | None = None, trigger_indices: np.ndarray | None = None,
                 flip: bool = False):
        self.images = torch.from_numpy(data.images).permute(0, 3, 1, 2).contiguous().to(device)
        self.labels = torch.from_numpy(data.labels).to(device)
        self.batch_size, self.train, self.flip, self.trigger = batch_size, train, flip, trigger
        self.generator = torch.Generator().manual_seed(seed)
        mask = np.zeros(len(data), bool)
        if trigger is not None:
            mask[slice(None) if trigger_indices is None else
                 checked_indices(trigger_indices, len(data), "trigger_indices")] = True
        self.trigger_mask = torch.from_numpy(mask).to(device)
        self.num_samples = len(data)

    def __len__(self) -> int:
        full, rest = divmod(self.num_samples, self.batch_size)
        return full + (1 if rest and not self.train else 0)

    def position(self) -> torch.Tensor:
        """Where the shuffling stands: a resumed training run sees the epochs it has not seen yet."""
        return self.generator.get_state()

    def seek(self, position: torch.Tensor) -> None:
        self.generator.set_state(position)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = (torch.randperm(self.num_samples, generator=self.generator) if self.train
                 else torch.arange(self.num_samples)).to(self.images.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.images[idx]
            if self.flip and self.train:
                flips = (torch.rand(len(idx), generator=self.generator) < 0.5).to(x.device)
                x = torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
            if self.trigger is not None:
                x = self.trigger.apply_torch(x, self.trigger_mask[idx])
            yield x, self.labels[idx]


STREAM_WORKERS = 8


def stream_workers() -> int:
    """FFCV's Loader runs its pipeline on numba's threads, and numba refuses more than its pool
    holds (the machine's cores unless NUMBA_NUM_THREADS says otherwise): 8 where there are 8."""
    import numba

    return min(STREAM_WORKERS, numba.config.NUMBA_NUM_THREADS)


class StreamBatches:
    def __init__(self, path: str | Path, *, batch_size: int, image_size: int | None, train: bool,
                 seed: int, device: torch.device, trigger: Trigger | None = None,
                 trigger_indices: np.ndarray | None = None, flip: bool = False, workers: int | None = None):
        self.num_samples = read_meta(path)["num_samples"]
        self.loader = stream(path, batch_size=batch_size, image_size=image_size, train=train,
                             seed=seed, device=device, trigger=trigger, trigger_indices=trigger_indices,
                             flip=flip, workers=workers or stream_workers())

    def __len__(self) -> int:
        return len(self.loader)

    def position(self) -> int:
        """FFCV draws each epoch's order from (seed, epoch): the next epoch is the whole position."""
        return self.loader.next_epoch

    def seek(self, position: int) -> None:
        self.loader.next_epoch = int(position)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y, *_ in self.loader:
            yield x, y


class FeatureBatches:
    """Cached backbone features for the linear-probe mode."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, *, batch_size: int, seed: int):
        self.features, self.labels, self.batch_size = features, labels, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.num_samples = len(labels)

    def __len__(self) -> int:
        return max(1, self.num_samples // self.batch_size)

    def position(self) -> torch.Tensor:
        return self.generator.get_state()

    def seek(self, position: torch.Tensor) -> None:
        self.generator.set_state(position)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(self.num_samples, generator=self.generator).to(self.features.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.features[idx], self.labels[idx]
