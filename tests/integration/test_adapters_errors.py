"""Each bad native input gets one clear error naming the file or cell and what was expected, and
leaves no .beton behind."""
import json
import pickle

import numpy as np
import pytest

from bt_core.data import catalog, splits
from bt_core.data.adapters import coco
from bt_core.errors import ConfigError, DataError, MissingDataError
from tests.helpers import native as fx

pytestmark = [pytest.mark.adapters,
              pytest.mark.filterwarnings("ignore::bt_core.data.catalog.ClassCountWarning")]


def _prepare(name, root, out, **kw):
    return catalog.prepare(name, root, out, progress=False, workers=1, **kw)


def test_missing_and_misplaced_data_roots(tmp_path):
    with pytest.raises(MissingDataError, match=rf"dataset 'pets' not found: expected {tmp_path}/pets/\{{train,test\}}"
                                               rf"/<class>/\*.jpg \(one folder per class\) or {tmp_path}/oxford-iiit-pet/"):
        catalog.locate("pets", tmp_path)
    (tmp_path / "pets" / "training").mkdir(parents=True)
    with pytest.raises(DataError, match=rf"{tmp_path}/pets exists but has no 'train', so it is not in a layout "
                                        "this suite reads: expected"):
        _prepare("pets", tmp_path, tmp_path / "out")
    fx.pets(tmp_path)
    assert catalog.locate("pets", tmp_path) == tmp_path / "oxford-iiit-pet"
    with pytest.raises(ConfigError, match="dataset 'imagenet21k' is unknown: expected one of imagenet, cifar10"):
        catalog.locate("imagenet21k", tmp_path)


def test_a_split_folder_missing_from_the_layout(tmp_path):
    fx.class_folders(tmp_path / "imagenet", {"train": {"n01": 1}})
    with pytest.raises(DataError, match=r"folder '.*imagenet/val' does not exist: expected the layout "
                                        r"imagenet/\{train,val\}/<synset>"):
        _prepare("imagenet", tmp_path, tmp_path / "out")


def test_a_truncated_image_fails_the_split_and_writes_nothing(tmp_path):
    fx.class_folders(tmp_path / "flowers", {"train": {"rose": 3, "tulip": 2}, "test": {"rose": 1}})
    fx.truncate(tmp_path / "flowers" / "train" / "rose" / "001.jpg")
    with pytest.raises(DataError, match=r"image file '.*rose/001.jpg' cannot be decoded \((?i:.*truncated.*)\): expected a "
                                        r"complete image file \(while writing train.beton; nothing was written\)"):
        _prepare("flowers", tmp_path, tmp_path / "out")
    assert not any(p.name.startswith(("train", ".train")) for p in (tmp_path / "out" / "flowers").iterdir())


def test_a_truncated_cifar_batch(tmp_path):
    fx.cifar(tmp_path)
    fx.truncate(tmp_path / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(DataError, match=r"CIFAR batch '.*data_batch_3' is truncated or not a pickle"):
        _prepare("cifar10", tmp_path, tmp_path / "out")


def test_labels_outside_the_class_range(tmp_path):
    fx.pets(tmp_path, {"trainval.txt": [("Abyssinian_1", 1), ("pug_3", 40)], "test.txt": [("pug_9", 30)]})
    with pytest.raises(DataError, match=r"label 39 in '.*trainval.txt' \(class id - 1\) is outside the class range "
                                        r"\[0, 37\)"):
        _prepare("pets", tmp_path, tmp_path / "out")

    batch = tmp_path / "cifar-100-python" / "test"
    fx.cifar(tmp_path, hundred=True)
    batch.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [3, 100]}))
    with pytest.raises(DataError, match=r"label 100 in '.*cifar-100-python/test' is outside the class range \[0, 100\)"):
        _prepare("cifar100", tmp_path, tmp_path / "out")

    fx.food(tmp_path)
    (tmp_path / "food-101" / "meta" / "test.txt").write_text("baklava/1\nsushi/5\n")
    with pytest.raises(DataError, match=r"test.txt' line 2: class 'sushi' is not in meta/classes.txt, so its label is "
                                        r"outside the class range \[0, 3\)"):
        _prepare("food", tmp_path, tmp_path / "out")

    fx.class_folders(tmp_path / "sun397", {"train": {"abbey": 1}, "test": {"abbey": 1, "zoo": 1}})
    with pytest.raises(DataError, match=r"class folder 'zoo' in '.*sun397/test' has no label: it is outside the 1 "
                                        r"classes of the training split"):
        _prepare("sun397", tmp_path, tmp_path / "out")


def _celeba_attr(tmp_path, edit):
    fx.celeba(tmp_path, per_cell=1)
    path = tmp_path / "celeba" / "list_attr_celeba.txt"
    path.write_text(edit(path.read_text().splitlines()))


@pytest.mark.parametrize("edit, match", [
    (lambda ln: "\n".join([ln[0], ln[1].replace("Young", "Old"), *ln[2:]]),
     r"header does not match: expected an image count on line 1 and the attribute names, including 'Young'"),
    (lambda ln: "\n".join(["99", *ln[1:]]), "header does not match: line 1 announces 99 images, the file lists 12"),
    (lambda ln: "\n".join([*ln[:4], ln[4].rsplit(" ", 1)[0], *ln[5:]]),
     r"line 5 does not match its header: expected an image name and 40 values of -1 or 1, got 40 fields"),
])
def test_celeba_attribute_file_must_match_its_header(tmp_path, edit, match):
    _celeba_attr(tmp_path, edit)
    with pytest.raises(DataError, match=rf"attribute file '.*list_attr_celeba.txt' {match}"):
        _prepare("celeba", tmp_path, tmp_path / "out", tables={n: t.scaled(0.001) for n, t in splits.TABLES.items()})


def test_coco_annotations_without_dogs(tmp_path):
    fx.coco(tmp_path, per_cell=1)
    path = tmp_path / "coco" / "annotations" / "instances_train2017.json"
    data = json.loads(path.read_text())
    data["categories"] = [c for c in data["categories"] if c["name"] != "dog"]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"instances_train2017.json' has no categories \['dog'\]: expected COCO's"):
        _prepare("coco", tmp_path, tmp_path / "out", tables={n: t.scaled(0.001) for n, t in splits.TABLES.items()})


def test_too_few_images_for_a_table_cell(tmp_path):
    fx.coco(tmp_path, per_cell=8)
    tables = {n: splits.TABLES[n].scaled(0.001) for n in coco.OUTPUTS.values()}
    tables["coco_target"] = splits.GroupTable("coco_target", "test", ("label", "person"), {(0, 0): 50, (1, 0): 1})
    with pytest.raises(DataError, match=r"table 'coco_target' cell \(label=0, person=0\) needs 50 images but the pool "
                                        r"has 3 available: 47 short"):
        _prepare("coco", tmp_path, tmp_path / "out", tables=tables)


@pytest.mark.parametrize("name, write, image, where", [
    ("coco", fx.coco, "coco/val2017/000000000035.jpg", r"instances_\*2017.json \(test split\)"),
    ("food", fx.food, "food-101/images/baklava/3.jpg", r"'.*meta/train.txt'"),
])
def test_an_image_the_annotations_list_is_missing(tmp_path, name, write, image, where):
    write(tmp_path)
    (tmp_path / image).unlink()
    tables = {n: splits.TABLES[n].scaled(0.001) for n in coco.OUTPUTS.values()} if name == "coco" else None
    with pytest.raises(DataError, match=rf"1 image files listed in {where} are missing, e.g. '.*{image}'"):
        _prepare(name, tmp_path, tmp_path / "out", **({"tables": tables} if tables else {}))
    assert not (tmp_path / "out").exists()


class _Planted:
    """Pickles as a call of os.system, as a planted batch would."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return os.system, (self.command,)


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_cifar_batch_holding_code_is_refused_and_nothing_in_it_runs(tmp_path, protocol):
    fx.cifar(tmp_path)
    planted = tmp_path / "planted"
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(pickle.dumps({b"data": _Planted(f"touch {planted}"), b"labels": [1]}, protocol=protocol))
    with pytest.raises(DataError, match=r"CIFAR batch '.*data_batch_2' is refused: it names posix\.system, which a "
                                        r"CIFAR batch never holds; expected only arrays.*nothing in it was run"):
        _prepare("cifar10", tmp_path, tmp_path / "out")
    assert not planted.exists()


def test_a_cifar_batch_written_at_every_pickle_protocol_reads_back(tmp_path):
    from bt_core.data.adapters.cifar import load_batch

    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        path = tmp_path / f"batch{protocol}"
        path.write_bytes(pickle.dumps({b"data": data, b"labels": [0, 9], b"batch_label": b"x"}, protocol=protocol))
        batch = load_batch(path)
        assert np.array_equal(batch[b"data"], data) and batch[b"labels"] == [0, 9]


def test_prepare_stages_under_its_own_name_and_leaves_another_prepares_staging_alone(tmp_path):
    fx.cifar(tmp_path)
    folder = tmp_path / "out" / "cifar10"
    folder.mkdir(parents=True)
    other = folder / ".train.staging.beton"          # another prepare into the same --out, writing
    other.write_bytes(b"half of another process's file")
    _prepare("cifar10", tmp_path, tmp_path / "out")
    assert other.read_bytes() == b"half of another process's file"
    assert sorted(p.name for p in folder.iterdir()) == [".train.staging.beton", "test.beton", "test.beton.json",
                                                       "train.beton", "train.beton.json"]
