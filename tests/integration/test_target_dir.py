"""``--bt-target-dir``: an ImageFolder tree or a prepared .beton pair becomes the target the cases
read, converted once into the cache (again when the tree changes), at the mini scale's 32 px."""
import numpy as np
import pytest
from PIL import Image

from bt_core.cache import Cache
from bt_core.config import get_scale
from bt_core.data import target_dir
from bt_core.data.beton import Arrays, read_arrays, read_meta, write_arrays, write_beton
from bt_core.errors import DataError
from bt_core.experiment import Context
from tests.helpers import REPO


def _tree(root, n=3, size=(40, 24)):
    for split in ("train", "test"):
        for c, colour in (("cat", 200), ("dog", 50)):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(np.full((*size, 3), colour, np.uint8)).save(root / split / c / f"{i}.png")


def _ctx(tmp_path, root):
    return Context(get_scale("mini"), Cache(tmp_path / "cache"), target_dir=root)


def test_an_image_folder_tree_is_converted_once_at_32_px(tmp_path):
    root = tmp_path / "mine"
    _tree(root)
    ctx = _ctx(tmp_path, root)
    path = ctx.dataset(target_dir.NAME, "train", seed=0)
    data = read_arrays(path)
    assert data.images.shape == (6, 32, 32, 3) and list(data.labels) == [0, 0, 0, 1, 1, 1]
    assert data.images[0].mean() == pytest.approx(200) and read_meta(path)["info"]["classes"] == ["cat", "dog"]
    assert ctx.dataset(target_dir.NAME, "train", seed=3) == path          # no seed: the data are the user's
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "train" / "dog" / "new.png")
    assert ctx.dataset(target_dir.NAME, "train", seed=0) == path          # the tree is listed once a run
    target_dir._listing.cache_clear()                                     # the next run
    assert ctx.dataset(target_dir.NAME, "train", seed=0) != path          # an edited tree is converted again


def test_a_prepared_pair_is_read_as_it_is(tmp_path):
    root = tmp_path / "mine"
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        write_arrays(root / f"{split}.beton", Arrays(rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
                                                     np.array([0, 1, 2, 0]), {}, 3))
    path = _ctx(tmp_path, root).dataset(target_dir.NAME, "test", seed=0)
    assert read_meta(path)["num_classes"] == 3
    assert np.array_equal(read_arrays(path).images, read_arrays(root / "test.beton").images)


def test_a_jpeg_pair_at_the_mini_scale_says_what_to_give_instead(tmp_path):
    root = tmp_path / "mine"
    images = np.zeros((2, 64, 64, 3), np.uint8)
    for split in ("train", "test"):
        write_beton(root / f"{split}.beton", Arrays(images, np.array([0, 1]), {}, 2), num_classes=2, jpeg=True)
    with pytest.raises(DataError, match="holds JPEG images, which the mini scale does not crop: give the image "
                                        "folders instead"):
        _ctx(tmp_path, root).dataset(target_dir.NAME, "train", seed=0)


def test_a_tree_with_an_unreadable_image_names_it(tmp_path):
    root = tmp_path / "mine"
    _tree(root)
    (root / "train" / "cat" / "9.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="image file '.*9.png' cannot be decoded"):
        _ctx(tmp_path, root).dataset(target_dir.NAME, "train", seed=0)


def _bad_tree(root, damage):
    _tree(root)
    if damage == "one class":
        for split in ("train", "test"):
            for f in (root / split / "dog").iterdir():
                f.unlink()
            (root / split / "dog").rmdir()
    elif damage == "empty class":
        for f in (root / "test" / "dog").iterdir():
            f.unlink()
    elif damage == "truncated":
        path = root / "test" / "dog" / "2.png"
        path.write_bytes(path.read_bytes()[:40])
    elif damage == "no test":
        for f in (root / "test").rglob("*.png"):
            f.unlink()
        for d in (root / "test").iterdir():
            d.rmdir()
        (root / "test").rmdir()


@pytest.mark.parametrize("damage, message", [
    ("one class", r"target folder '.*mine/train' has 1 class folder: expected at least 2"),
    ("empty class", r"class folder '.*mine/test/dog' holds no image files"),
    ("truncated", r"image file '.*mine/test/dog/2.png' cannot be decoded"),
    ("no test", r"folder '.*mine/test' does not exist"),
])
def test_a_bad_tree_is_one_error_naming_the_file_before_anything_is_trained(tmp_path, damage, message):
    root = tmp_path / "mine"
    _bad_tree(root, damage)
    with pytest.raises(DataError, match=message):
        target_dir.validate(root)


def test_a_pair_with_labels_out_of_range_or_one_class_is_refused(tmp_path):
    root = tmp_path / "mine"
    images = np.zeros((3, 32, 32, 3), np.uint8)
    write_arrays(root / "train.beton", Arrays(images, np.array([0, 1, 1]), {}, 2))
    write_arrays(root / "test.beton", Arrays(images, np.array([0, 1, 4]), {}, 2))
    with pytest.raises(DataError, match=r"label 4 in '.*test.beton' is outside the class range \[0, 2\)"):
        target_dir.validate(root)
    write_arrays(root / "test.beton", Arrays(images, np.array([0, 0, 0]), {}, 1))
    with pytest.raises(DataError, match=r"target '.*test.beton' has 1 class: expected at least 2"):
        target_dir.validate(root)


def test_the_run_stops_at_a_bad_target_with_one_line_and_a_usage_error(tmp_path):
    import subprocess
    import sys

    root = tmp_path / "mine"
    _bad_tree(root, "truncated")
    proc = subprocess.run([sys.executable, "-m", "benchmark", "audit", "--target-dir", str(root), "--seeds", "2",
                           "--output", str(tmp_path / "out"), "--cache", str(tmp_path / "c")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ERROR: image file" in proc.stderr and "2.png' cannot be decoded" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and not (tmp_path / "c" / "transfer").exists()
