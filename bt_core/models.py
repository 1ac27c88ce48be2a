"""Architectures by name and the transfer wrapper (checkpoints: :mod:`bt_core.checkpoints`).

Names: torchvision's (``resnet18``, ``vgg16_bn``, ...), ``timm:NAME`` when timm is installed, a
user factory ``package.module:function`` (called with ``num_classes=``), and the small-input
``mini_*`` families that stand in for them on 32 px images on a CPU.
"""
from __future__ import annotations

import copy
import hashlib
import importlib
from functools import lru_cache
from typing import Callable

import torch
from torch import nn

from .errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION = ("resnet18", "resnet50", "vgg16_bn", "densenet121", "mobilenet_v2", "shufflenet_v2_x1_0")


class Classifier(nn.Module):
    """uint8 NCHW in, logits out: normalisation, a feature backbone and a linear head.

    Normalising inside the model lets every loader hand over raw uint8 batches, and the split into
    backbone and head is what transfer replaces or freezes.
    """

    def __init__(self, backbone: nn.Module, num_features: int, num_classes: int,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 255.0)
        self.backbone = backbone
        self.num_features = num_features
        self.head = nn.Linear(num_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() - self.mean) / self.std
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @property
    def num_classes(self) -> int:
        return self.head.out_features


# --- mini families: the same building blocks as their full-size namesakes, sized for 32 px ------

def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(cin, cout, stride), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(cout))
        self.skip = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def mini_resnet(widths=(12, 24, 48)) -> tuple[nn.Module, int]:
    """ResNet family: residual basic blocks, stride 2 at the start of each stage."""
    layers, cin = [], 3
    for w in widths:
        layers.append(_BasicBlock(cin, w, 2))
        cin = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), cin


def mini_vgg(widths=(8, 16, 32)) -> tuple[nn.Module, int]:
    """VGG-BN family: plain 3x3 conv-BN-ReLU and max pooling, no skips. One conv in the first stage
    and two in the others, as in VGG-11: the pair at full resolution cost 37% of the training time
    (measured 139 vs 87 ms per batch of 256, 2 threads) for 3% of the weights."""
    layers, cin = [], 3
    for i, w in enumerate(widths):
        layers += [_conv_bn(cin, w)] + ([_conv_bn(w, w)] if i else []) + [nn.MaxPool2d(2)]
        cin = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), cin


def mini_mobilenet() -> tuple[nn.Module, int]:
    """MobileNetV2 family: torchvision's own inverted residuals, with a narrow, short setting."""
    from torchvision.models.mobilenetv2 import MobileNetV2

    # Width 0.5, expansion 2, a 16-channel stem: trains about as fast as mini_resnet on a CPU (docs/decisions.md).
    setting = [[1, 32, 1, 1], [2, 48, 1, 2], [2, 64, 1, 2], [2, 96, 1, 1]]
    net = MobileNetV2(width_mult=0.5, inverted_residual_setting=setting)
    # Drop the final 1x1 expansion to 1280 channels: far too wide for 32 px images on a CPU.
    return nn.Sequential(net.features[:-1], nn.AdaptiveAvgPool2d(1), nn.Flatten()), net.features[-2].out_channels


MINI: dict[str, Callable[[], tuple[nn.Module, int]]] = {
    "mini_resnet": mini_resnet, "mini_vgg": mini_vgg, "mini_mobilenet": mini_mobilenet,
}


def _strip_head(net: nn.Module, name: str) -> tuple[nn.Module, int]:
    """Replace the final linear layer of a torchvision/timm model by Identity."""
    if hasattr(net, "reset_classifier") and hasattr(net, "num_features"):   # timm
        net.reset_classifier(0)
        return net, int(net.num_features)
    for attr in ("fc", "classifier", "head"):
        layer = getattr(net, attr, None)
        if isinstance(layer, nn.Linear):
            setattr(net, attr, nn.Identity())
            return net, layer.in_features
        if isinstance(layer, nn.Sequential) and isinstance(layer[-1], nn.Linear):
            n = layer[-1].in_features
            layer[-1] = nn.Identity()
            return net, n
    raise ConfigError(f"architecture {name!r} has no final linear layer named fc, classifier or head")


def create_backbone(name: str) -> tuple[nn.Module, int]:
    """A randomly initialised feature extractor and its feature width."""
    if name in MINI:
        return MINI[name]()
    if name.startswith("timm:"):
        try:
            timm = importlib.import_module("timm")
        except ImportError:
            raise ConfigError(f"architecture {name!r} needs timm, which is not installed "
                              "(pip install timm)") from None
        return _strip_head(timm.create_model(name[5:], pretrained=False), name)
    if ":" in name:
        module, _, fn = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module), fn)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"architecture factory {name!r} cannot be imported: {exc}") from None
        if not callable(factory):
            raise ConfigError(f"architecture factory {name!r} is a {type(factory).__name__}, not a function: "
                              "expected 'package.module:function' returning a torch.nn.Module")
        net = factory(num_classes=1000)
        if not isinstance(net, nn.Module):
            raise ConfigError(f"architecture factory {name!r} returned a {type(net).__name__}: expected a "
                              "torch.nn.Module")
        return _strip_head(net, name)
    import torchvision.models as tvm

    if name in TORCHVISION or name in tvm.list_models(module=tvm):
        return _strip_head(tvm.get_model(name, weights=None), name)
    raise ConfigError(f"architecture {name!r} is unknown: expected one of {', '.join([*MINI, *TORCHVISION])}, "
                      "another torchvision model, 'timm:NAME' or 'package.module:function'")


@lru_cache(maxsize=None)
def fingerprint(arch: str) -> str:
    """A digest of the architecture's layers, for cache keys: a model cached under a name whose
    definition has since changed must be retrained, not loaded."""
    return hashlib.sha256(repr(create_backbone(arch)[0]).encode()).hexdigest()[:16]


def create_model(arch: str, num_classes: int) -> Classifier:
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ConfigError(f"num_classes={num_classes!r} is out of range: expected an integer >= 2")
    backbone, n = create_backbone(arch)
    return Classifier(backbone, n, num_classes)


def for_transfer(source: Classifier | tuple[nn.Module, int], num_classes: int, mode: str) -> Classifier:
    """The source model (or a pre-trained backbone and its width, see :func:`load_pretrained`) with
    a freshly initialised head for the target's classes.

    ``fixed`` and ``linear-probe`` freeze every backbone weight; batch-norm statistics still adapt
    to the target (footnote 5 of the paper) because the backbone stays in train mode while
    training. ``full`` trains everything.
    """
    if mode not in ("fixed", "full", "linear-probe"):
        raise ConfigError(f"transfer mode={mode!r} is unknown: expected fixed, full or linear-probe")
    backbone, width = source if isinstance(source, tuple) else (source.backbone, source.num_features)
    model = Classifier(copy.deepcopy(backbone), width, num_classes)
    for p in model.backbone.parameters():
        p.requires_grad_(mode == "full")
    return model
