"""Every native layout converts to .beton with exactly its labels and attributes, and the COCO and
CelebA splits hold exactly the counts of their tables, disjointly."""
import os

import numpy as np
import pytest

from bt_core.data import catalog, splits
from bt_core.data.adapters import celeba, coco, imagenet
from bt_core.data.beton import read_arrays, read_columns, read_meta
from tests.helpers import native as fx

pytestmark = [pytest.mark.adapters,
              pytest.mark.filterwarnings("ignore::bt_core.data.catalog.ClassCountWarning")]


def _prepare(name, root, out, **kw):
    return catalog.prepare(name, root, out, progress=False, workers=1, **kw)


def _labels(path):
    return read_columns(path)["label"].tolist()


def _cell_counts(columns, keys, cells):
    stacked = np.stack([columns[k] for k in keys], 1)
    return {g: int(np.all(stacked == g, 1).sum()) for g in cells}


def test_imagenet_image_folders(tmp_path):
    expected = fx.imagenet(tmp_path / "native")
    train, test = _prepare("imagenet", tmp_path / "native", tmp_path / "out")
    assert (train, test) == (tmp_path / "out/imagenet/train.beton", tmp_path / "out/imagenet/test.beton")
    assert _labels(train) == expected["train"]
    data = read_arrays(test, image_size=16, workers=1)
    assert data.labels.tolist() == expected["test"] and data.images.shape == (3, 16, 16, 3)
    meta = read_meta(train)
    assert (meta["num_classes"], meta["image_format"]) == (3, "jpg")
    assert meta["info"]["synsets"] == ["n01440764", "n01443537", "n01484850"]
    assert len(imagenet.DOG_CLASSES) == 118 and (imagenet.DOG_CLASSES[0], imagenet.DOG_CLASSES[-1]) == (151, 268)


@pytest.mark.parametrize("hundred", [False, True])
def test_cifar_pickles_stay_lossless(tmp_path, hundred):
    expected = fx.cifar(tmp_path / "native", hundred=hundred)
    name = "cifar100" if hundred else "cifar10"
    train, test = _prepare(name, tmp_path / "native", tmp_path / "out")
    data = read_arrays(test, workers=1)
    assert np.array_equal(data.images, expected["test"][0])
    assert data.labels.tolist() == expected["test"][1].tolist()
    assert _labels(train) == expected["train"][1].tolist()
    meta = read_meta(train)
    assert (meta["num_classes"], meta["image_format"], meta["image_size"]) == (100 if hundred else 10, "raw", [32, 32])


def test_class_folder_targets(tmp_path):
    expected = fx.class_folders(tmp_path / "native" / "birdsnap",
                                {"train": {"wren": 2, "auk": 1}, "test": {"auk": 1, "wren": 1}})
    with pytest.warns(catalog.ClassCountWarning, match="2 classes in .* Table 1 lists 500"):
        train, test = _prepare("birdsnap", tmp_path / "native", tmp_path / "out")
    assert _labels(train) == expected["train"] == [0, 1, 1]
    assert _labels(test) == expected["test"]
    assert read_meta(train)["info"]["classes"] == ["auk", "wren"]


@pytest.mark.parametrize("name, write, classes", [("food", fx.food, 3), ("pets", fx.pets, 37),
                                                  ("aircraft", fx.aircraft, 3)])
def test_native_annotation_files(tmp_path, name, write, classes):
    expected = write(tmp_path / "native")
    train, test = _prepare(name, tmp_path / "native", tmp_path / "out")
    assert (_labels(train), _labels(test)) == (expected["train"], expected["test"])
    assert read_meta(train)["num_classes"] == classes
    assert read_meta(test)["info"]["metric"] == ("top1" if name == "food" else "mean_per_class")   # Table 1


def _small(names):
    """The paper's tables (same cells, empty ones kept empty) scaled to a fixture."""
    return {n: splits.TABLES[n].scaled(0.001) for n in names}


def test_celeba_fills_tables_4_and_5_disjointly(tmp_path):
    expected = fx.celeba(tmp_path / "native", per_cell=20)
    tables = _small(celeba.OUTPUTS.values())
    paths = _prepare("celeba", tmp_path / "native", tmp_path / "out", tables=tables, seed=3)
    assert len(paths) == 10
    for name, table in celeba.OUTPUTS.items():
        columns = read_columns(tmp_path / "out" / name / "train.beton")
        counts = tables[table].counts
        assert _cell_counts(columns, ("label", "male"), counts) == counts
        assert len(columns["label"]) == sum(counts.values())
        assert os.path.samefile(tmp_path / "out" / name / "test.beton", tmp_path / "out/celeba_biased/test.beton")
    test = read_arrays(tmp_path / "out/celeba_target_2/test.beton", image_size=16, workers=1)
    assert test.labels.tolist() == expected["label"].tolist()
    assert test.attrs["male"].tolist() == expected["male"].tolist()
    chosen = celeba.celeba(tmp_path / "native" / "celeba", tables=tables, seed=3)
    files = [set(chosen[f"{n}/train"].samples.files) for n in celeba.OUTPUTS]
    assert sum(map(len, files)) == len(set().union(*files))            # no image in two splits
    assert all(int(os.path.basename(f)[:6]) <= 80 for f in set().union(*files))   # training partition only


def test_coco_fills_table_2_without_people_in_the_target(tmp_path):
    expected = fx.coco(tmp_path / "native", per_cell=8, test_per_cell=2)
    tables = _small(coco.OUTPUTS.values())
    _prepare("coco", tmp_path / "native", tmp_path / "out", tables=tables)
    for name, table in coco.OUTPUTS.items():
        columns = read_columns(tmp_path / "out" / name / "train.beton")
        counts = tables[table].counts
        assert _cell_counts(columns, ("label", "person"), counts) == counts
        assert len(columns["label"]) == sum(counts.values())
    assert read_columns(tmp_path / "out/coco_target/train.beton")["person"].max() == 0
    test = read_arrays(tmp_path / "out/coco_biased/test.beton", image_size=16, workers=1)
    assert test.labels.tolist() == expected["label"].tolist()
    assert test.attrs["person"].tolist() == expected["person"].tolist()
    chosen = coco.coco(tmp_path / "native" / "coco", tables=tables, seed=0)
    files = [set(chosen[f"{n}/train"].samples.files) for n in coco.OUTPUTS]
    assert sum(map(len, files)) == len(set().union(*files))


def test_every_catalog_entry_names_its_layout_and_metric():
    for name, e in catalog.CATALOG.items():
        assert e.outputs and all(o.endswith(("/train", "/test")) for o in e.outputs)
        assert e.metric in ("top1", "mean_per_class")
        assert all(layout.description.startswith(layout.path) for layout in e.layouts)
    assert catalog.CATALOG["pets"].metric == "mean_per_class" and catalog.CATALOG["food"].metric == "top1"
