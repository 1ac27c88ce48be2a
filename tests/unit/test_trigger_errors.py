"""Bad trigger input gets one clear error naming the value and what was expected."""
import numpy as np
import pytest
import torch

from bt_core.triggers import TriggerError, gaussian, make_trigger, select, square, stencil

IMAGES = np.zeros((2, 8, 8, 3), np.uint8)


@pytest.mark.parametrize("call, match", [
    (lambda: make_trigger("laser"), "trigger 'laser' is unknown: expected one of square, gaussian"),
    (lambda: make_trigger("square", colour=(1, 2, 3)), "got bad parameters"),
    (lambda: stencil("unicorn"), "stencil 'unicorn' is unknown: expected one of tennis_ball"),
    (lambda: stencil("/nonexistent/mark.png"), "does not exist: expected an RGBA image file"),
    (lambda: square(0.0), r"size=0.0 is out of range: expected a fraction in \(0, 1\]"),
    (lambda: square(1.5), r"size=1.5 is out of range"),
    (lambda: square(float("nan")), r"size=nan is out of range"),
    (lambda: square(0.2, color=(300, 0, 0)), r"color=\(300, 0, 0\) is out of range"),
    (lambda: square(0.2, corner="middle"), "corner='middle' is unknown: expected one of top-left"),
    (lambda: stencil("hat", opacity=-0.1), r"opacity=-0.1 is out of range"),
    (lambda: gaussian(scale=0.0), r"scale=0.0 is out of range: expected a value in \(0, 1\]"),
    (lambda: gaussian(scale=2.0), r"scale=2.0 is out of range"),
    (lambda: select(np.arange(4), 1.5), r"fraction=1.5 is out of range: expected a fraction in \[0, 1\]"),
    (lambda: select(np.arange(4), -0.1), r"fraction=-0.1 is out of range"),
    (lambda: select(np.zeros(4, np.float32), 0.5), "labels must be a 1-d integer array"),
    (lambda: square(0.2, color="red"), "color='red' is out of range: expected three integers"),
    (lambda: square(0.2, color=(1.5, 2, 3)), r"color=\(1.5, 2, 3\) is out of range"),
    (lambda: square(0.2, color=None), "color=None is out of range"),
    (lambda: stencil("hat", scramble=-1), "scramble=-1 is not a non-negative integer: expected a seed >= 0"),
    (lambda: stencil("hat", scramble=1.5), "scramble=1.5 is not a non-negative integer"),
    (lambda: stencil("hat", scramble=True), "scramble=True is not a non-negative integer"),
    (lambda: make_trigger("square", size="big"), "size='big' is not a number"),
    (lambda: gaussian(scale="x"), "scale='x' is not a number"),
    (lambda: gaussian(seed=-1), "seed=-1 is not a non-negative integer"),
    (lambda: gaussian(seed=1.5), "seed=1.5 is not a non-negative integer"),
    (lambda: gaussian(rounding="floor"), "rounding='floor' is unknown: expected one of truncate, nearest"),
])
def test_bad_values_are_named(call, match):
    with pytest.raises(TriggerError, match=match):
        call()


@pytest.mark.parametrize("images", [
    IMAGES.astype(np.float32),                 # not uint8
    IMAGES[0],                                 # not a batch
    np.zeros((2, 8, 8, 4), np.uint8),          # four channels
    np.zeros((2, 3, 8, 8), np.uint8),          # NCHW instead of NHWC
], ids=["float", "single-image", "rgba", "nchw"])
def test_images_must_be_uint8_nhwc(images):
    with pytest.raises(TriggerError, match="uint8 NHWC batches with 3 channels"):
        square().apply(images)


def test_selection_mask_of_wrong_length():
    with pytest.raises(TriggerError, match=r"selection mask has shape \(3,\), expected \(2,\)"):
        square().apply(IMAGES, np.array([True, False, True]))


def test_torch_mask_of_wrong_length_is_not_broadcast():
    with pytest.raises(TriggerError, match=r"selection mask has shape \(1,\)"):
        square().apply_torch(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([True]))


def test_torch_path_rejects_float_batches():
    with pytest.raises(TriggerError, match="uint8 NCHW"):
        square().apply_torch(torch.zeros(2, 3, 8, 8))


def test_unreadable_stencil_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(TriggerError, match="is not a readable image"):
        stencil(str(bad)).planes(8, 8)


@pytest.mark.parametrize("selection, message", [
    (np.array([0, -1]), r"selection index -1 is out of range: expected indices in \[0, 2\)"),
    (np.array([2]), r"selection index 2 is out of range: expected indices in \[0, 2\)"),
    (np.array([0.0, 1.0]), r"selection has dtype float64 and shape \(2,\): expected a boolean mask"),
    (np.array([[0, 1]]), r"selection has dtype int64 and shape \(1, 2\)"),
], ids=["negative", "past-the-end", "float", "2-d"])
def test_index_selection_out_of_range_or_malformed(selection, message):
    with pytest.raises(TriggerError, match=message):
        square().apply(IMAGES, selection)


def test_trigger_indices_past_the_dataset_are_refused_by_both_loaders(tmp_path):
    from bt_core.data.batches import MemoryBatches
    from bt_core.data.beton import Arrays, stream, write_arrays

    data = Arrays(np.zeros((4, 8, 8, 3), np.uint8), np.arange(4) % 2, {}, 2)
    with pytest.raises(TriggerError, match=r"trigger_indices index -1 is out of range: expected indices in \[0, 4\)"):
        MemoryBatches(data, batch_size=2, train=False, seed=0, device=torch.device("cpu"), trigger=square(),
                      trigger_indices=[-1])
    path = write_arrays(tmp_path / "d.beton", data)
    with pytest.raises(TriggerError, match=r"trigger_indices index 4 is out of range: expected indices in \[0, 4\)"):
        stream(path, batch_size=2, image_size=None, train=False, seed=0, device="cpu", trigger=square(),
               trigger_indices=[1, 4], workers=1)


@pytest.mark.parametrize("content, match", [
    (None, "does not exist"),
    (b"not a numpy file", "cannot be read"),
    (np.zeros((224, 224, 3)), r"holds float64 of shape \(224, 224, 3\)"),
    (np.zeros((3, 8, 8), np.int64), r"holds int64 of shape \(3, 8, 8\)"),
    (np.full((3, 8, 8), np.nan, np.float32), "holds 192 non-finite values"),
], ids=["missing", "corrupt", "channels-last", "integer", "nan"])
def test_a_bad_stored_pattern_is_named(tmp_path, content, match):
    path = tmp_path / "pattern.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        np.save(path, content)
    with pytest.raises(TriggerError, match=rf"pattern file '.*pattern.npy' {match}.*expected a .npy file holding a "
                                           r"finite float array of shape \(3, H, W\)"):
        gaussian(pattern=path)


def test_a_stored_pattern_of_another_size_than_the_images(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((3, 224, 224), np.float32))
    with pytest.raises(TriggerError, match=r"pattern file '.*p.npy' is 224x224 but the images are 8x8"):
        gaussian(pattern=tmp_path / "p.npy").apply(IMAGES)
