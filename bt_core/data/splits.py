"""Group-count tables and the one builder that carves them out of a pool of images.

The co-occurrence (Table 2) and gender-age (Tables 4, 5) experiments are defined by how many images
of each (label, attribute) group a split holds. The same :func:`fill` serves the real COCO/CelebA
adapters and the synthetic pools of the mini scale, so both scales select images identically.

The paper's counts: :data:`PAPER_LAYOUT` records which tables arXiv 2207.02842 defines, their keys
and cells; :data:`TABLES` holds only counts taken from the paper. Of those, only the COCO target's
(485 cat and 485 dog images, none with a person) were available here; the full text of Tables 2, 4
and 5 was not reachable offline, and the authors' repository (MadryLab/bias-transfer) loads its
CelebA indices from a file it does not ship and has no COCO code. The other tables are left out
rather than guessed: the COCO/CelebA adapters take their counts from a JSON file
(:func:`load_tables`) until someone records them here from the paper.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class GroupTable:
    """How many images of each group a split holds; a group is a tuple of attribute values."""

    name: str
    cite: str
    keys: tuple[str, ...]
    counts: Mapping[tuple[int, ...], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for group, n in self.counts.items():
            if len(group) != len(self.keys) or isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ConfigError(f"table {self.name!r} cell {group!r} -> {n!r} is invalid: expected a "
                                  f"tuple of {len(self.keys)} ints ({', '.join(self.keys)}) -> a count >= 0")

    def scaled(self, factor: float) -> "GroupTable":
        return GroupTable(self.name, f"{self.cite} (x{factor:g})", self.keys,
                          {g: max(1, int(round(n * factor))) for g, n in self.counts.items()})

    def total(self) -> int:
        return int(sum(self.counts.values()))


def cell_text(keys: Sequence[str], group: tuple[int, ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(keys, group))


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
            raise DataError(f"table {table.name!r} cell ({cell_text(table.keys, group)}) needs {count} images but "
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


PAPER = "arXiv 2207.02842"
_FOUR = ((0, 0), (0, 1), (1, 0), (1, 1))

# The paper's tables: name -> (where, keys, cells). The COCO target holds no image with a person.
PAPER_LAYOUT: dict[str, tuple[str, tuple[str, ...], tuple[tuple[int, ...], ...]]] = {
    "coco_source_biased": ("Table 2", _COCO, _FOUR),
    "coco_source_unbiased": ("Table 2", _COCO, _FOUR),
    "coco_target": ("Table 2", _COCO, ((0, 0), (1, 0))),
    "celeba_source_biased": ("Table 4", _CELEBA, _FOUR),
    "celeba_source_unbiased": ("Table 4", _CELEBA, _FOUR),
    "celeba_target_1": ("Table 5", _CELEBA, _FOUR),
    "celeba_target_2": ("Table 5", _CELEBA, _FOUR),
    "celeba_target_3": ("Table 5", _CELEBA, _FOUR),
}

# Counts taken from the paper, by table name (see the module docstring for why so few).
TABLES: dict[str, GroupTable] = {
    "coco_target": _table("coco_target", f"Table 2 of {PAPER}: 485 + 485 people-free fine-tuning images", _COCO,
                          {(0, 0): 485, (1, 0): 485}),
}

TABLES_FORMAT = ('a JSON object {table: {"label=1, person=0": count, ...}} with every cell of the '
                 'table, e.g. {"coco_target": {"label=0, person=0": 500, "label=1, person=0": 500}}')


def _parse_cell(text: str, keys: tuple[str, ...]) -> tuple[int, ...] | None:
    try:
        pairs = dict(part.split("=") for part in text.replace(" ", "").split(","))
        return tuple(int(pairs[k]) for k in keys) if set(pairs) == set(keys) else None
    except (ValueError, KeyError):
        return None


def load_tables(path: str | Path) -> dict[str, GroupTable]:
    """Read the counts of some of the paper's tables from ``path`` (:data:`TABLES_FORMAT`),
    checking that each names a table of :data:`PAPER_LAYOUT` and gives exactly its cells."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"table counts file {str(path)!r} cannot be read ({exc}): expected {TABLES_FORMAT}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"table counts file {str(path)!r} holds a {type(raw).__name__}: expected {TABLES_FORMAT}")
    tables = {}
    for name, cells in raw.items():
        if name not in PAPER_LAYOUT:
            raise ConfigError(f"table {name!r} in {str(path)!r} is unknown: expected one of {', '.join(PAPER_LAYOUT)}")
        where, keys, groups = PAPER_LAYOUT[name]
        if not isinstance(cells, dict):
            raise ConfigError(f"table {name!r} in {str(path)!r} must map cells to counts: expected {TABLES_FORMAT}")
        counts = {}
        for text, n in cells.items():
            group = _parse_cell(str(text), keys)
            if group not in groups:
                raise ConfigError(f"table {name!r} cell {text!r} in {str(path)!r} is not a cell of {where}: expected "
                                  f"one of {'; '.join(cell_text(keys, g) for g in groups)}")
            counts[group] = n
        missing = [cell_text(keys, g) for g in groups if g not in counts]
        if missing:
            raise ConfigError(f"table {name!r} in {str(path)!r} lacks cells {'; '.join(missing)}: every cell of "
                              f"{where} needs a count")
        tables[name] = GroupTable(name, f"{where} of {PAPER}, counts from {path}", keys, counts)
    return tables


def paper_table(name: str, given: Mapping[str, GroupTable] | None = None) -> GroupTable:
    """Table ``name`` with counts from ``given`` (e.g. :func:`load_tables`), else from :data:`TABLES`."""
    if name not in PAPER_LAYOUT:
        raise ConfigError(f"table {name!r} is unknown: expected one of {', '.join(PAPER_LAYOUT)}")
    table = (given or {}).get(name) or TABLES.get(name)
    if table is None:
        where = PAPER_LAYOUT[name][0]
        raise ConfigError(f"table {name!r} ({where} of {PAPER}) has no recorded counts: bt_core.data.splits.TABLES "
                          f"holds none read from the paper, so pass them in a file (--tables FILE): {TABLES_FORMAT}")
    return table
