"""Checkpoints that carry their config, and pre-trained sources from elsewhere: a file is read once,
checked against the architecture it is for, and refused with one error naming what was expected."""
from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import TrainingError
from .models import Classifier, create_backbone, create_model
from .phases import timed


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
                            f"{CHECKPOINT_FORMAT}: expected a file written by bt_core.checkpoints.save_checkpoint")
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
