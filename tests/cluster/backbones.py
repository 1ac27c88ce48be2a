"""A backbone for the executor tests: it builds, and its first training step raises, so a build
handed to a job fails the way a real bug in a model would."""
from __future__ import annotations

import torch
from torch import nn


class _RaisesInTraining(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            raise RuntimeError("planted failure: this backbone raises in its first training step")
        return self.fc(x.mean(dim=(2, 3)))


def raises_in_training(num_classes: int) -> nn.Module:
    return _RaisesInTraining(num_classes)
