"""Three transfer targets from their own release layouts, for copies not re-sorted into class
folders: Food-101 (``meta/*.txt``), Oxford-IIIT Pets (``annotations/*.txt``) and FGVC Aircraft
(``data/images_variant_*.txt``). Each yields ``<name>/train`` and ``<name>/test`` as JPEG."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import DataError
from .common import ImageFiles, Split, check_files, check_labels, read_lines

FOOD_LAYOUT = "food-101/{images/<class>/<id>.jpg, meta/classes.txt, meta/train.txt, meta/test.txt}"
PETS_LAYOUT = "oxford-iiit-pet/{images/<name>.jpg, annotations/trainval.txt, annotations/test.txt}"
AIRCRAFT_LAYOUT = ("fgvc-aircraft-2013b/data/{images/<id>.jpg, variants.txt, "
                   "images_variant_trainval.txt, images_variant_test.txt}")
PETS_CLASSES = 37


def _split(files: list[str], labels: list[int], num_classes: int, where: str, info: dict) -> Split:
    labels_arr = np.asarray(labels, np.int64)
    check_labels(labels_arr, num_classes, where)
    check_files(files, where)
    return Split(ImageFiles(files, labels_arr), num_classes, info=info)


def food101(folder: Path) -> dict[str, Split]:
    """Food-101: ``meta/<split>.txt`` lines ``<class>/<id>``, labels in ``meta/classes.txt`` order."""
    classes = read_lines(folder / "meta" / "classes.txt")
    index = {c: i for i, c in enumerate(classes)}
    out = {}
    for split in ("train", "test"):
        listing = folder / "meta" / f"{split}.txt"
        files, labels = [], []
        for n, line in enumerate(read_lines(listing), 1):
            name = line.split("/")[0]
            if name not in index:
                raise DataError(f"{str(listing)!r} line {n}: class {name!r} is not in meta/classes.txt, so its "
                                f"label is outside the class range [0, {len(classes)})")
            files.append(str(folder / "images" / f"{line}.jpg"))
            labels.append(index[name])
        out[f"food/{split}"] = _split(files, labels, len(classes), repr(str(listing)),
                                      {"adapter": "food101", "classes": classes})
    return out


def pets(folder: Path) -> dict[str, Split]:
    """Oxford-IIIT Pets: ``annotations/{trainval,test}.txt`` lines ``<image> <class 1..37> <species>
    <breed>``; label = class - 1."""
    out = {}
    for split, listing_name in (("train", "trainval.txt"), ("test", "test.txt")):
        listing = folder / "annotations" / listing_name
        files, labels = [], []
        for n, line in enumerate(read_lines(listing), 1):
            fields = line.split()
            if len(fields) < 2 or not fields[1].lstrip("-").isdigit():
                raise DataError(f"{str(listing)!r} line {n} is {line!r}: expected '<image> <class id> "
                                "<species> <breed id>'")
            files.append(str(folder / "images" / f"{fields[0]}.jpg"))
            labels.append(int(fields[1]) - 1)
        out[f"pets/{split}"] = _split(files, labels, PETS_CLASSES, f"{str(listing)!r} (class id - 1)",
                                      {"adapter": "pets"})
    return out


def aircraft(folder: Path) -> dict[str, Split]:
    """FGVC Aircraft at the variant level (100 classes): ``data/images_variant_<split>.txt`` lines
    ``<image id> <variant>``, labels in ``data/variants.txt`` order; trainval is the training set."""
    data = folder / "data"
    variants = read_lines(data / "variants.txt")
    index = {v: i for i, v in enumerate(variants)}
    out = {}
    for split, part in (("train", "trainval"), ("test", "test")):
        listing = data / f"images_variant_{part}.txt"
        files, labels = [], []
        for n, line in enumerate(read_lines(listing), 1):
            image, _, variant = line.partition(" ")
            if variant not in index:
                raise DataError(f"{str(listing)!r} line {n}: variant {variant!r} is not in data/variants.txt, so its "
                                f"label is outside the class range [0, {len(variants)})")
            files.append(str(data / "images" / f"{image}.jpg"))
            labels.append(index[variant])
        out[f"aircraft/{split}"] = _split(files, labels, len(variants), repr(str(listing)),
                                          {"adapter": "aircraft", "classes": variants})
    return out
