"""CelebA for the gender-age experiment (Tables 4, 5): label = "Young", attribute ``male`` = "Male".

The source tables (biased, unbiased) and the three targets are filled disjointly from the official
training partition by :func:`bt_core.data.splits.fill_disjoint`; every dataset's test split is the
whole official test partition, so subgroup accuracies are measured on the same images throughout.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ...errors import DataError
from ..splits import GroupTable
from .common import ImageFiles, Split, pooled_splits, read_lines

LAYOUT = "celeba/{img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt}"
LABEL, ATTRIBUTE = "Young", "Male"
# output dataset -> the paper table it is filled with (the names bt_core.data.registry serves)
OUTPUTS = {"celeba_biased": "celeba_source_biased", "celeba_unbiased": "celeba_source_unbiased",
           "celeba_target_1": "celeba_target_1", "celeba_target_2": "celeba_target_2",
           "celeba_target_3": "celeba_target_3"}
TRAIN_PARTITION, TEST_PARTITION = 0, 2


def read_attributes(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """Image names and the {-1, 1} columns of ``list_attr_celeba.txt`` (count line, names line,
    one row per image), checked against its own header."""
    if not path.is_file():
        raise DataError(f"attribute file {str(path)!r} does not exist: expected the layout {LAYOUT}")
    lines = path.read_text().splitlines()
    header = lines[1].split() if len(lines) > 1 else []
    if not lines or not lines[0].strip().isdigit() or not {LABEL, ATTRIBUTE} <= set(header):
        raise DataError(f"attribute file {str(path)!r} header does not match: expected an image count on line 1 "
                        f"and the attribute names, including {LABEL!r} and {ATTRIBUTE!r}, on line 2")
    rows = [ln.split() for ln in lines[2:] if ln.strip()]
    if len(rows) != int(lines[0]):
        raise DataError(f"attribute file {str(path)!r} header does not match: line 1 announces {int(lines[0])} "
                        f"images, the file lists {len(rows)}")
    for n, row in enumerate(rows, 3):
        if len(row) != len(header) + 1 or any(v not in ("1", "-1") for v in row[1:]):
            raise DataError(f"attribute file {str(path)!r} line {n} does not match its header: expected an image "
                            f"name and {len(header)} values of -1 or 1, got {len(row)} fields")
    values = np.array([row[1:] for row in rows], dtype=np.int64)
    return [row[0] for row in rows], {name: values[:, i] for i, name in enumerate(header)}


def read_partition(path: Path) -> dict[str, int]:
    parts = {}
    for n, line in enumerate(read_lines(path), 1):
        fields = line.split()
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(f"partition file {str(path)!r} line {n} is {line!r}: expected '<image> <0|1|2>'")
        parts[fields[0]] = int(fields[1])
    return parts


def celeba(folder: Path, *, tables: Mapping[str, GroupTable] | None = None, seed: int = 0) -> dict[str, Split]:
    names, columns = read_attributes(folder / "list_attr_celeba.txt")
    partition = read_partition(folder / "list_eval_partition.txt")
    unlisted = [n for n in names if n not in partition]
    if unlisted:
        raise DataError(f"{len(unlisted)} images of list_attr_celeba.txt have no partition in "
                        f"list_eval_partition.txt, e.g. {unlisted[0]!r}")
    part = np.array([partition[n] for n in names])
    files = [str(folder / "img_align_celeba" / n) for n in names]
    pool = ImageFiles(files, columns[LABEL] > 0, {"male": columns[ATTRIBUTE] > 0})
    train = pool.subset(np.flatnonzero(part == TRAIN_PARTITION))
    test = pool.subset(np.flatnonzero(part == TEST_PARTITION))
    info = {"adapter": "celeba", "label": LABEL, "attributes": {"male": ATTRIBUTE}, "seed": seed}
    return pooled_splits(train, test, "male", OUTPUTS, tables, seed, info, "list_attr_celeba.txt")
