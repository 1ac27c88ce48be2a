"""Tiny copies of each native dataset layout, written into a test's tmp_path.

Every writer returns what the converted .beton must hold (labels, attributes, pixels where the
format is lossless), so a test compares the round trip exactly.
"""
from __future__ import annotations

import json
import pickle
import zlib
from pathlib import Path
from typing import Mapping

import numpy as np
from PIL import Image

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()


def save_image(path: Path, seed: int, size: tuple[int, int] = (20, 24)) -> Path:
    """A small JPEG (PNG for .png) whose content depends on ``seed``."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def class_folders(folder: Path, counts: dict[str, dict[str, int]]) -> dict[str, list[int]]:
    """``folder/<split>/<class>/<i>.jpg``; returns the labels each split yields (sorted training
    classes; -1 for a class the training split lacks)."""
    classes = sorted(counts["train"])
    labels: dict[str, list[int]] = {}
    for split, per_class in counts.items():
        labels[split] = []
        for name in sorted(per_class):
            for i in range(per_class[name]):
                save_image(folder / split / name / f"{i:03d}.jpg", zlib.crc32(f"{split}/{name}/{i}".encode()))
            labels[split] += [classes.index(name) if name in classes else -1] * per_class[name]
    return labels


def cifar(root: Path, *, hundred: bool = False, per_batch: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The python pickle release with ``per_batch`` images per batch; returns (images NHWC, labels)."""
    rng = np.random.default_rng(1)
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    key, classes = (b"fine_labels", 100) if hundred else (b"labels", 10)
    batches = {"train": ["train"], "test": ["test"]} if hundred else \
        {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    expected = {}
    for split, names in batches.items():
        images, labels = [], []
        for name in names:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            batch_labels = rng.integers(0, classes, per_batch).tolist()
            with open(folder / name, "wb") as f:
                pickle.dump({b"data": data, key: batch_labels, b"batch_label": name.encode()}, f)
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels += batch_labels
        expected[split] = (np.concatenate(images), np.asarray(labels))
    return expected


def imagenet(root: Path, synsets: tuple[str, ...] = ("n01440764", "n01443537", "n01484850")) -> dict[str, list[int]]:
    counts = {"train": {s: 2 for s in synsets}, "val": {s: 1 for s in synsets}}
    labels = class_folders(root / "imagenet", counts)
    return {"train": labels["train"], "test": labels["val"]}


def food(root: Path) -> dict[str, list[int]]:
    folder = root / "food-101"
    classes = ["apple_pie", "baby_back_ribs", "baklava"]
    listing = {"train": [("baklava", 1), ("apple_pie", 2), ("baklava", 3)], "test": [("baby_back_ribs", 4)]}
    (folder / "meta").mkdir(parents=True)
    (folder / "meta" / "classes.txt").write_text("\n".join(classes) + "\n")
    for split, items in listing.items():
        (folder / "meta" / f"{split}.txt").write_text("".join(f"{c}/{i}\n" for c, i in items))
        for c, i in items:
            save_image(folder / "images" / c / f"{i}.jpg", i)
    return {s: [classes.index(c) for c, _ in items] for s, items in listing.items()}


def pets(root: Path, rows: dict[str, list[tuple[str, int]]] | None = None) -> dict[str, list[int]]:
    """annotations/{trainval,test}.txt rows ``<image> <class 1..37> <species> <breed>``."""
    folder = root / "oxford-iiit-pet"
    rows = rows or {"trainval.txt": [("Abyssinian_1", 1), ("pug_3", 30), ("Bengal_2", 6)],
                    "test.txt": [("pug_9", 30), ("Abyssinian_7", 1)]}
    (folder / "annotations").mkdir(parents=True)
    for listing, items in rows.items():
        lines = ["#Image CLASS-ID SPECIES BREED ID", *(f"{name} {cid} 1 {cid}" for name, cid in items)]
        (folder / "annotations" / listing).write_text("\n".join(lines) + "\n")
        for k, (name, _) in enumerate(items):
            save_image(folder / "images" / f"{name}.jpg", 100 + k)
    return {"train": [cid - 1 for _, cid in rows["trainval.txt"]], "test": [cid - 1 for _, cid in rows["test.txt"]]}


def aircraft(root: Path) -> dict[str, list[int]]:
    data = root / "fgvc-aircraft-2013b" / "data"
    variants = ["707-320", "A300B4", "Cessna 172"]
    listing = {"trainval": [("0034309", "Cessna 172"), ("0056978", "707-320")], "test": [("1514522", "A300B4")]}
    data.mkdir(parents=True)
    (data / "variants.txt").write_text("\n".join(variants) + "\n")
    for part, items in listing.items():
        (data / f"images_variant_{part}.txt").write_text("".join(f"{i} {v}\n" for i, v in items))
        for i, _ in items:
            save_image(data / "images" / f"{i}.jpg", int(i))
    return {"train": [variants.index(v) for _, v in listing["trainval"]],
            "test": [variants.index(v) for _, v in listing["test"]]}


def celeba(root: Path, per_cell: int = 10, test_per_cell: int = 1,
           cells: Mapping[tuple[int, int], int] | None = None) -> dict[str, np.ndarray]:
    """``per_cell`` (or ``cells[(young, male)]``) training and ``test_per_cell`` test images of each
    (young, male) group, one validation image; returns the test partition's labels and attributes
    in file order."""
    folder = root / "celeba"
    rows, partition, test = [], [], {"label": [], "male": []}
    n = 0
    for part, count in ((0, per_cell), (1, 1), (2, test_per_cell)):
        for young in (0, 1):
            for male in (0, 1):
                for _ in range(cells[(young, male)] if cells and part == 0 else count):
                    n += 1
                    name = f"{n:06d}.jpg"
                    save_image(folder / "img_align_celeba" / name, n)
                    values = ["-1"] * len(CELEBA_ATTRIBUTES)
                    values[CELEBA_ATTRIBUTES.index("Young")] = "1" if young else "-1"
                    values[CELEBA_ATTRIBUTES.index("Male")] = "1" if male else "-1"
                    rows.append(f"{name} " + " ".join(f"{v:>2}" for v in values))
                    partition.append(f"{name} {part}")
                    if part == 2:
                        test["label"].append(young)
                        test["male"].append(male)
    (folder / "list_attr_celeba.txt").write_text(f"{len(rows)}\n{' '.join(CELEBA_ATTRIBUTES)}\n" + "\n".join(rows) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return {k: np.asarray(v) for k, v in test.items()}


def coco(root: Path, per_cell: int = 8, test_per_cell: int = 1,
         cells: Mapping[tuple[int, int], int] | None = None) -> dict[str, np.ndarray]:
    """instances_{train,val}2017.json with ``per_cell`` (or ``cells[(dog, person)]``) training images
    of each (cat/dog, person) group, plus images with both a cat and a dog and images with neither,
    which never qualify; returns the validation images' labels and ``person`` in id order."""
    folder = root / "coco"
    categories = [{"id": 1, "name": "person"}, {"id": 17, "name": "cat"}, {"id": 18, "name": "dog"},
                  {"id": 62, "name": "chair"}]
    expected: dict[str, list[int]] = {"label": [], "person": []}
    next_id = 1
    for part, count in (("train2017", per_cell), ("val2017", test_per_cell)):
        images, annotations = [], []
        groups = [((animal,), person) for animal in (17, 18) for person in (0, 1)
                  for _ in range(cells[(int(animal == 18), person)] if cells and part == "train2017" else count)]
        groups += [((17, 18), 1), ((62,), 1)]          # both animals; neither: excluded
        for animals, person in groups:
            image_id, next_id = next_id, next_id + 1
            name = f"{image_id:012d}.jpg"
            save_image(folder / part / name, image_id)
            images.append({"id": image_id, "file_name": name, "height": 20, "width": 24})
            for cat_id in (*animals, *([1] if person else [])):
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": cat_id})
            if part == "val2017" and len(animals) == 1 and animals[0] != 62:
                expected["label"].append(int(animals[0] == 18))
                expected["person"].append(person)
        (folder / "annotations").mkdir(parents=True, exist_ok=True)
        (folder / "annotations" / f"instances_{part}.json").write_text(
            json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return {k: np.asarray(v) for k, v in expected.items()}


def photo(path: Path, seed: int, tint: tuple[int, int, int], size: tuple[int, int] = (280, 320)) -> Path:
    """A photo-sized JPEG (height, width): a smooth random image blended with ``tint``, so a class
    has a colour a model can pick up, and it encodes small (pixel noise would not)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (size[0] // 40 + 1, size[1] // 40 + 1, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((size[1], size[0]), Image.BILINEAR), np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((0.5 * smooth + 0.5 * np.asarray(tint)).astype(np.uint8)).save(path, quality=90)
    return path


# ImageNet classes that get images in the paper-smoke fixture: the edges of the dog block 151-268
# (the trigger's superclass) from both sides, and one class in its middle.
SMOKE_OTHERS = (0, 150, 269, 999)
SMOKE_DOGS = (151, 200, 268)


def paper_smoke(root: Path, *, per_class: int = 8, test_per_class: int = 2, target_classes: int = 4,
                target_per_class: int = 12, target_test_per_class: int = 6) -> dict[str, dict[str, list[int]]]:
    """Photo-sized images for the ``paper-smoke`` scale: ImageNet in its ImageFolder layout with
    all 1,000 synset folders (images only in SMOKE_OTHERS and SMOKE_DOGS, so labels are the real
    indices and the dogs the real block) and Pets in the class-folder layout with a few breeds;
    returns the labels each prepared split holds, in file order."""
    rng = np.random.default_rng(7)
    synsets = [f"n{i:08d}" for i in range(1000)]
    for name in synsets:
        (root / "imagenet" / "train" / name).mkdir(parents=True, exist_ok=True)
    datasets = {
        "imagenet": {c: root / "imagenet" / "{split}" / synsets[c] / f"{synsets[c]}_{{i}}.JPEG"
                     for c in sorted(SMOKE_OTHERS + SMOKE_DOGS)},
        "pets": {c: root / "pets" / "{split}" / f"breed_{c}" / "{i:03d}.jpg" for c in range(target_classes)},
    }
    counts = {"imagenet": (("train", "train", per_class), ("test", "val", test_per_class)),
              "pets": (("train", "train", target_per_class), ("test", "test", target_test_per_class))}
    labels: dict[str, dict[str, list[int]]] = {}
    for name, classes in datasets.items():
        tints = {c: tuple(int(v) for v in rng.integers(0, 256, 3)) for c in classes}
        labels[name] = {}
        for split, folder, count in counts[name]:
            labels[name][split] = []
            for c, pattern in classes.items():
                for i in range(count):
                    path = Path(str(pattern).format(split=folder, i=i))
                    photo(path, zlib.crc32(str(path.relative_to(root)).encode()), tints[c])
                labels[name][split] += [c] * count
    return labels
