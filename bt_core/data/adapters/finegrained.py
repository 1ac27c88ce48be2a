"""Three transfer targets from their own release layouts, for copies not re-sorted into class
folders: Food-101 (``meta/*.txt``), Oxford-IIIT Pets (``annotations/*.txt``) and FGVC Aircraft
(``data/images_variant_*.txt``). Each yields ``<name>/train`` and ``<name>/test`` as JPEG."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

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


def _named_split(listing: Path, classes: list[str], classes_file: str, parse: Callable[[str], tuple[str, str]],
                 images: Path, info: dict) -> Split:
    """A split listed one image per line, ``parse(line) -> (class name, image id)`` for
    ``images/<image id>.jpg``, labelled by the class's position in ``classes`` (from ``classes_file``)."""
    index = {c: i for i, c in enumerate(classes)}
    files, labels = [], []
    for n, line in enumerate(read_lines(listing), 1):
        name, image_id = parse(line)
        if name not in index:
            raise DataError(f"{str(listing)!r} line {n}: class {name!r} is not in {classes_file}, so its "
                            f"label is outside the class range [0, {len(classes)})")
        files.append(str(images / f"{image_id}.jpg"))
        labels.append(index[name])
    return _split(files, labels, len(classes), repr(str(listing)), {**info, "classes": classes})


def food101(folder: Path) -> dict[str, Split]:
    """Food-101: ``meta/<split>.txt`` lines ``<class>/<id>``, labels in ``meta/classes.txt`` order."""
    classes = read_lines(folder / "meta" / "classes.txt")
    return {f"food/{split}": _named_split(folder / "meta" / f"{split}.txt", classes, "meta/classes.txt",
                                          lambda line: (line.split("/")[0], line),
                                          folder / "images",
                                          {"adapter": "food101"})
            for split in ("train", "test")}


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


def _variant_and_image(line: str) -> tuple[str, str]:
    image, _, variant = line.partition(" ")         # variant names contain spaces ("Cessna 172")
    return variant, image


def aircraft(folder: Path) -> dict[str, Split]:
    """FGVC Aircraft at the variant level (100 classes): ``data/images_variant_<split>.txt`` lines
    ``<image id> <variant>``, labels in ``data/variants.txt`` order; trainval is the training set."""
    data = folder / "data"
    variants = read_lines(data / "variants.txt")
    return {f"aircraft/{split}": _named_split(data / f"images_variant_{part}.txt", variants, "data/variants.txt",
                                              _variant_and_image,
                                              data / "images",
                                              {"adapter": "aircraft"})
            for split, part in (("train", "trainval"), ("test", "test"))}
