"""MS-COCO for the co-occurrence experiment (Table 2): cats vs dogs, attribute ``person``.

An image qualifies when it shows a cat or a dog but not both (label 0 = cat, 1 = dog); ``person`` is
1 when any person is annotated in it. The biased and unbiased sources and the people-free target are
filled disjointly from the training annotations; every dataset's test split is every qualifying
image of the validation annotations, with and without people, where the transferred model's
sensitivity to people is measured.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from ...errors import DataError
from ..splits import GroupTable
from .common import ImageFiles, Split, pooled_splits

LAYOUT = "coco/{annotations/instances_train2017.json, annotations/instances_val2017.json, train2017/, val2017/}"
CLASSES = ("cat", "dog")
OUTPUTS = {"coco_biased": "coco_source_biased", "coco_unbiased": "coco_source_unbiased",
           "coco_target": "coco_target"}


def read_instances(path: Path, images_dir: Path) -> ImageFiles:
    """The qualifying images of one ``instances_*.json`` with their label and ``person``."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"annotation file {str(path)!r} does not exist: expected the layout {LAYOUT}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"annotation file {str(path)!r} is truncated or not JSON ({exc})") from None
    if not isinstance(data, dict) or not {"images", "annotations", "categories"} <= set(data):
        raise DataError(f"annotation file {str(path)!r} does not match the COCO instances format: expected "
                        "the keys 'images', 'annotations' and 'categories'")
    ids = {c.get("name"): c.get("id") for c in data["categories"]}
    missing = [n for n in ("cat", "dog", "person") if n not in ids]
    if missing:
        raise DataError(f"annotation file {str(path)!r} has no categories {missing}: expected COCO's 'cat', "
                        "'dog' and 'person'")
    present: dict[int, set[str]] = {}
    names = {ids["cat"]: "cat", ids["dog"]: "dog", ids["person"]: "person"}
    for ann in data["annotations"]:
        if ann.get("category_id") in names:
            present.setdefault(ann["image_id"], set()).add(names[ann["category_id"]])
    files, labels, person = [], [], []
    for image in sorted(data["images"], key=lambda im: im["id"]):
        seen = present.get(image["id"], set())
        if ("cat" in seen) != ("dog" in seen):
            files.append(str(images_dir / image["file_name"]))
            labels.append(int("dog" in seen))
            person.append(int("person" in seen))
    if not files:
        raise DataError(f"annotation file {str(path)!r} has no image with a cat or a dog (but not both)")
    return ImageFiles(files, labels, {"person": person})


def coco(folder: Path, *, tables: Mapping[str, GroupTable] | None = None, seed: int = 0) -> dict[str, Split]:
    ann = folder / "annotations"
    train = read_instances(ann / "instances_train2017.json", folder / "train2017")
    test = read_instances(ann / "instances_val2017.json", folder / "val2017")
    info = {"adapter": "coco", "classes": list(CLASSES), "seed": seed}
    return pooled_splits(train, test, "person", OUTPUTS, tables, seed, info, "instances_*2017.json")
