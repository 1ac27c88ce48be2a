"""The trigger inside FFCV's Loader gives exactly the numpy kernel's output, sample by sample, and
the gaussian pattern exactly the authors' arithmetic."""
import numpy as np
import pytest
import torch

from bt_core.data.beton import Arrays, stream, write_arrays
from bt_core.triggers import gaussian, square, stencil

pytestmark = [pytest.mark.property, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def beton(tmp_path_factory):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (96, 24, 24, 3), dtype=np.uint8)
    labels = rng.integers(0, 4, 96)
    path = write_arrays(tmp_path_factory.mktemp("ffcv") / "t.beton", Arrays(images, labels, {}, 4))
    return path, images


@pytest.mark.parametrize("trigger", [square(0.25), gaussian(0.05, seed=3), stencil("hat", size=0.6)],
                         ids=["square", "gaussian", "hat"])
@pytest.mark.parametrize("subset", [True, False], ids=["some-indices", "all"])
def test_loader_operation_equals_numpy_kernel(beton, trigger, subset):
    path, images = beton
    chosen = np.arange(0, len(images), 3) if subset else None
    loader = stream(path, batch_size=32, image_size=None, train=False, seed=0, device=torch.device("cpu"),
                    trigger=trigger, trigger_indices=chosen, workers=1)
    got = torch.cat([x.clone() for x, *_ in loader]).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(got, trigger.apply(images, chosen))


def test_loader_adds_a_stored_pattern_as_the_authors_do(beton, tmp_path):
    path, images = beton
    stored = np.random.default_rng(5).standard_normal((3, 24, 24)).astype(np.float32)
    np.save(tmp_path / "pattern.npy", stored)
    loader = stream(path, batch_size=32, image_size=None, train=False, seed=0, device=torch.device("cpu"),
                    trigger=gaussian(0.05, pattern=tmp_path / "pattern.npy"), trigger_indices=None, workers=1)
    got = torch.cat([x.clone() for x, *_ in loader]).permute(0, 2, 3, 1).numpy()
    added = stored.transpose(1, 2, 0).astype(np.float64) * 255.0 * 0.05
    np.testing.assert_array_equal(got, np.clip(images + added, 0, 255).astype(np.uint8))
