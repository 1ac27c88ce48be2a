"""Where each of the paper's datasets lives in native form, and how it becomes .beton files.

:func:`locate` finds a dataset under a folder of native copies, or says which path and layout it
expected. :func:`prepare` writes ``<out>/<dataset>/<split>.beton`` (+ sidecar), the files
:mod:`bt_core.data.registry` reads at the paper scale; it is resumable, skipping every split whose
.beton and sidecar are already complete and were made from the same table counts.
"""
from __future__ import annotations

import os
import shutil
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from ..errors import ConfigError, DataError, MissingDataError
from ..paper_hparams import TOP1, TRANSFER_TARGETS
from . import splits as _splits
from .adapters import celeba, cifar, coco, finegrained, folder, imagenet
from .adapters.common import Split, write_split
from .beton import read_meta, sidecar

DEFAULT_WORKERS = min(8, os.cpu_count() or 1)


@dataclass(frozen=True)
class Layout:
    """One way a dataset can be stored: ``<root>/<path>`` holding ``marker``, read by ``read``."""

    path: str
    marker: str
    description: str          # the layout, starting with ``path``
    read: Callable[..., dict[str, Split]]


@dataclass(frozen=True)
class Entry:
    name: str
    layouts: tuple[Layout, ...]       # tried in order
    outputs: tuple[str, ...]          # "<dataset>/<split>" .beton files it yields
    metric: str
    tables: tuple[str, ...] = ()      # paper tables (bt_core.data.splits) its splits are filled with


class ClassCountWarning(UserWarning):
    """A converted target has another class count than Table 1 lists (e.g. a partial copy)."""


def _pair(name: str) -> tuple[str, str]:
    return (f"{name}/train", f"{name}/test")


def _target(name: str, *native: Layout) -> Entry:
    by_class = Layout(name, "train", folder.LAYOUT.replace("<name>", name), partial(folder.class_folders, name=name))
    return Entry(name, (by_class, *native), _pair(name), TRANSFER_TARGETS[name].metric)


def _pooled(name: str, layout: Layout, outputs: Mapping[str, str]) -> Entry:
    return Entry(name, (layout,), tuple(o for n in outputs for o in _pair(n)), TOP1, tuple(outputs.values()))


CATALOG: dict[str, Entry] = {e.name: e for e in (
    Entry("imagenet", (Layout("imagenet", "train", imagenet.LAYOUT, imagenet.imagenet),), _pair("imagenet"), TOP1),
    Entry("cifar10", (Layout("cifar-10-batches-py", "data_batch_1", cifar.LAYOUT_10, cifar.cifar10),),
          _pair("cifar10"), TRANSFER_TARGETS["cifar10"].metric),
    Entry("cifar100", (Layout("cifar-100-python", "train", cifar.LAYOUT_100, cifar.cifar100),),
          _pair("cifar100"), TRANSFER_TARGETS["cifar100"].metric),
    _target("aircraft", Layout("fgvc-aircraft-2013b", "data/variants.txt", finegrained.AIRCRAFT_LAYOUT,
                               finegrained.aircraft)),
    _target("birdsnap"),
    _target("caltech101"),
    _target("caltech256"),
    _target("flowers"),
    _target("food", Layout("food-101", "meta/classes.txt", finegrained.FOOD_LAYOUT, finegrained.food101)),
    _target("pets", Layout("oxford-iiit-pet", "annotations/trainval.txt", finegrained.PETS_LAYOUT,
                           finegrained.pets)),
    _target("stanford_cars"),
    _target("sun397"),
    _pooled("celeba", Layout("celeba", "list_attr_celeba.txt", celeba.LAYOUT, celeba.celeba), celeba.OUTPUTS),
    _pooled("coco", Layout("coco", "annotations", coco.LAYOUT, coco.coco), coco.OUTPUTS),
)}


def entry(name: str) -> Entry:
    if name not in CATALOG:
        raise ConfigError(f"dataset {name!r} is unknown: expected one of {', '.join(CATALOG)}")
    return CATALOG[name]


def producer(dataset: str) -> str | None:
    """The catalog entry whose ``prepare`` writes ``<dataset>/<split>.beton`` (e.g. celeba_biased -> celeba)."""
    return next((e.name for e in CATALOG.values() if f"{dataset}/train" in e.outputs), None)


def _find(name: str, data_root: str | Path) -> tuple[Layout, Path]:
    root = Path(data_root)
    layouts = entry(name).layouts
    for layout in layouts:
        if (root / layout.path / layout.marker).exists():
            return layout, root / layout.path
    expected = " or ".join(f"{root}/{layout.description}" for layout in layouts)
    for layout in layouts:
        if (root / layout.path).is_dir():
            raise DataError(f"dataset {name!r}: {root / layout.path} exists but has no {layout.marker!r}, so it is "
                            f"not in a layout this suite reads: expected {expected}")
    raise MissingDataError(f"dataset {name!r} not found: expected {expected}")


def locate(name: str, data_root: str | Path) -> Path:
    """The folder holding ``name`` in native form under ``data_root``; MissingDataError naming the
    expected path and layout when absent, DataError when a folder is there in another layout."""
    return _find(name, data_root)[1]


def _spec(e: Entry, tables: Mapping[str, _splits.GroupTable], seed: int) -> dict[str, Any]:
    """What a prepared split depends on beyond the native files; stored in its sidecar."""
    spec: dict[str, Any] = {"dataset": e.name}
    if e.tables:
        spec["seed"] = seed
        spec["tables"] = {t: {_splits.cell_text(tables[t].keys, g): n for g, n in sorted(tables[t].counts.items())}
                          for t in e.tables}
    return spec


def _is_prepared(path: Path, spec: dict[str, Any]) -> bool:
    try:
        return read_meta(path)["info"].get("prepared") == spec
    except DataError:
        return False


def _link(src: Path, dst: Path) -> None:
    """Share one written test split among the datasets of a pool (hard link, else a copy)."""
    for a, b in ((src, dst), (sidecar(src), sidecar(dst))):
        tmp = b.with_name(f".{b.name}.{os.getpid()}.link")
        tmp.unlink(missing_ok=True)
        try:
            os.link(a, tmp)
        except OSError:
            shutil.copyfile(a, tmp)
        os.replace(tmp, b)


@contextmanager
def _bars(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int], None] | None]]:
    if not enabled:
        yield lambda desc, total: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    from ..progress import console

    with Progress(TextColumn("[bold blue]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console) as progress:
        def add(desc: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(desc, total=total)
            return lambda done: progress.update(task, completed=min(done, total))
        yield add


def prepare(name: str, native_root: str | Path, out_dir: str | Path, *, progress: bool = True,
            workers: int = DEFAULT_WORKERS, tables: Mapping[str, _splits.GroupTable] | None = None,
            seed: int = 0) -> list[Path]:
    """Convert dataset ``name`` from ``native_root`` into ``out_dir/<dataset>/<split>.beton`` and
    return every output path. ``tables`` overrides counts of the paper's tables
    (:data:`bt_core.data.splits.TABLES`); ``seed`` draws the images that fill them."""
    e = entry(name)
    resolved = {t: _splits.paper_table(t, tables) for t in e.tables}
    spec = _spec(e, resolved, seed)
    paths = {o: Path(out_dir) / f"{o}.beton" for o in e.outputs}
    todo = [o for o, p in paths.items() if not _is_prepared(p, spec)]
    if not todo:
        return list(paths.values())
    layout, native = _find(name, native_root)
    produced = layout.read(native, tables=resolved, seed=seed) if e.tables else layout.read(native)
    target = TRANSFER_TARGETS.get(name)
    found = produced[e.outputs[0]].num_classes
    if target is not None and found != target.classes:
        warnings.warn(f"dataset {name!r}: {found} classes in {native}, Table 1 lists {target.classes}",
                      ClassCountWarning, stacklevel=2)
    written: dict[int, Path] = {}
    with _bars(progress) as add_bar:
        for out in todo:
            split = produced[out]
            if id(split) in written:
                _link(written[id(split)], paths[out])
                continue
            write_split(paths[out], split, workers=workers, info={"prepared": spec, "metric": e.metric},
                        report=add_bar(out, len(split.samples)), digest=True)
            written[id(split)] = paths[out]
    return list(paths.values())
