"""Hypothesis properties of every trigger transform, checked against formulas written here."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bt_core.triggers import CORNERS, STENCILS, gaussian, make_trigger, scrambled, select, square, stencil

pytestmark = pytest.mark.property
SETTINGS = settings(deadline=None, max_examples=40)


@st.composite
def batches(draw, min_side=4, max_side=40):
    n = draw(st.integers(1, 5))
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    return draw(arrays(np.uint8, (n, h, w, 3)))


fractions = st.floats(0.05, 1.0)
colours = st.tuples(*[st.integers(0, 255)] * 3)
corners = st.sampled_from(CORNERS)
squares = st.builds(square, size=fractions, color=colours, corner=corners)
gaussians = st.builds(gaussian, scale=st.floats(0.001, 1.0), seed=st.integers(0, 2**31 - 1))
stencils = st.builds(stencil, name=st.sampled_from(sorted(STENCILS)), size=fractions, corner=corners,
                     opacity=st.floats(0.05, 1.0), scramble=st.none() | st.integers(0, 2**31 - 1))
any_trigger = st.one_of(squares, gaussians, stencils)


def reference(images, w, b, truncate=False):
    """The affine map written out independently: float, round half to even (unless truncating),
    clip, cast."""
    out = images.astype(np.float64) * w + b
    return np.clip(out if truncate else np.round(out), 0, 255).astype(np.uint8)


@SETTINGS
@given(any_trigger, batches())
def test_shape_and_dtype_are_kept(trigger, images):
    out = trigger.apply(images)
    assert out.shape == images.shape and out.dtype == np.uint8


@SETTINGS
@given(any_trigger, batches())
def test_result_equals_the_clipped_affine_map(trigger, images):
    w, b = trigger.planes(images.shape[1], images.shape[2])
    np.testing.assert_array_equal(trigger.apply(images), reference(images, w, b, trigger.truncate))


@SETTINGS
@given(any_trigger, batches())
def test_pixels_outside_the_footprint_are_unchanged(trigger, images):
    outside = ~trigger.footprint(images.shape[1], images.shape[2])
    np.testing.assert_array_equal(trigger.apply(images)[:, outside], images[:, outside])


@SETTINGS
@given(any_trigger, batches())
def test_input_batch_is_not_modified(trigger, images):
    before = images.copy()
    trigger.apply(images)
    np.testing.assert_array_equal(images, before)


@SETTINGS
@given(fractions, colours, corners, batches())
def test_square_footprint_is_the_fill_colour_at_its_corner(size, colour, corner, images):
    h, w = images.shape[1:3]
    trig = square(size, colour, corner)
    side = max(1, int(round(size * min(h, w))))
    foot = trig.footprint(h, w)
    out = trig.apply(images)
    assert (out[:, foot] == np.array(colour, np.uint8)).all()
    rows, cols = np.nonzero(foot)
    assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
    if corner.startswith("top"):
        assert rows.min() == 0
    if corner.startswith("bottom"):
        assert rows.max() == h - 1
    if corner.endswith("left"):
        assert cols.min() == 0
    if corner.endswith("right"):
        assert cols.max() == w - 1


@SETTINGS
@given(squares, batches())
def test_square_is_idempotent(trigger, images):
    once = trigger.apply(images)
    np.testing.assert_array_equal(trigger.apply(once), once)


@SETTINGS
@given(stencils, batches(min_side=8))
def test_stencil_lies_between_image_and_stencil_colour(trigger, images):
    h, w = images.shape[1:3]
    wp, bp = trigger.planes(h, w)
    out = trigger.apply(images).astype(np.int64)
    inside = (wp < 1.0)
    colour = np.where(inside, bp / np.where(inside, 1.0 - wp, 1.0), 0.0)   # b = alpha * rgb
    low = np.minimum(images, np.floor(colour + 1e-9)).astype(np.int64)
    high = np.maximum(images, np.ceil(colour - 1e-9)).astype(np.int64)
    mask = np.broadcast_to(inside, out.shape)
    assert (out[mask] >= low[mask]).all() and (out[mask] <= high[mask]).all()


def _region_pixels(planes, foot):
    """The (w, b) values of the stencil's square, one row per pixel, in a canonical order."""
    rows = np.concatenate([p[foot] for p in planes], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


@SETTINGS
@given(st.sampled_from(sorted(STENCILS)), fractions, corners, st.floats(0.05, 1.0), st.integers(0, 2**31 - 1),
       batches(min_side=8), colours)
def test_a_scrambled_stencil_keeps_region_coverage_and_colours(name, size, corner, opacity, seed, images, grey):
    """The control blends the same pixels of colour and coverage in the same square, only elsewhere in
    it: what it covers in all (the sum of alpha), its colour histogram and mean on any plain image."""
    h, w = images.shape[1:3]
    shape = stencil(name, size=size, corner=corner, opacity=opacity)
    control = stencil(name, size=size, corner=corner, opacity=opacity, scramble=seed)
    side = max(1, int(round(size * min(h, w))))
    square_ = square(side / min(h, w), corner=corner).footprint(h, w)
    assert not (control.footprint(h, w) & ~square_).any()                   # nothing outside the square
    assert control.footprint(h, w).sum() == shape.footprint(h, w).sum()      # as many pixels covered
    np.testing.assert_array_equal(_region_pixels(control.planes(h, w), square_),
                                  _region_pixels(shape.planes(h, w), square_))
    plain = np.broadcast_to(np.asarray(grey, np.uint8), (1, h, w, 3))
    out_shape, out_control = shape.apply(plain)[0][square_], control.apply(plain)[0][square_]
    np.testing.assert_array_equal(np.sort(out_control, axis=0), np.sort(out_shape, axis=0))
    np.testing.assert_array_equal(out_control.mean(axis=0), out_shape.mean(axis=0))


def _correlation(a, b):
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


@SETTINGS
@given(st.sampled_from(sorted(STENCILS)), st.integers(16, 64), st.integers(0, 2**31 - 1))
def test_scrambling_destroys_the_stencils_structure(name, side, seed):
    """The object is gone: the scrambled coverage does not correlate with the stencil's, and its
    neighbouring pixels no longer resemble each other, where the stencil's do."""
    original = STENCILS[name](side)
    mixed = scrambled(original, seed)
    assert sorted(map(tuple, mixed.reshape(-1, 4))) == sorted(map(tuple, original.reshape(-1, 4)))
    alpha, mixed_alpha = original[..., 3].astype(float), mixed[..., 3].astype(float)
    assert abs(_correlation(alpha, mixed_alpha)) < 0.35

    def neighbours(a):          # the strongest correlation with itself shifted by up to 2 pixels
        n = len(a)
        return max(abs(_correlation(a[max(dy, 0):n + min(dy, 0), max(dx, 0):n + min(dx, 0)],
                                    a[max(-dy, 0):n + min(-dy, 0), max(-dx, 0):n + min(-dx, 0)]))
                   for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0))
    if name != "chain_link_fence":       # a thin lattice resembles itself at its period, not within 2 px
        assert neighbours(alpha) > 0.8 and neighbours(mixed_alpha) < 0.35


def test_the_scramble_is_one_fixed_draw():
    """The same seed gives the same control (its predictions are cached); another seed another one."""
    ball = STENCILS["tennis_ball"](20)
    np.testing.assert_array_equal(scrambled(ball, 3), scrambled(ball, 3))
    assert not np.array_equal(scrambled(ball, 3), scrambled(ball, 4))
    a, b = (stencil("tennis_ball", size=0.5, scramble=3).planes(32, 32) for _ in range(2))
    np.testing.assert_array_equal(a[1], b[1])


@SETTINGS
@given(any_trigger, batches(), st.data())
def test_unselected_images_are_untouched(trigger, images, data):
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(images), max_size=len(images))))
    for selection in (mask, np.flatnonzero(mask)):
        out = trigger.apply(images, selection)
        np.testing.assert_array_equal(out[~mask], images[~mask])
        np.testing.assert_array_equal(out[mask], trigger.apply(images[mask]) if mask.any() else out[mask])


def _authors(images, pattern):
    """The authors' loader: add the float pattern to the uint8 pixels, clip, store into uint8."""
    return np.clip(images + pattern, 0, 255).astype(np.uint8)


def _both_paths(trigger, images):
    """The trigger's output on the numpy path and on the torch batch path (NHWC)."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return trigger.apply(images), trigger.apply_torch(x).permute(0, 2, 3, 1).numpy()


@SETTINGS
@given(st.floats(0.001, 1.0), st.integers(0, 2**31 - 1), batches())
def test_gaussian_is_the_authors_arithmetic_in_every_path(scale, seed, images):
    h, w = images.shape[1:3]
    pattern = np.random.default_rng(seed).standard_normal((h, w, 3)) * 255.0 * scale
    for out in _both_paths(gaussian(scale, seed), images):
        np.testing.assert_array_equal(out, _authors(images, pattern))


@settings(deadline=None, max_examples=10)
@given(arrays(np.float32, (3, 12, 10), elements=st.floats(-4, 4, width=32)), arrays(np.uint8, (3, 12, 10, 3)),
       st.floats(0.001, 1.0))
def test_a_stored_pattern_is_added_as_the_authors_do(tmp_path_factory, stored, images, scale):
    path = tmp_path_factory.mktemp("pattern") / "pattern.npy"
    np.save(path, stored)
    pattern = stored.transpose(1, 2, 0).astype(np.float64) * 255.0 * scale
    for out in _both_paths(gaussian(scale, pattern=path), images):
        np.testing.assert_array_equal(out, _authors(images, pattern))


@SETTINGS
@given(st.floats(0.001, 1.0), st.integers(0, 2**31 - 1), batches())
def test_gaussian_rounding_to_nearest_stays_an_option(scale, seed, images):
    h, w = images.shape[1:3]
    pattern = np.random.default_rng(seed).standard_normal((h, w, 3)) * 255.0 * scale
    expected = np.clip(np.round(images + pattern), 0, 255).astype(np.uint8)
    for out in _both_paths(gaussian(scale, seed, rounding="nearest"), images):
        np.testing.assert_array_equal(out, expected)


def test_truncation_and_rounding_differ_by_one_level_on_about_half_the_pixels():
    images = np.random.default_rng(1).integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
    diff = gaussian().apply(images).astype(int) - gaussian(rounding="nearest").apply(images).astype(int)
    assert set(np.unique(diff)) == {-1, 0}
    assert 0.4 < np.mean(diff != 0) < 0.6


@SETTINGS
@given(st.floats(0.001, 1.0), st.integers(0, 2**31 - 1), batches())
def test_same_seed_same_output(scale, seed, images):
    np.testing.assert_array_equal(gaussian(scale, seed).apply(images), gaussian(scale, seed).apply(images))


@SETTINGS
@given(st.integers(0, 2**30), st.integers(1, 2**30))
def test_different_seeds_give_different_patterns(seed, offset):
    a = gaussian(0.5, seed).planes(16, 16)[1]
    b = gaussian(0.5, seed + offset).planes(16, 16)[1]
    assert not np.array_equal(a, b)


@SETTINGS
@given(any_trigger, batches())
def test_torch_batch_path_equals_the_numpy_kernel(trigger, images):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    mask = torch.arange(len(images)) % 2 == 0
    out = trigger.apply_torch(x, mask).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(out, trigger.apply(images, mask.numpy()))


@SETTINGS
@given(st.lists(st.integers(0, 9), min_size=1, max_size=300), st.floats(0.0, 1.0),
       st.sets(st.integers(0, 9), min_size=1), st.integers(0, 1000))
def test_selection_takes_only_eligible_classes_and_is_seeded(labels, p, classes, seed):
    labels = np.array(labels)
    chosen = select(labels, p, sorted(classes), seed=seed)
    assert np.isin(labels[chosen], sorted(classes)).all()
    assert np.all(np.diff(chosen) > 0)
    np.testing.assert_array_equal(chosen, select(labels, p, sorted(classes), seed=seed))


@settings(deadline=None, max_examples=20)
@given(st.floats(0.01, 0.99), st.integers(0, 1000))
def test_selection_fraction_is_within_binomial_bounds(p, seed):
    n = 20_000
    labels = np.arange(n) % 10
    eligible = np.isin(labels, [0, 1, 2])
    k = len(select(labels, p, [0, 1, 2], seed=seed))
    m = eligible.sum()
    assert abs(k - m * p) <= 5 * np.sqrt(m * p * (1 - p))


@SETTINGS
@given(st.lists(st.integers(0, 4), min_size=1, max_size=200), st.integers(0, 1000))
def test_selection_extremes(labels, seed):
    labels = np.array(labels)
    assert len(select(labels, 0.0, [0, 1], seed=seed)) == 0
    np.testing.assert_array_equal(select(labels, 1.0, [0, 1], seed=seed), np.flatnonzero(np.isin(labels, [0, 1])))
    np.testing.assert_array_equal(select(labels, 1.0, None, seed=seed), np.arange(len(labels)))


@settings(deadline=None, max_examples=10)
@given(st.integers(0, 1000))
def test_uniform_selection_covers_every_class_evenly(seed):
    labels = np.arange(30_000) % 10
    chosen = select(labels, 0.1, None, seed=seed)
    per_class = np.bincount(labels[chosen], minlength=10)
    assert np.all(np.abs(per_class - 300) <= 5 * np.sqrt(3000 * 0.1 * 0.9))


@SETTINGS
@given(st.sampled_from(sorted(STENCILS)), st.integers(8, 64))
def test_builtin_stencils_are_rgba_with_visible_alpha(name, side):
    rgba = STENCILS[name](side)
    assert rgba.shape == (side, side, 4) and rgba.dtype == np.uint8
    assert rgba[..., 3].max() > 0


@SETTINGS
@given(arrays(np.uint8, (6, 6, 4)), batches(min_side=8, max_side=24), fractions)
def test_user_rgba_file_blends_like_a_builtin(tmp_path_factory, rgba, images, size):
    from PIL import Image

    path = tmp_path_factory.mktemp("stencil") / "mark.png"
    Image.fromarray(rgba, "RGBA").save(path)
    trigger = make_trigger(str(path), size=size)
    w, b = trigger.planes(images.shape[1], images.shape[2])
    np.testing.assert_array_equal(trigger.apply(images), reference(images, w, b))
