"""Architectures by name, the transfer wrapper, and checkpoints that carry their config.

Names: torchvision's (``resnet18``, ``vgg16_bn``, ...), ``timm:NAME`` when timm is installed, a
user factory ``package.module:function`` (called with ``num_classes=``), and the small-input
``mini_*`` families that stand in for them on 32 px images on a CPU.
"""
from __future__ import annotations

import copy
import hashlib
import importlib
import io
import json
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .errors import ConfigError, TrainingError
from .phases import timed

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


CHECKPOINT_FORMAT = 2      # 1 pickled the config (a TrainConfig object); 2 stores it as JSON text


@timed("checkpoint")
def save_checkpoint(path: str | Path, model: Classifier, config: dict[str, Any]) -> None:
    """Tensors, a JSON string and numbers only, so :func:`load_checkpoint` needs no unpickling of
    objects (``weights_only=True``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"format": CHECKPOINT_FORMAT, "state_dict": model.state_dict(),
                "config": json.dumps(config, sort_keys=True, default=str), "num_classes": model.num_classes}, tmp)
    os.replace(tmp, path)


def read_bytes(path: str | Path, what: str) -> bytes:
    """A weights file's bytes, read once: what is hashed is what is loaded."""
    try:
        return Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise TrainingError(f"{what} {str(path)!r} does not exist: expected a file written by torch.save") from None


def read_weights(path: str | Path, what: str = "checkpoint", allow: tuple[type, ...] = (),
                 data: bytes | None = None) -> Any:
    """``torch.load`` of a file that may come from anywhere (or of its bytes ``data``, read before):
    only tensors, containers, numbers and strings are rebuilt (``weights_only=True``), plus instances
    of the plain data classes in ``allow`` (their fields are set, none of their code runs), so nothing
    pickled into it can run."""
    path = Path(path)
    if data is None and not path.is_file():
        raise TrainingError(f"{what} {str(path)!r} does not exist: expected a file written by torch.save")
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(io.BytesIO(data) if data is not None else path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        code = next((ln.strip() for ln in lines if "Unsupported global" in ln), None)
        if code is not None:
            raise TrainingError(f"{what} {str(path)!r} is not a plain weights file ({code[:160]}): expected "
                                "tensors in dicts saved with torch.save; it was not loaded and nothing in it "
                                "was run") from None
        raise TrainingError(f"{what} {str(path)!r} is not a checkpoint ({lines[0][:160]}): expected a file "
                            "written by torch.save") from None


@timed("checkpoint")
def load_checkpoint(path: str | Path, *, arch: str, num_classes: int) -> tuple[Classifier, dict[str, Any]]:
    """Load one of the suite's checkpoints, refusing one made for another architecture or class
    count. Format 1, which pickled its TrainConfig, still loads (weights-only, that class allowed):
    the format is not in the cache key, so earlier caches hold such files under today's keys."""
    from .train_config import TrainConfig

    blob = read_weights(path, allow=(TrainConfig,))
    if not isinstance(blob, dict) or "state_dict" not in blob or "config" not in blob:
        raise TrainingError(f"checkpoint {str(path)!r} is not in the suite's checkpoint format "
                            f"{CHECKPOINT_FORMAT}: expected a file written by bt_core.models.save_checkpoint")
    # Format 1 (earlier caches) pickled the config with its TrainConfig: read it weights-only with
    # that one class allowed, and see it as format 2 would store it, so those models stay usable.
    config = json.loads(blob["config"] if blob.get("format") == CHECKPOINT_FORMAT
                        else json.dumps(blob["config"], sort_keys=True, default=str))
    if config.get("arch") != arch:
        raise TrainingError(f"checkpoint {str(path)!r} holds architecture {config.get('arch')!r}, "
                            f"expected {arch!r}")
    if blob.get("num_classes") != num_classes:
        raise TrainingError(f"checkpoint {str(path)!r} has {blob.get('num_classes')} classes, "
                            f"expected {num_classes}")
    model = create_model(arch, num_classes)
    model.load_state_dict(blob["state_dict"])
    return model, config


# --- a pre-trained source from elsewhere -------------------------------------------------------

WRAPPERS = ("module.", "backbone.")     # DataParallel's prefix, and this suite's Classifier's
CLASSIFIER_OWN = ("mean", "std", "head.weight", "head.bias")


def _unwrap(blob: Any, path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a bare state dict or of a training checkpoint ({"state_dict": ...},
    {"model": ...}, this suite's own)."""
    while isinstance(blob, dict) and any(isinstance(blob.get(k), dict) for k in ("state_dict", "model")):
        blob = next(blob[k] for k in ("state_dict", "model") if isinstance(blob.get(k), dict))
    if not isinstance(blob, dict) or not blob:
        raise TrainingError(f"source weights {str(path)!r} hold a {type(blob).__name__}, not a state dict: "
                            "expected a dict of tensors, or one under 'state_dict' or 'model'")
    odd = next((k for k, v in blob.items() if not isinstance(v, torch.Tensor)), None)
    if odd is not None:
        raise TrainingError(f"source weights {str(path)!r}: entry {odd!r} is a {type(blob[odd]).__name__}, not a "
                            "tensor: expected a state dict, or one under 'state_dict' or 'model'")
    return blob


def _is_dropped_head(backbone: nn.Module, key: str) -> bool:
    """Whether ``key`` belongs to the classifier layer that :func:`_strip_head` replaced by Identity."""
    try:
        return isinstance(backbone.get_submodule(key.rpartition(".")[0]), nn.Identity)
    except AttributeError:
        return False


def _examples(keys: list[str]) -> str:
    return ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")


def load_pretrained(path: str | Path, arch: str, data: bytes | None = None) -> tuple[nn.Module, int]:
    """The backbone of ``arch`` with the weights of a pre-trained model's file (or its bytes
    ``data``, read once and hashed, so a file replaced mid-run is never loaded), and its width.

    The file is read with ``weights_only=True`` and nothing is downloaded. Its own classifier head
    (torchvision's ``fc``, ``classifier``; this suite's ``head``) is dropped: transfer replaces it.
    Every other key must fit the architecture exactly; the error names the first few that do not.
    """
    path = Path(path)
    state = _unwrap(read_weights(path, "source weights", data=data), path)
    backbone, width = create_backbone(arch)
    expected = backbone.state_dict()
    prefix = max(("", *WRAPPERS), key=lambda p: sum(p + k in state for k in expected))
    ours = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    unexpected = [k for k in ours if k not in expected and not _is_dropped_head(backbone, k)]
    unexpected += [k for k in state if not k.startswith(prefix)
                   and not (prefix == "backbone." and k in CLASSIFIER_OWN)]
    missing = [k for k in expected if k not in ours]
    shapes = [f"{k} is {tuple(ours[k].shape)} in the file, {tuple(v.shape)} in {arch}"
              for k, v in expected.items() if k in ours and ours[k].shape != v.shape]
    if missing or unexpected or shapes:
        problems = [f"{len(keys)} {what} ({_examples(keys)})" for what, keys in
                    (("missing keys", missing), ("unexpected keys", unexpected), ("of another shape", shapes)) if keys]
        raise TrainingError(f"source weights {str(path)!r} do not fit architecture {arch!r}: {'; '.join(problems)}: "
                            f"expected a state dict of {arch} (its classifier head may be left in)")
    backbone.load_state_dict({k: ours[k] for k in expected})
    return backbone, width
