"""A backbone that breaks a claim on purpose, to see what a failing ``compare`` looks like:

    python -m benchmark compare --arch benchmark.backbones:corner_blind -k "backdoor_fixed and shapes12"

exits 1. It is the default mini backbone behind a mask that zeroes the top-left quarter of every
input, where the planted trigger sits (a quarter of the side, as in the paper), so no source model
can learn the trigger and there is no bias left to transfer. Any ``package.module:function`` that
returns a network with a final linear layer named ``fc``, ``classifier`` or ``head`` is used the
same way (the suite replaces that layer).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from bt_core.models import mini_resnet


class _CornerBlind(nn.Module):
    def __init__(self, num_classes: int, corner: float = 0.25):
        super().__init__()
        self.corner = corner
        self.body, width = mini_resnet()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = x.clone()
        x[..., :math.ceil(h * self.corner), :math.ceil(w * self.corner)] = 0.0
        return self.fc(self.body(x))


def corner_blind(num_classes: int) -> nn.Module:
    """The mini ResNet blind to the top-left quarter of its input (ceil of a quarter of each side)."""
    return _CornerBlind(num_classes)
