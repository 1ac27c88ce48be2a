"""A .beton is written reproducibly and read back exactly through FFCV; a missing, truncated or
sidecar-less one is one clear error."""
import os

import numpy as np
import pytest

from bt_core.data.beton import Arrays, read_arrays, read_meta, write_arrays
from bt_core.errors import DataError


def _tiny():
    rng = np.random.default_rng(0)
    return Arrays(rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8), np.arange(64) % 2, {}, 2)


def test_missing_truncated_and_sidecar_less_betons(tmp_path):
    with pytest.raises(DataError, match="does not exist: expected a .beton"):
        read_meta(tmp_path / "nope.beton")
    path = write_arrays(tmp_path / "d.beton", _tiny())
    read_meta(path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 100)
    with pytest.raises(DataError, match="is truncated or altered: it has .* bytes, expected"):
        read_arrays(path)
    os.remove(str(path) + ".json")
    with pytest.raises(DataError, match="has no sidecar"):
        read_meta(path)


def test_same_data_same_bytes(tmp_path):
    a = write_arrays(tmp_path / "a.beton", _tiny())
    b = write_arrays(tmp_path / "b.beton", _tiny())
    assert a.read_bytes() == b.read_bytes()


def test_raw_decode_is_exact_and_leaves_ffcv_compiling(tmp_path):
    """Raw images decode through an interpreted FFCV pipeline; the bytes must be the written ones,
    and pipelines built afterwards (the paper scale's streaming loaders) must be compiled again."""
    from ffcv.pipeline.compiler import Compiler

    data = _tiny()
    back = read_arrays(write_arrays(tmp_path / "a.beton", data))
    assert np.array_equal(back.images, data.images) and np.array_equal(back.labels, data.labels)
    assert Compiler.is_enabled
