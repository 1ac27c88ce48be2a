"""CIFAR-10 and CIFAR-100 from the python pickle release, kept raw at 32 px (no JPEG loss).

The batches are pickles, and a copy from a colleague or a shared drive is untrusted: they are read by
an unpickler that rebuilds only what the release holds (dicts, lists, strings, numbers and numpy
arrays), so a pickled object that would run code is refused before anything of it is called.
"""
from __future__ import annotations

import builtins
import io
import pickle
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..beton import Arrays
from .common import Split, check_labels

LAYOUT_10 = "cifar-10-batches-py/{data_batch_1..5,test_batch} (the python pickle release)"
LAYOUT_100 = "cifar-100-python/{train,test} (the python pickle release)"


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """How python 3 pickles bytes at protocol 2 (``_codecs.encode(text, 'latin1')``), that codec only."""
    if encoding != "latin1":
        raise _Refused(f"it encodes text with {encoding!r}, which a CIFAR batch never does")
    return text.encode("latin1")


class _Refused(pickle.UnpicklingError):
    """The pickle names something a CIFAR batch never holds."""


# numpy's own array rebuilders, whatever module the writing numpy named them from
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_FROMBUFFER = np.empty(0).__reduce_ex__(5)[0]
ALLOWED = {
    **{(m, "_reconstruct"): _RECONSTRUCT for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "_frombuffer"): _FROMBUFFER for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1,
    **{("builtins", n): getattr(builtins, n) for n in ("dict", "list", "tuple", "set", "frozenset", "bytearray")},
    **{("__builtin__", n): getattr(builtins, n) for n in ("dict", "list", "tuple", "set", "frozenset")},
}


class _DataOnly(pickle.Unpickler):
    """Rebuilds containers and numpy arrays; any other global is refused, never imported."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"it names {module}.{name}, which a CIFAR batch never holds") from None


def load_batch(path: Path) -> object:
    """The pickle at ``path`` (python 2's str read as bytes, as the release was written), rebuilt
    from data only: DataError naming the file when it holds anything else."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"CIFAR batch {str(path)!r} does not exist") from None
    try:
        return _DataOnly(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as exc:
        raise DataError(f"CIFAR batch {str(path)!r} is refused: {exc}; expected only arrays, lists and dicts "
                        "(nothing in it was run)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise DataError(f"CIFAR batch {str(path)!r} is truncated or not a pickle ({exc})") from None


def _batch(path: Path, key: bytes, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = load_batch(path)
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
