"""The trainer's settings: SGD with momentum under the paper's triangular learning rate."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """SGD with momentum and the paper's triangular LR: linear rise to ``peak_epoch``, linear fall
    to zero at the end of training."""

    epochs: int
    batch_size: int
    lr: float
    peak_epoch: float
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    flip: bool = False

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs, isinstance(self.epochs, int) and self.epochs >= 1, "an integer >= 1"),
            ("batch_size", self.batch_size, isinstance(self.batch_size, int) and self.batch_size >= 1,
             "an integer >= 1"),
            ("lr", self.lr, self.lr > 0 and math.isfinite(self.lr), "a finite value > 0"),
            ("peak_epoch", self.peak_epoch, 0 <= self.peak_epoch <= self.epochs,
             f"a value in [0, epochs={self.epochs}]"),
            ("momentum", self.momentum, 0 <= self.momentum < 1, "a value in [0, 1)"),
            ("weight_decay", self.weight_decay, 0 <= self.weight_decay < 1, "a value in [0, 1)"),
            ("label_smoothing", self.label_smoothing, 0 <= self.label_smoothing < 1, "a value in [0, 1)"),
        ]
        for name, value, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{name}={value!r} is out of range: expected {expected}")

    def lr_at(self, progress_epochs: float) -> float:
        """The triangular schedule at a fractional epoch."""
        if progress_epochs <= self.peak_epoch and self.peak_epoch > 0:
            return self.lr * progress_epochs / self.peak_epoch
        tail = self.epochs - self.peak_epoch
        return self.lr * max(0.0, (self.epochs - progress_epochs) / tail) if tail > 0 else self.lr
