"""A backbone small enough for an end-to-end run in a test (``--bt-arch progress_arch:tiny``)."""
from torch import nn


def tiny(num_classes: int) -> nn.Module:
    body = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return _Tiny(body, num_classes)


class _Tiny(nn.Module):
    def __init__(self, body: nn.Module, num_classes: int):
        super().__init__()
        self.body, self.fc = body, nn.Linear(4, num_classes)

    def forward(self, x):
        return self.fc(self.body(x))
