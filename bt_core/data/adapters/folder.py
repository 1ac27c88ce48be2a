"""Any transfer target stored one folder per class: ``<root>/{train,test}/<class>/*.jpg``.

This is how the authors distribute their transfer datasets (and what torchvision's ImageFolder
reads); class indices follow the sorted class-folder names of ``train/``.
"""
from __future__ import annotations

from pathlib import Path

from .common import ImageFiles, Split, scan_classes

LAYOUT = "<name>/{train,test}/<class>/*.jpg (one folder per class)"


def class_folders(folder: Path, name: str) -> dict[str, Split]:
    """``<name>/train`` and ``<name>/test`` as JPEG with longest side 256."""
    layout = LAYOUT.replace("<name>", name)
    files, labels, classes = scan_classes(folder, "train", layout)
    test_files, test_labels, _ = scan_classes(folder, "test", layout, classes)
    info = {"adapter": "class_folders", "classes": classes}
    return {f"{name}/train": Split(ImageFiles(files, labels), len(classes), info=info),
            f"{name}/test": Split(ImageFiles(test_files, test_labels), len(classes), info=info)}
