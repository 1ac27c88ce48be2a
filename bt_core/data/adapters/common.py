"""What every adapter shares: the split it hands over, image files read on demand, class-folder
scans, label checks, and the guarded write that turns a bad image into one clear error."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ... import atomic
from ...cache import file_sha256
from ...errors import DataError
from ..beton import IndexedSamples, sidecar, write_beton
from ..splits import GroupTable, fill_disjoint, paper_table

JPEG_MAX_SIDE = 256          # the 224 px datasets are stored as JPEG with this longest side
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".tif", ".tiff", ".webp"}


@dataclass
class Split:
    """One .beton to write: its samples (``samples[i] -> (image, label, *attrs)``) and storage."""

    samples: IndexedSamples
    num_classes: int
    attr_names: tuple[str, ...] = ()
    jpeg: bool = True
    max_side: int | None = JPEG_MAX_SIDE
    info: dict[str, Any] = field(default_factory=dict)


def load_rgb(path: str) -> np.ndarray:
    """Decode an image file to uint8 HWC RGB, or raise DataError naming it (truncated, corrupt)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"image file {path!r} cannot be decoded ({exc}): expected a complete image file") from None


class ImageFiles:
    """Samples decoded from files on demand, inside FFCV's writer workers."""

    def __init__(self, files: Sequence[str | Path], labels: Sequence[int],
                 attrs: Mapping[str, Sequence[int]] | None = None):
        self.files = [str(f) for f in files]
        self.labels = np.asarray(labels, np.int64)
        self.attrs = {k: np.asarray(v, np.int64) for k, v in (attrs or {}).items()}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple:
        return (load_rgb(self.files[i]), int(self.labels[i]), *(int(v[i]) for v in self.attrs.values()))

    def subset(self, index: np.ndarray) -> "ImageFiles":
        return ImageFiles([self.files[i] for i in index], self.labels[index],
                          {k: v[index] for k, v in self.attrs.items()})


def check_labels(labels: np.ndarray, num_classes: int, where: str) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise DataError(f"label {int(labels[bad[0]])} in {where} is outside the class range [0, {num_classes}) "
                        f"({len(bad)} such labels; first at entry {int(bad[0])})")


def check_files(files: Sequence[str], where: str) -> None:
    """Fail before writing when images an annotation file names are absent."""
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise DataError(f"{len(missing)} image files listed in {where} are missing, e.g. {missing[0]!r}")


def pooled_splits(train: ImageFiles, test: ImageFiles, attribute: str, outputs: Mapping[str, str],
                  tables: Mapping[str, GroupTable] | None, seed: int, info: dict[str, Any],
                  where: str) -> dict[str, Split]:
    """The binary-label datasets of an attribute experiment: each of ``outputs`` (dataset -> paper
    table) filled disjointly from ``train``, all sharing ``test``; ``where`` names the annotations."""
    chosen = fill_disjoint([paper_table(t, tables) for t in outputs.values()],
                           {"label": train.labels, attribute: train.attrs[attribute]}, seed)
    check_files(test.files, f"{where} (test split)")
    test_split = Split(test, 2, (attribute,), info={**info, "split": "test"})
    out = {}
    for (name, table), index in zip(outputs.items(), chosen):
        subset = train.subset(index)
        check_files(subset.files, f"{where} (split {name})")
        out[f"{name}/train"] = Split(subset, 2, (attribute,), info={**info, "table": table})
        out[f"{name}/test"] = test_split
    return out


def read_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a text annotation file."""
    if not path.is_file():
        raise DataError(f"annotation file {str(path)!r} does not exist")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def scan_classes(root: Path, split: str, layout: str,
                 classes: Sequence[str] | None = None) -> tuple[list[str], np.ndarray, list[str]]:
    """Image files of ``root/split/<class>/`` with labels in sorted class order, which ``classes``
    (the training split's) fixes for a test split: a class folder it lacks has no valid label."""
    folder = root / split
    if not folder.is_dir():
        raise DataError(f"folder {str(folder)!r} does not exist: expected the layout {layout}")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not found:
        raise DataError(f"folder {str(folder)!r} has no class folders: expected the layout {layout}")
    classes = list(found if classes is None else classes)
    index = {c: i for i, c in enumerate(classes)}
    unknown = [c for c in found if c not in index]
    if unknown:
        raise DataError(f"class folder {unknown[0]!r} in {str(folder)!r} has no label: it is outside the "
                        f"{len(classes)} classes of the training split ({len(unknown)} such folders)")
    files, labels = [], []
    for name in found:
        images = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        files += [str(p) for p in images]
        labels += [index[name]] * len(images)
    if not files:
        raise DataError(f"folder {str(folder)!r} holds no image files: expected the layout {layout}")
    return files, np.asarray(labels, np.int64), classes


class _Guarded:
    """What FFCV's writer workers index. An exception in a writer worker leaves FFCV's parent
    waiting forever, so a failing sample is recorded in ``errors`` and replaced by a blank one; once
    one failed the rest are skipped, and :func:`write_split` raises the first error afterwards."""

    def __init__(self, samples: IndexedSamples, n_attrs: int, errors: Path):
        self.samples, self.n_attrs, self.errors = samples, n_attrs, str(errors)
        self.done = mp.Value("q", 0)
        self.failed = mp.Value("b", 0)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple:
        item = None
        if not self.failed.value:
            try:
                item = self.samples[i]
            except Exception as exc:  # noqa: BLE001 - anything raised here would hang the writer
                self.failed.value = 1
                message = str(exc) if isinstance(exc, DataError) else f"sample {i}: {type(exc).__name__}: {exc}"
                with open(self.errors, "a") as f:
                    f.write(message.replace("\n", " ") + "\n")
        with self.done.get_lock():
            self.done.value += 1
        return item if item is not None else (np.zeros((8, 8, 3), np.uint8), 0, *([0] * self.n_attrs))


@contextmanager
def _polling(counter: Any, report: Callable[[int], None] | None) -> Iterator[None]:
    if report is None:
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            report(counter.value)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        report(counter.value)


def write_split(path: Path, split: Split, *, workers: int = 1, info: dict[str, Any] | None = None,
                report: Callable[[int], None] | None = None, digest: bool = False) -> Path:
    """Write ``split`` to ``path`` (+ sidecar) only if every image decodes; ``report`` gets the
    number of samples done so far (a progress bar). ``digest`` adds the file's sha256 to the
    sidecar's info, which every model trained on it is keyed by: other images, other models."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.{os.getpid()}.staging.beton")     # two prepares into one --out
    errors = path.with_name(f".{path.stem}.{os.getpid()}.errors")
    errors.unlink(missing_ok=True)
    guarded = _Guarded(split.samples, len(split.attr_names), errors)
    try:
        with _polling(guarded.done, report):
            write_beton(staging, guarded, num_classes=split.num_classes, attr_names=split.attr_names,
                        jpeg=split.jpeg, max_side=split.max_side, workers=workers,
                        info={**split.info, **(info or {})})
        if errors.is_file():
            lines = errors.read_text().splitlines()
            raise DataError(f"{lines[0]} (while writing {path.name}; nothing was written)")
        if digest:
            meta = json.loads(sidecar(staging).read_text())
            meta["info"]["sha256"] = file_sha256(staging)
            atomic.write_text(sidecar(staging), json.dumps(meta, indent=2, sort_keys=True))
        os.replace(staging, path)
        os.replace(sidecar(staging), sidecar(path))
    finally:
        errors.unlink(missing_ok=True)
        staging.unlink(missing_ok=True)
        sidecar(staging).unlink(missing_ok=True)
    return path
