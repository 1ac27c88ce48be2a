"""CIFAR-10 and CIFAR-100 from the python pickle release, kept raw at 32 px (no JPEG loss)."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..beton import Arrays
from .common import Split, check_labels

LAYOUT_10 = "cifar-10-batches-py/{data_batch_1..5,test_batch} (the python pickle release)"
LAYOUT_100 = "cifar-100-python/{train,test} (the python pickle release)"


def _batch(path: Path, key: bytes, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except FileNotFoundError:
        raise DataError(f"CIFAR batch {str(path)!r} does not exist") from None
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DataError(f"CIFAR batch {str(path)!r} is truncated or not a pickle ({exc})") from None
    data = batch.get(b"data") if isinstance(batch, dict) else None
    if data is None or key not in batch or np.ndim(data) != 2 or np.shape(data)[1] != 3072:
        raise DataError(f"CIFAR batch {str(path)!r} does not hold b'data' (N x 3072) and {key!r}: "
                        "expected a batch of the python release")
    labels = np.asarray(batch[key], np.int64)
    check_labels(labels, num_classes, repr(str(path)))
    images = np.asarray(data, np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _split(paths: list[Path], key: bytes, num_classes: int, name: str) -> Split:
    parts = [_batch(p, key, num_classes) for p in paths]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return Split(Arrays(images, labels, {}, num_classes), num_classes, jpeg=False, max_side=None,
                 info={"adapter": name})


def cifar10(folder: Path) -> dict[str, Split]:
    train = [folder / f"data_batch_{i}" for i in range(1, 6)]
    return {"cifar10/train": _split(train, b"labels", 10, "cifar10"),
            "cifar10/test": _split([folder / "test_batch"], b"labels", 10, "cifar10")}


def cifar100(folder: Path) -> dict[str, Split]:
    return {"cifar100/train": _split([folder / "train"], b"fine_labels", 100, "cifar100"),
            "cifar100/test": _split([folder / "test"], b"fine_labels", 100, "cifar100")}
