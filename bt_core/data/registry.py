"""Dataset names -> .beton files, for both scales.

At the mini scale a name is a synthetic task (:mod:`bt_core.data.synthetic`), generated into the
artifact cache the first time it is asked for and read back through FFCV from there. At the paper
scale a name is one of the paper's datasets, written once as .beton files by
``python -m benchmark prepare`` (:mod:`bt_core.data.catalog`) and found under ``--bt-data-root``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MissingDataError
from ..phases import timed
from . import splits, target_dir
from .adapters.imagenet import DOG_CLASSES
from .beton import Arrays, write_arrays
from .context import DataContext
from .synthetic import AttributePool, MiniWorld, mini_world


# Attribute-pool datasets: name -> (pool, group table of splits.MINI_TABLES). Every split of a pool
# is cut from one draw of it, disjointly; the shared test split is balanced over every group.
POOLED = {
    "coco_biased": ("coco", "coco_source_biased"),
    "coco_unbiased": ("coco", "coco_source_unbiased"),
    "coco_target": ("coco", "coco_target"),
    "celeba_biased": ("celeba", "celeba_source_biased"),
    "celeba_unbiased": ("celeba", "celeba_source_unbiased"),
    "celeba_target_1": ("celeba", "celeba_target_1"),
    "celeba_target_2": ("celeba", "celeba_target_2"),
    "celeba_target_3": ("celeba", "celeba_target_3"),
}


def world(ctx: DataContext) -> MiniWorld:
    return mini_world(**ctx.scale.data_sizes)


def names(ctx: DataContext) -> list[str]:
    if ctx.scale.name != "mini":
        return [ctx.scale.source_data, *ctx.scale.targets, *POOLED]
    w = world(ctx)
    return ["source", *w.targets, *POOLED]


def superclass(ctx: DataContext, name: str) -> tuple[int, ...]:
    """The classes that get the planted trigger (the stand-in for ImageNet's dog classes)."""
    if ctx.scale.name != "mini":
        if name != "imagenet":
            raise ConfigError(f"dataset {name!r} has no superclass: expected 'imagenet'")
        return DOG_CLASSES
    if name != "source":
        raise ConfigError(f"dataset {name!r} has no superclass: expected 'source'")
    return world(ctx).source.superclass


@timed("data")
def dataset_path(ctx: DataContext, name: str, split: str, seed: int) -> Path:
    if ctx.target_dir is not None and name == target_dir.NAME:
        return target_dir.dataset_path(ctx, split, world(ctx).source.size)
    if ctx.scale.name != "mini":
        return prepared_path(ctx, name, split)
    w = world(ctx)
    if split not in ("train", "test"):
        raise ConfigError(f"split={split!r} is unknown: expected 'train' or 'test'")
    if name == "source" or name in w.targets:
        task = w.source if name == "source" else w.targets[name]
        spec = {"what": "synthetic", "task": task.describe(), "split": split, "seed": seed}
        build = lambda folder: write_arrays(folder / "data.beton", task.generate(split, seed), spec)  # noqa: E731
    elif name in POOLED:
        pool_name, table = POOLED[name]
        # The test split is shared by every dataset of a pool, so it is one entry, decoded once.
        which = {"tables": [str(t.counts) for t in _pool_tables(pool_name)]} if split == "test" else \
            {"table": table, "counts": str(splits.MINI_TABLES[table].counts)}
        spec = {"what": "pooled", "pool": w.pools[pool_name].describe(), **which,
                "test_per_group": ctx.scale.test_per_group, "split": split, "seed": seed}
        build = lambda folder: write_arrays(folder / "data.beton", _pooled(ctx, w, name, split, seed), spec)  # noqa: E731
    else:
        raise ConfigError(f"dataset {name!r} is unknown at the mini scale: expected one of "
                          f"{', '.join(names(ctx))}")
    return ctx.cache.get("dataset", spec, build) / "data.beton"


LAYOUT = "written by bt_core.data.beton.write_beton: fields image, label and attr_<name>"


def _how_to_prepare(name: str) -> str:
    from .catalog import CATALOG, producer

    source = producer(name)
    if source is None:
        return LAYOUT
    native = " or ".join(layout.description for layout in CATALOG[source].layouts)
    return (f"{LAYOUT}; write it from the native copy ({native}) with "
            f"python -m benchmark prepare {source} --root NATIVE_DIR --out DATA_ROOT")


def prepared_path(ctx: DataContext, name: str, split: str) -> Path:
    """``<data-root>/<name>/<split>.beton``, as :func:`bt_core.data.beton.write_beton` writes it."""
    if name not in names(ctx):
        raise ConfigError(f"dataset {name!r} is unknown at scale {ctx.scale.name}: expected one of "
                          f"{', '.join(names(ctx))}")
    if ctx.data_root is None:
        raise MissingDataError(f"dataset {name!r} needs --bt-data-root: expected a folder holding "
                               f"{name}/{split}.beton with its .json sidecar ({_how_to_prepare(name)})")
    path = Path(ctx.data_root) / name / f"{split}.beton"
    if not path.is_file():
        raise MissingDataError(f"dataset {name!r} split {split!r} not found: expected {path} "
                               f"with its .json sidecar ({_how_to_prepare(name)})")
    return path


def _pool_members(pool_name: str) -> list[str]:
    """The datasets cut from one pool, in the fixed order their tables are filled."""
    return [name for name, (pool, _) in POOLED.items() if pool == pool_name]


def _pool_tables(pool_name: str) -> list[splits.GroupTable]:
    return [splits.MINI_TABLES[POOLED[name][1]] for name in _pool_members(pool_name)]


@lru_cache(maxsize=8)
def _draw(pool: AttributePool, seed: int) -> Arrays:
    """Every split of a pool is cut from the same draw, so it is drawn once per process."""
    return pool.generate(seed)


def _pooled(ctx: DataContext, w: MiniWorld, name: str, split: str, seed: int) -> Arrays:
    """Carve one split out of the attribute pool with the same builder the real adapters use.

    Every dataset of a pool is cut from one draw of the pool, disjointly (source, target and test
    images never overlap), so the tables are filled in a fixed order for all of them.
    """
    pool_name, _ = POOLED[name]
    pool = _draw(w.pools[pool_name], seed)
    columns = {"label": pool.labels, **pool.attrs}
    members = _pool_members(pool_name)
    tables = _pool_tables(pool_name)
    keys = ("label", w.pools[pool_name].attribute)
    test = splits.GroupTable(f"{pool_name}_test", "balanced test split of this suite", keys,
                             {(y, a): ctx.scale.test_per_group for y in (0, 1) for a in (0, 1)})
    parts = splits.fill_disjoint([*tables, test], columns, seed)
    index = parts[-1] if split == "test" else parts[members.index(name)]
    return pool.subset(np.asarray(index))
