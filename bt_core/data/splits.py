"""Group-count tables and the one builder that carves them out of a pool of images.

The co-occurrence (Table 2) and gender-age (Tables 4, 5) experiments are defined by how many images
of each (label, attribute) group a split holds. The same :func:`fill` serves the real COCO/CelebA
adapters and the synthetic pools of the mini scale, so both scales select images identically.

The paper's counts: :data:`TABLES` holds every cell of Tables 2, 4 and 5 of arXiv 2207.02842
(App. A.5, A.6) as printed, and the people-free COCO target the text beneath Table 2 describes;
:data:`PAPER_LAYOUT` says which table each comes from, its keys and cells. ``--tables FILE``
(:func:`load_tables`) overrides them. The mini scale's tables (:data:`MINI_TABLES`) are the same
tables scaled down by one factor each (:func:`mini_table`), so each keeps the paper's ratios.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
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
        """The same cells at ``factor`` times the counts; an empty cell stays empty (e.g. no men in
        Table 5's *Only Women*), a non-empty one keeps at least one image."""
        return GroupTable(self.name, f"{self.cite} (x{factor:g})", self.keys,
                          {g: max(1, int(round(n * factor))) if n else 0 for g, n in self.counts.items()})

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


_COCO = ("label", "person")          # label 0 = cat, 1 = dog; person 0/1
_CELEBA = ("label", "male")          # label 1 = young (CelebA "Young"), 0 = old; male 0/1
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


def _coco(name: str, row: str, cat_people: int, cat_alone: int, dog_people: int, dog_alone: int,
          note: str = "") -> GroupTable:
    """A row of Table 2, in its column order: cat with / without people, dog with / without."""
    return GroupTable(name, f"Table 2 of {PAPER} (App. A.5), row {row!r}{note}", _COCO,
                      {(0, 1): cat_people, (0, 0): cat_alone, (1, 1): dog_people, (1, 0): dog_alone})


def _celeba(name: str, where: str, row: str, young_male: int, young_female: int, old_male: int,
            old_female: int) -> GroupTable:
    """A row of Table 4 or 5, in its column order: young male / female, old male / female."""
    return GroupTable(name, f"{where} of {PAPER} (App. A.6), row {row!r}", _CELEBA,
                      {(1, 1): young_male, (1, 0): young_female, (0, 1): old_male, (0, 0): old_female})


# Every count as the paper prints it, Table 2's damaged-looking non-spurious row included: not repaired by guess.
TABLES: dict[str, GroupTable] = {t.name: t for t in (
    _coco("coco_source_biased", "Spurious", 1000, 4000, 4000, 1000),
    _coco("coco_source_unbiased", "Non-Spurious", 0, 1000, 0, 100,
          note="; AS PRINTED, the row looks damaged (0 / 1000 / 0 / 100)"),
    GroupTable("coco_target", f"Table 2 of {PAPER} (App. A.5, the text below it): 485 cats and 485 dogs, "
               "none with a person", _COCO, {(0, 0): 485, (1, 0): 485}),
    _celeba("celeba_source_biased", "Table 4", "Spurious", 1000, 4000, 4000, 1000),
    _celeba("celeba_source_unbiased", "Table 4", "Non-Spurious", 2500, 2500, 2500, 2500),
    _celeba("celeba_target_1", "Table 5", "Only Women", 0, 5000, 0, 5000),
    _celeba("celeba_target_2", "Table 5", "80% Women 20% Men", 1000, 4000, 1000, 4000),
    _celeba("celeba_target_3", "Table 5", "50% Women 50% Men", 2500, 2500, 2500, 2500),
)}

# One factor per table keeps its ratios; the factors fit the 2,250 images a pool group has outside the test split
# (CelebA's young women, the busiest group, take 800 + 500 + 400 + 320 + 200 = 2,220).
MINI_FACTORS = {"coco_source_biased": 0.2, "coco_target": 0.8, "celeba_source_biased": 0.2,
                "celeba_source_unbiased": 0.2, "celeba_target_1": 0.08, "celeba_target_2": 0.08,
                "celeba_target_3": 0.08}

# Table 2's non-spurious row read for what it says without doubt (no person), classes balanced at its cat count:
# beside the spurious source, the person cue is the only difference.
MINI_NON_SPURIOUS_COCO = {(0, 1): 0, (0, 0): 1000, (1, 1): 0, (1, 0): 1000}


def mini_table(name: str) -> GroupTable:
    """Paper table ``name`` at the mini scale: every cell times the table's factor, ratios kept."""
    paper = TABLES[name]
    if name == "coco_source_unbiased":
        return GroupTable(name, f"{paper.cite}; mini scale: no person, classes read as balanced "
                                f"(1,000 / 1,000)", paper.keys, MINI_NON_SPURIOUS_COCO)
    factor = MINI_FACTORS[name]
    return replace(paper.scaled(factor), cite=f"{paper.cite}, x{factor:g} for the mini scale")


MINI_TABLES: dict[str, GroupTable] = {name: mini_table(name) for name in TABLES}

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
    return (given or {}).get(name) or TABLES[name]
