"""A user's own target dataset (``--bt-target-dir``): an ImageFolder tree ``DIR/{train,test}/<class>/``
or a pair ``DIR/{train,test}.beton`` written by ``python -m benchmark prepare``.

A tree is converted once, through the class-folder adapter every other target uses, into the artifact
cache, keyed by its file listing (names, sizes, modification times), so an edited tree is converted
again. At the mini scale its images are resized to the scale's side (32 px) and stored raw; at the
paper scale they are stored as JPEG like every prepared dataset and cropped by the loader.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..cache import file_sha256
from ..errors import DataError
from .adapters import folder
from .adapters.common import IMAGE_SUFFIXES, check_labels, load_rgb, scan_classes, write_split
from .beton import read_columns, read_meta, sidecar
from .catalog import DEFAULT_WORKERS
from .context import DataContext


NAME = "target_dir"          # the dataset name the cases see
LAYOUTS = ("DIR/train/<class>/*.png|jpg and DIR/test/<class>/... (one folder per class), "
           "or DIR/train.beton and DIR/test.beton written by python -m benchmark prepare")


class Resized:
    """Samples squeezed to ``side`` x ``side`` (the mini scale's networks see 32 px images)."""

    def __init__(self, samples, side: int):
        self.samples, self.side = samples, side

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple:
        from PIL import Image

        image, *rest = self.samples[i]
        small = Image.fromarray(image).resize((self.side, self.side), Image.BILINEAR)
        return (np.asarray(small), *rest)


@lru_cache(maxsize=8)
def _listing(root: Path) -> str:
    """A digest of the tree's names, sizes and times, taken once per process: a dataset is asked for
    per transfer and seed, and a tree edited mid-run is seen by the next run."""
    h = hashlib.sha256()
    for split in ("train", "test"):
        for path in sorted((root / split).rglob("*")):
            if path.is_file():
                st = path.stat()
                h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


@lru_cache(maxsize=8)
def _content(path: Path, size: int, mtime_ns: int) -> str:
    """The sha256 of a user's .beton, hashed once per process and version of the file."""
    return file_sha256(path)


def _from_betons(ctx: DataContext, root: Path, split: str) -> Path:
    """The user's prepared split, linked into the cache with a sidecar that says where it came from
    (path and the sha256 of its bytes), so the models trained on it are keyed by its content."""
    path = root / f"{split}.beton"
    meta = read_meta(path)
    if ctx.scale.image_size is None and meta["image_format"] != "raw":
        raise DataError(f"target {str(path)!r} holds JPEG images, which the {ctx.scale.name} scale does not "
                        f"crop: give the image folders instead ({LAYOUTS}), or use --bt-scale paper")
    st = path.stat()
    spec = {"what": NAME, "layout": "beton", "root": str(root.resolve()), "split": split,
            "stat": [st.st_size, st.st_mtime_ns], "sha256": _content(path, st.st_size, st.st_mtime_ns)}

    def build(out: Path) -> None:
        try:
            os.link(path, out / "data.beton")
        except OSError:
            shutil.copyfile(path, out / "data.beton")
        info = {**meta["info"], NAME: spec}
        sidecar(out / "data.beton").write_text(json.dumps({**meta, "info": info}, indent=2, sort_keys=True))

    return ctx.cache.get("dataset", spec, build) / "data.beton"


def _from_folders(ctx: DataContext, root: Path, split: str, side: int | None) -> Path:
    spec = {"what": NAME, "layout": "folders", "root": str(root.resolve()), "listing": _listing(root),
            "split": split, "side": side}

    def build(out: Path) -> None:
        part = folder.class_folders(root, name=root.name)[f"{root.name}/{split}"]
        if side is not None:
            part = replace(part, samples=Resized(part.samples, side), jpeg=False, max_side=None)
        write_split(out / "data.beton", part, info={**part.info, NAME: spec},
                    workers=1 if side is not None else DEFAULT_WORKERS)

    return ctx.cache.get("dataset", spec, build) / "data.beton"


def layout(root: Path) -> str:
    """"beton" or "folders": which layout ``root`` holds (DataError naming both when neither)."""
    if not root.is_dir():
        raise DataError(f"target folder {str(root)!r} does not exist: expected {LAYOUTS}")
    if (root / "train.beton").is_file() or (root / "test.beton").is_file():
        return "beton"
    if (root / "train").is_dir():
        return "folders"
    raise DataError(f"target folder {str(root)!r} has neither train/ nor train.beton: expected {LAYOUTS}")


def validate(root: Path) -> str:
    """Check the whole target once, before anything is trained, and return its layout: both splits
    present, at least two classes, no empty class folder and every image decodable (a tree), or
    labels inside the class range (a pair of .beton files). DataError naming the file otherwise."""
    kind = layout(root)
    if kind == "beton":
        for split in ("train", "test"):
            path = root / f"{split}.beton"
            meta = read_meta(path)
            if meta["num_classes"] < 2:
                raise DataError(f"target {str(path)!r} has {meta['num_classes']} class: expected at least 2")
            check_labels(read_columns(path)["label"], meta["num_classes"], repr(str(path)))
        return kind
    classes = None
    for split in ("train", "test"):
        files, _, classes = scan_classes(root, split, LAYOUTS, classes)
        if len(classes) < 2:
            raise DataError(f"target folder {str(root / split)!r} has {len(classes)} class folder: expected at "
                            "least 2")
        given = {Path(f).parent.name for f in files}
        empty = [c for c in classes if c not in given and (root / split / c).is_dir()]
        if empty:
            raise DataError(f"class folder {str(root / split / empty[0])!r} holds no image files: expected "
                            f"images ({', '.join(sorted(IMAGE_SUFFIXES))}) in every class folder")
        for f in files:
            load_rgb(f)
    return kind


def dataset_path(ctx: DataContext, split: str, raw_side: int) -> Path:
    """``split`` of the user's target as a .beton; ``raw_side`` is the side images are resized to
    at a scale that reads raw images (the mini scale)."""
    root = Path(ctx.target_dir)
    if split not in ("train", "test"):
        raise DataError(f"split={split!r} is unknown: expected 'train' or 'test'")
    if layout(root) == "beton":
        return _from_betons(ctx, root, split)
    return _from_folders(ctx, root, split, raw_side if ctx.scale.image_size is None else None)


def write_tree(root: Path, split: str, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write uint8 HWC ``images`` as the tree this module reads, ``root/split/classNN/NNNNN.png``:
    how a dataset of the suite becomes a user's target, for examples and tests."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / split / f"class{int(label):02d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:05d}.png")
    return root / split
