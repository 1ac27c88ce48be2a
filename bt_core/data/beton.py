"""Writing and reading FFCV .beton files, with a JSON sidecar that says what is inside.

A dataset is a .beton with fields ``image`` (RGB), ``label`` (int) and one int field per
attribute (``attr_<name>``), plus ``<file>.json`` holding the class count, attribute names, image
format, byte size and how the data was produced. The sidecar lets a reader reject a truncated
file with a clear message before FFCV reads garbage.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

import numpy as np

from .. import atomic
from ..errors import DataError
from ..phases import timed

FORMAT_VERSION = 1


class IndexedSamples(Protocol):
    """What :func:`write_beton` reads: ``samples[i] -> (image HWC uint8, label, *attrs)``."""

    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> tuple: ...


@dataclass
class Arrays:
    """A decoded dataset held in memory: uint8 NHWC images, int64 labels, int64 attributes."""

    images: np.ndarray
    labels: np.ndarray
    attrs: dict[str, np.ndarray] = field(default_factory=dict)
    num_classes: int = 0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple:
        return (self.images[i], int(self.labels[i]), *(int(v[i]) for v in self.attrs.values()))

    def subset(self, index: np.ndarray) -> "Arrays":
        return Arrays(self.images[index], self.labels[index],
                      {k: v[index] for k, v in self.attrs.items()}, self.num_classes)


def sidecar(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_beton(path: str | Path, samples: IndexedSamples, *, num_classes: int,
                attr_names: Sequence[str] = (), jpeg: bool = False, max_side: int | None = None,
                jpeg_quality: int = 90, workers: int = 1, info: dict[str, Any] | None = None,
                progress: bool = False) -> Path:
    """Write ``samples`` to ``path`` atomically and return the path.

    ``workers=1`` keeps the file byte-for-byte reproducible (FFCV's page order depends on worker
    scheduling); real datasets pass more workers for speed. ``progress`` shows FFCV's bar.
    """
    from ffcv import writer as ffcv_writer
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter

    path = Path(path)
    if len(samples) == 0:
        raise DataError(f"refusing to write {path}: the dataset has no samples")
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {"image": RGBImageField(write_mode="jpg" if jpeg else "raw", max_resolution=max_side,
                                     jpeg_quality=jpeg_quality),
              "label": IntField()}
    fields.update({f"attr_{name}": IntField() for name in attr_names})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    bar = ffcv_writer.tqdm
    ffcv_writer.tqdm = partial(bar, disable=not progress)     # FFCV's writer draws its own bar
    try:
        DatasetWriter(str(tmp), fields, num_workers=workers).from_indexed_dataset(samples)
        os.replace(tmp, path)
    finally:
        ffcv_writer.tqdm = bar
        tmp.unlink(missing_ok=True)
    first = samples[0][0]
    meta = {
        "format_version": FORMAT_VERSION,
        "num_samples": len(samples),
        "num_classes": int(num_classes),
        "attributes": list(attr_names),
        "image_format": "jpg" if jpeg else "raw",
        "image_size": None if jpeg else [int(first.shape[0]), int(first.shape[1])],
        "bytes": path.stat().st_size,
        "info": info or {},
    }
    atomic.write_text(sidecar(path), json.dumps(meta, indent=2, sort_keys=True))
    return path


def write_arrays(path: str | Path, data: Arrays, info: dict[str, Any] | None = None) -> Path:
    return write_beton(path, data, num_classes=data.num_classes, attr_names=list(data.attrs),
                       info=info)


def read_meta(path: str | Path) -> dict[str, Any]:
    """Check that ``path`` is a complete .beton written by this suite and return its sidecar."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"dataset file {str(path)!r} does not exist: expected a .beton written by "
                        "bt_core.data.beton.write_beton (the synthetic generators use it)")
    side = sidecar(path)
    try:
        meta = json.loads(side.read_text())
    except FileNotFoundError:
        raise DataError(f"{str(path)!r} has no sidecar {side.name!r}: expected the JSON file "
                        "written next to every .beton (write the dataset again)") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"sidecar {str(side)!r} is not valid JSON ({exc})") from None
    size = path.stat().st_size
    if size != meta.get("bytes"):
        raise DataError(f"dataset file {str(path)!r} is truncated or altered: it has {size} bytes, "
                        f"expected {meta.get('bytes')} (re-create it)")
    reader = _reader(path)
    if int(reader.num_samples) != meta["num_samples"]:
        raise DataError(f"dataset file {str(path)!r} holds {reader.num_samples} samples, "
                        f"expected {meta['num_samples']}")
    return meta


def _reader(path: Path):
    from ffcv.reader import Reader

    try:
        return Reader(str(path))
    except Exception as exc:
        raise DataError(f"dataset file {str(path)!r} is not a readable .beton: {exc}") from exc


def read_columns(path: str | Path) -> dict[str, np.ndarray]:
    """Labels and attributes without decoding a single image: FFCV keeps int fields in its
    metadata table, so choosing which samples get a trigger costs nothing even on ImageNet."""
    meta = read_meta(path)
    reader = _reader(Path(path))
    columns = {}
    for i, name in enumerate(reader.field_names):
        if name == "label" or name.startswith("attr_"):
            columns[name.removeprefix("attr_")] = np.asarray(reader.metadata[f"f{i}"], np.int64)
    assert set(columns) == {"label", *meta["attributes"]}, (columns.keys(), meta["attributes"])
    return columns


def _pipelines(meta: dict[str, Any], image_ops: list) -> dict[str, list]:
    from ffcv.fields.basics import IntDecoder

    pipes: dict[str, list] = {"image": image_ops, "label": [IntDecoder()]}
    pipes.update({f"attr_{a}": [IntDecoder()] for a in meta["attributes"]})
    return pipes


def _decoder(meta: dict[str, Any], image_size: int | None, train: bool):
    from ffcv.fields.rgb_image import (CenterCropRGBImageDecoder, RandomResizedCropRGBImageDecoder,
                                       SimpleRGBImageDecoder)

    if meta["image_format"] == "raw" and (image_size is None or [image_size] * 2 == meta["image_size"]):
        return SimpleRGBImageDecoder(), tuple(meta["image_size"])
    if image_size is None:
        raise DataError("JPEG datasets need an image_size to crop to")
    if train:
        return RandomResizedCropRGBImageDecoder((image_size, image_size)), (image_size, image_size)
    return CenterCropRGBImageDecoder((image_size, image_size), ratio=224 / 256), (image_size, image_size)


@contextmanager
def _jit(enabled: bool) -> Iterator[None]:
    """Whether the FFCV pipelines built in this block are compiled by numba.

    A raw-image .beton decodes by one memcpy per image: for a single pass over it, numba's compile
    of the generated pipeline (about a second per Loader) costs far more than the copying it would
    speed up (measured: 1.0 s vs 0.05 s for 2,000 images of 32 px), and the bytes are the same.
    """
    from ffcv.pipeline.compiler import Compiler

    before = Compiler.is_enabled
    Compiler.set_enabled(enabled)
    try:
        yield
    finally:
        Compiler.set_enabled(before)


@timed("decode")
def read_arrays(path: str | Path, *, image_size: int | None = None, workers: int | None = None,
                batch_size: int = 512, compiled: bool | None = None) -> Arrays:
    """Decode a whole .beton through FFCV's Loader into memory (small datasets, evaluation).

    ``workers`` defaults to torch's thread count because FFCV's Loader sets torch's thread count to
    its own worker count: with the default, decoding leaves the caller's setting as it found it.
    ``compiled=None`` compiles the pipeline for JPEG images only (see :func:`_jit`).
    """
    import torch
    from ffcv.loader import Loader, OrderOption

    meta = read_meta(path)
    decoder, _ = _decoder(meta, image_size, train=False)
    chunks: list[list[np.ndarray]] = [[] for _ in range(2 + len(meta["attributes"]))]
    with _jit(meta["image_format"] != "raw" if compiled is None else compiled):
        loader = Loader(str(path), batch_size=batch_size, num_workers=workers or torch.get_num_threads(),
                        order=OrderOption.SEQUENTIAL, drop_last=False,
                        pipelines=_pipelines(meta, [decoder]))
        for batch in loader:
            for store, part in zip(chunks, batch):
                store.append(np.array(part, copy=True))  # FFCV reuses its batch buffers
    images, labels, *attrs = (np.concatenate(c) for c in chunks)
    return Arrays(images, labels.reshape(-1).astype(np.int64),
                  {a: v.reshape(-1).astype(np.int64) for a, v in zip(meta["attributes"], attrs)},
                  meta["num_classes"])


def stream(path: str | Path, *, batch_size: int, image_size: int | None, train: bool, seed: int,
           device: "Any", trigger=None, trigger_indices: Iterable[int] | None = None,
           flip: bool = False, workers: int = 2, indices: Sequence[int] | None = None):
    """An FFCV Loader yielding ``(uint8 NCHW tensor, label tensor, *attr tensors)`` batches.

    The trigger runs inside the loader on decoded images (after the flip, so its position is the
    same as at evaluation), only on the samples in ``trigger_indices`` (every sample if None).
    """
    import torch
    from ffcv.loader import Loader, OrderOption
    from ffcv.transforms import RandomHorizontalFlip, Squeeze, ToDevice, ToTensor, ToTorchImage

    from ..triggers import checked_indices
    from .ffcv_ops import ApplyTrigger

    meta = read_meta(path)
    decoder, (h, w) = _decoder(meta, image_size, train)
    device = torch.device(device)
    image_ops: list = [decoder]
    if flip and train:
        image_ops.append(RandomHorizontalFlip())
    if trigger is not None:
        chosen = None if trigger_indices is None else checked_indices(
            list(trigger_indices), meta["num_samples"], "trigger_indices")
        image_ops.append(ApplyTrigger(trigger, chosen, h, w))
    image_ops += [ToTensor(), ToDevice(device, non_blocking=True), ToTorchImage()]
    pipes = _pipelines(meta, image_ops)
    for key in pipes:
        if key != "image":
            pipes[key] += [ToTensor(), Squeeze(), ToDevice(device, non_blocking=True)]
    return Loader(str(path), batch_size=batch_size, num_workers=workers,
                  order=OrderOption.RANDOM if train else OrderOption.SEQUENTIAL, seed=seed,
                  drop_last=train, indices=indices, pipelines=pipes)
