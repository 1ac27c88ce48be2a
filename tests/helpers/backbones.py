"""Backbones for tests that run the suite end to end, named to it as ``tests.helpers.backbones:NAME``."""
from __future__ import annotations

import torch
from torch import nn


def tiny(num_classes: int) -> nn.Module:
    """A backbone small enough for a cold run of one case in a test."""
    body = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return _Tiny(body, num_classes)


class _Tiny(nn.Module):
    def __init__(self, body: nn.Module, num_classes: int):
        super().__init__()
        self.body, self.fc = body, nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


def raises_in_training(num_classes: int) -> nn.Module:
    """Builds, and raises in its first training step, so a build handed to a job fails the way a real
    bug in a model would."""
    return _RaisesInTraining(num_classes)


class _RaisesInTraining(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            raise RuntimeError("planted failure: this backbone raises in its first training step")
        return self.fc(x.mean(dim=(2, 3)))
