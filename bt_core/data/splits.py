"""Group-count tables and the one builder that carves them out of a pool of images.

The co-occurrence (Table 2) and gender-age (Tables 4, 5) experiments are defined by how many images
of each (label, attribute) group a split holds. The same :func:`fill` serves the real COCO/CelebA
adapters and the synthetic pools of the mini scale, so both scales select images identically.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..errors import DataError


@dataclass(frozen=True)
class GroupTable:
    """How many images of each group a split holds; a group is a tuple of attribute values."""

    name: str
    cite: str
    keys: tuple[str, ...]
    counts: Mapping[tuple[int, ...], int] = field(default_factory=dict)

    def scaled(self, factor: float) -> "GroupTable":
        return GroupTable(self.name, f"{self.cite} (x{factor:g})", self.keys,
                          {g: max(1, int(round(n * factor))) for g, n in self.counts.items()})

    def total(self) -> int:
        return int(sum(self.counts.values()))


def _cell(table: GroupTable, group: tuple[int, ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(table.keys, group))


def fill(table: GroupTable, columns: Mapping[str, np.ndarray], seed: int,
         exclude: np.ndarray | None = None) -> np.ndarray:
    """Sorted pool indices holding exactly ``counts[g]`` images of every group ``g``, drawn without
    replacement with ``default_rng(seed)`` and never from ``exclude``."""
    missing = [k for k in table.keys if k not in columns]
    if missing:
        raise DataError(f"table {table.name!r} needs columns {missing}; the pool has {sorted(columns)}")
    stacked = np.stack([np.asarray(columns[k]) for k in table.keys], axis=1)
    free = np.ones(len(stacked), bool)
    if exclude is not None and len(exclude):
        free[np.asarray(exclude, np.int64)] = False
    rng = np.random.default_rng(seed)
    chosen = []
    for group, count in sorted(table.counts.items()):
        candidates = np.flatnonzero(free & np.all(stacked == np.asarray(group), axis=1))
        if len(candidates) < count:
            raise DataError(f"table {table.name!r} cell ({_cell(table, group)}) needs {count} images but "
                            f"the pool has {len(candidates)} available: {count - len(candidates)} short")
        chosen.append(rng.choice(candidates, size=count, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def fill_disjoint(tables: Sequence[GroupTable], columns: Mapping[str, np.ndarray], seed: int) -> list[np.ndarray]:
    """Fill several tables from one pool with no image in two of them (e.g. a source, its targets
    and a test set), in the given order."""
    taken = np.zeros(0, np.int64)
    parts = []
    for i, table in enumerate(tables):
        part = fill(table, columns, seed + i, exclude=taken)
        parts.append(part)
        taken = np.concatenate([taken, part])
    return parts


def _table(name: str, cite: str, keys: tuple[str, str], counts: dict[tuple[int, int], int]) -> GroupTable:
    return GroupTable(name, cite, keys, counts)


_COCO = ("label", "person")          # label 0 = cat, 1 = dog; person 0/1
_CELEBA = ("label", "male")          # label 1 = young (CelebA "Young"), 0 = old; male 0/1
_MINI = "this suite's mini table, with the structure of {} of arXiv 2207.02842 (not its counts)"

# The mini scale's tables: sized for the synthetic pools, shaped like the paper's. The biased
# sources over-represent the same groups the paper's do (dogs with people, cats without; old men and
# young women), the targets hold what the paper's targets hold (no people; gender balance).
MINI_TABLES: dict[str, GroupTable] = {
    "coco_source_biased": _table("coco_source_biased", _MINI.format("Table 2"), _COCO,
                                 {(1, 1): 900, (1, 0): 100, (0, 1): 100, (0, 0): 900}),
    "coco_source_unbiased": _table("coco_source_unbiased", _MINI.format("Table 2"), _COCO,
                                   {(1, 1): 500, (1, 0): 500, (0, 1): 500, (0, 0): 500}),
    "coco_target": _table("coco_target", _MINI.format("Table 2"), _COCO, {(1, 0): 400, (0, 0): 400}),
    "celeba_source_biased": _table("celeba_source_biased", _MINI.format("Table 4"), _CELEBA,
                                   {(0, 1): 900, (1, 0): 900, (0, 0): 100, (1, 1): 100}),
    "celeba_source_unbiased": _table("celeba_source_unbiased", _MINI.format("Table 4"), _CELEBA,
                                     {(0, 1): 500, (1, 0): 500, (0, 0): 500, (1, 1): 500}),
    "celeba_target_1": _table("celeba_target_1", _MINI.format("Table 5"), _CELEBA,
                              {g: 150 for g in ((0, 0), (0, 1), (1, 0), (1, 1))}),
    "celeba_target_2": _table("celeba_target_2", _MINI.format("Table 5"), _CELEBA,
                              {g: 250 for g in ((0, 0), (0, 1), (1, 0), (1, 1))}),
    "celeba_target_3": _table("celeba_target_3", _MINI.format("Table 5"), _CELEBA,
                              {g: 200 for g in ((0, 0), (0, 1), (1, 0), (1, 1))}),
}
