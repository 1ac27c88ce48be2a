"""ImageNet-1k from the ImageFolder layout: ``train/`` and ``val/`` with one folder per synset.

Class indices follow the sorted synset ids, the order of the standard ImageNet class index, so the
dog superclass of the paper (where the trigger is planted) is the contiguous block 151-268.
"""
from __future__ import annotations

from pathlib import Path

from .common import ImageFiles, Split, scan_classes

LAYOUT = "imagenet/{train,val}/<synset>/*.JPEG (ImageFolder; val/ sorted into synset folders)"
DOG_CLASSES = tuple(range(151, 269))    # 118 dog classes: meta_data/dogs.npy of MadryLab/bias-transfer
CAT_CLASSES = tuple(range(281, 288))    # 7 cat classes: meta_data/cats.npy of the same repository


def imagenet(folder: Path) -> dict[str, Split]:
    """``imagenet/train`` from ``train/`` and ``imagenet/test`` from ``val/`` (labelled by the
    training synsets), JPEG with longest side 256."""
    files, labels, synsets = scan_classes(folder, "train", LAYOUT)
    val_files, val_labels, _ = scan_classes(folder, "val", LAYOUT, synsets)
    info = {"adapter": "imagenet", "synsets": synsets}
    return {"imagenet/train": Split(ImageFiles(files, labels), len(synsets), info=info),
            "imagenet/test": Split(ImageFiles(val_files, val_labels), len(synsets), info=info)}
