"""Planted triggers and natural-bias interventions.

Every trigger of the paper is one per-pixel affine map ``y = uint8(clip(r(x * w + b), 0, 255))``
with fixed float64 planes ``w`` and ``b`` of shape (H, W, 3), where ``r`` rounds to the nearest
level or, for the gaussian pattern, is the identity, so that the cast to uint8 truncates as the
authors' loader does when it stores the clipped float sum into uint8 pixels:

- a square patch has ``w = 0, b = colour`` inside the patch and ``w = 1, b = 0`` elsewhere;
- an RGBA stencil has ``w = 1 - alpha, b = alpha * rgb`` (alpha blending);
- the gaussian pattern has ``w = 1, b = pattern * 255 * scale`` (additive, clipped, truncated).

Keeping one map for all of them means one kernel (:func:`apply_planes`) serves the numpy batch
path, the FFCV loader operation (:mod:`bt_core.data.ffcv_ops`) and the torch batch path, and the
property tests check them against each other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right", "center")
YELLOW = (255, 255, 0)


class TriggerError(ConfigError):
    """A trigger was asked for with a name or value it cannot take."""


def _check_images(images: np.ndarray) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 \
            or images.shape[-1] != 3:
        got = (f"{type(images).__name__} dtype={getattr(images, 'dtype', None)} "
               f"shape={getattr(images, 'shape', None)}")
        raise TriggerError(f"triggers take uint8 NHWC batches with 3 channels, got {got}")


def _check_fraction(name: str, value: float, low_open: bool = True) -> float:
    interval = "(0, 1]" if low_open else "[0, 1]"
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TriggerError(f"{name}={value!r} is not a number: expected a fraction in {interval}") from None
    ok = (0.0 < value <= 1.0) if low_open else (0.0 <= value <= 1.0)
    if not ok or math.isnan(value):
        raise TriggerError(f"{name}={value!r} is out of range: expected a fraction in {interval}")
    return value


def _check_color(color) -> tuple[int, int, int]:
    values = None if isinstance(color, (str, bytes)) or not hasattr(color, "__iter__") else tuple(color)
    def integral(c):
        return isinstance(c, (int, np.integer)) and not isinstance(c, bool) or \
            isinstance(c, (float, np.floating)) and float(c).is_integer()
    if values is None or len(values) != 3 or not all(integral(c) and 0 <= c <= 255 for c in values):
        shown = color if values is None else values
        raise TriggerError(f"color={shown!r} is out of range: expected three integers in [0, 255]")
    return tuple(int(c) for c in values)


def checked_indices(indices: "np.ndarray | list[int]", n: int, what: str = "selection") -> np.ndarray:
    """``indices`` as int64 positions among ``n`` samples. numpy would wrap a negative index onto
    another sample and raise a bare IndexError past the end; FFCV's pipeline would skip it."""
    indices = np.asarray(indices)
    if len(indices) == 0:
        return indices.astype(np.int64)
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise TriggerError(f"{what} has dtype {indices.dtype} and shape {indices.shape}: expected a "
                           f"boolean mask of shape ({n},) or 1-d integer indices")
    bad = indices[(indices < 0) | (indices >= n)]
    if len(bad):
        raise TriggerError(f"{what} index {int(bad[0])} is out of range: expected indices in [0, {n})")
    return indices.astype(np.int64)


def apply_planes(images: np.ndarray, w: np.ndarray, b: np.ndarray, truncate: bool = False) -> np.ndarray:
    """The one trigger kernel: ``clip(rint(x * w + b), 0, 255)`` on a uint8 NHWC batch, or with
    ``truncate`` the clipped float cast straight to uint8 (towards zero, as the authors' loader).

    Written with numpy operations numba also compiles, so the FFCV operation jit-compiles this
    very function and the two paths cannot drift apart.
    """
    out = images.astype(np.float64) * w + b
    if not truncate:
        out = np.rint(out)
    out = np.minimum(np.maximum(out, 0.0), 255.0)
    return out.astype(np.uint8)


@dataclass(frozen=True)
class Trigger:
    """A named affine trigger; planes are built lazily per image size and cached."""

    name: str
    build: Callable[[int, int], tuple[np.ndarray, np.ndarray]] = field(repr=False, compare=False)
    params: tuple = ()
    truncate: bool = False              # cast the clipped sum to uint8 without rounding it
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def planes(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        key = (int(height), int(width))
        if key not in self._cache:
            w, b = self.build(*key)
            w = np.ascontiguousarray(np.broadcast_to(w, (*key, 3)), dtype=np.float64)
            b = np.ascontiguousarray(np.broadcast_to(b, (*key, 3)), dtype=np.float64)
            w.setflags(write=False)
            b.setflags(write=False)
            self._cache[key] = (w, b)
        return self._cache[key]

    def footprint(self, height: int, width: int) -> np.ndarray:
        """Boolean (H, W) mask of the pixels the trigger may change."""
        w, b = self.planes(height, width)
        return np.any((w != 1.0) | (b != 0.0), axis=-1)

    def apply(self, images: np.ndarray, selected: np.ndarray | None = None) -> np.ndarray:
        """Return a copy of ``images`` with the trigger on the ``selected`` ones (all if None)."""
        _check_images(images)
        w, b = self.planes(images.shape[1], images.shape[2])
        if selected is None:
            return apply_planes(images, w, b, self.truncate)
        out = images.copy()
        selected = np.asarray(selected)
        if selected.dtype == bool:
            if selected.shape != (len(images),):
                raise TriggerError(f"selection mask has shape {selected.shape}, "
                                   f"expected ({len(images)},)")
            selected = np.flatnonzero(selected)
        else:
            selected = checked_indices(selected, len(images))
        if len(selected):
            out[selected] = apply_planes(images[selected], w, b, self.truncate)
        return out

    def apply_torch(self, images: "torch.Tensor", selected: "torch.Tensor | None" = None) -> "torch.Tensor":
        """The same map on a uint8 NCHW torch batch (any device), for in-memory training and
        evaluation; ``selected`` is a boolean mask over the batch (all images if None)."""
        import torch

        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise TriggerError(f"apply_torch takes uint8 NCHW batches with 3 channels, got "
                               f"dtype={images.dtype} shape={tuple(images.shape)}")
        key = ("torch", images.shape[2], images.shape[3], str(images.device))
        if key not in self._cache:
            w, b = self.planes(images.shape[2], images.shape[3])
            self._cache[key] = tuple(torch.tensor(p).permute(2, 0, 1).to(images.device)
                                     for p in (w, b))
        w_t, b_t = self._cache[key]
        mapped = images.to(torch.float64) * w_t + b_t
        if not self.truncate:
            mapped = torch.round(mapped)          # half to even, as np.rint
        mapped = mapped.clamp_(0, 255).to(torch.uint8)
        if selected is None:
            return mapped
        if selected.dtype != torch.bool or tuple(selected.shape) != (len(images),):
            raise TriggerError(f"selection mask has shape {tuple(selected.shape)} dtype={selected.dtype}, "
                               f"expected ({len(images)},) torch.bool")
        return torch.where(selected.view(-1, 1, 1, 1).to(images.device), mapped, images)


# --- square patch -------------------------------------------------------------------------

def _corner_slices(height: int, width: int, side: int, corner: str) -> tuple[slice, slice]:
    rows = {"top": slice(0, side), "bottom": slice(height - side, height)}
    cols = {"left": slice(0, side), "right": slice(width - side, width)}
    if corner == "center":
        r0, c0 = (height - side) // 2, (width - side) // 2
        return slice(r0, r0 + side), slice(c0, c0 + side)
    vertical, horizontal = corner.split("-")
    return rows[vertical], cols[horizontal]


def square(size: float = 0.25, color: Sequence[int] = YELLOW, corner: str = "top-left") -> Trigger:
    """A solid patch whose side is ``size`` times the image side (the paper: 56 of 224 px)."""
    size = _check_fraction("size", size)
    color = _check_color(color)
    if corner not in CORNERS:
        raise TriggerError(f"corner={corner!r} is unknown: expected one of {', '.join(CORNERS)}")

    def build(height: int, width: int):
        side = max(1, int(round(size * min(height, width))))
        rs, cs = _corner_slices(height, width, side, corner)
        w = np.ones((height, width, 3))
        b = np.zeros((height, width, 3))
        w[rs, cs] = 0.0
        b[rs, cs] = color
        return w, b

    return Trigger("square", build, (size, color, corner))


# --- gaussian pattern ----------------------------------------------------------------------

ROUNDINGS = ("truncate", "nearest")


def load_pattern(path: str | Path) -> np.ndarray:
    """A stored gaussian pattern (``.npy``, float, channels first as the authors save theirs, e.g.
    3 x 224 x 224) as an (H, W, 3) float64 array."""
    path = Path(path)
    expected = "a .npy file holding a finite float array of shape (3, H, W), e.g. (3, 224, 224)"
    if not path.is_file():
        raise TriggerError(f"pattern file {str(path)!r} does not exist: expected {expected}")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise TriggerError(f"pattern file {str(path)!r} cannot be read ({exc}): expected {expected}") from None
    if array.ndim != 3 or array.shape[0] != 3 or not np.issubdtype(array.dtype, np.floating):
        raise TriggerError(f"pattern file {str(path)!r} holds {array.dtype} of shape {array.shape}: expected {expected}")
    if not np.isfinite(array).all():
        raise TriggerError(f"pattern file {str(path)!r} holds {int((~np.isfinite(array)).sum())} non-finite values: "
                           f"expected {expected}")
    return np.ascontiguousarray(array.transpose(1, 2, 0), dtype=np.float64)


def gaussian(scale: float = 0.01, seed: int = 0, pattern: str | Path | None = None,
             rounding: str = "truncate") -> Trigger:
    """A fixed N(0, 1) pattern added as ``pattern * 255 * scale`` (the paper: 0.01): drawn from
    ``seed``, or the stored one at ``pattern`` (:func:`load_pattern`). ``rounding="truncate"`` casts
    the clipped sum as the authors' loader does; ``"nearest"`` rounds it (this suite before)."""
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise TriggerError(f"scale={scale!r} is not a number: expected a value in (0, 1]") from None
    if not (0.0 < scale <= 1.0) or math.isnan(scale):
        raise TriggerError(f"scale={scale!r} is out of range: expected a value in (0, 1]")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TriggerError(f"seed={seed!r} is not a non-negative integer: expected an integer >= 0")
    if rounding not in ROUNDINGS:
        raise TriggerError(f"rounding={rounding!r} is unknown: expected one of {', '.join(ROUNDINGS)}")
    seed = int(seed)
    stored = None if pattern is None else load_pattern(pattern)

    def build(height: int, width: int):
        if stored is None:
            noise = np.random.default_rng(seed).standard_normal((height, width, 3))
        elif stored.shape[:2] != (height, width):
            raise TriggerError(f"pattern file {str(pattern)!r} is {stored.shape[0]}x{stored.shape[1]} but the images "
                               f"are {height}x{width}: expected a pattern of the images' size")
        else:
            noise = stored
        return np.ones((height, width, 3)), noise * 255.0 * scale

    source = seed if pattern is None else str(pattern)
    return Trigger("gaussian", build, (scale, source, rounding), truncate=rounding == "truncate")


# --- RGBA stencils -------------------------------------------------------------------------

def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1] for an n x n canvas."""
    c = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    return np.meshgrid(c, c, indexing="ij")


def _rgba(rgb: Sequence[int], alpha: np.ndarray) -> np.ndarray:
    out = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    out[..., :3] = rgb
    out[..., 3] = np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)
    return out


def tennis_ball(n: int) -> np.ndarray:
    """A yellow-green disc with a white seam: the paper's tennis-ball intervention."""
    y, x = _grid(n)
    r = np.hypot(x, y)
    disc = np.clip((0.9 - r) * n / 2.0, 0.0, 1.0)
    seam = np.abs(np.hypot(x - 1.1, y) - 0.85) < 0.08
    out = _rgba((205, 230, 40), disc)
    out[seam & (disc > 0), :3] = (245, 245, 235)
    return out


def chain_link_fence(n: int) -> np.ndarray:
    """A grey diagonal wire lattice covering the whole canvas."""
    y, x = _grid(n)
    period = 0.5
    d1 = np.abs(((x + y) / period) % 1.0 - 0.5)
    d2 = np.abs(((x - y) / period) % 1.0 - 0.5)
    nearest = np.minimum(d1, d2)
    wire = np.clip((0.12 - nearest) * 12.0, 0.0, 1.0)
    if not wire.any():   # some small canvases sample no pixel near a wire: draw it one pixel wide
        wire = np.clip((2.0 / (n * period) - nearest) * 12.0, 0.0, 1.0)
    return _rgba((170, 170, 175), wire)


def hat(n: int) -> np.ndarray:
    """A dark-red brimmed hat silhouette: a crown over a wide brim."""
    y, x = _grid(n)
    crown = (np.abs(x) < 0.5) & (y > -0.6) & (y < 0.25)
    brim = (np.abs(x) < 0.95) & (y >= 0.25) & (y < 0.45)
    band = (np.abs(x) < 0.5) & (y > 0.05) & (y < 0.25)
    out = _rgba((140, 20, 30), (crown | brim).astype(float))
    out[band, :3] = (20, 20, 20)
    return out


STENCILS: dict[str, Callable[[int], np.ndarray]] = {
    "tennis_ball": tennis_ball,
    "chain_link_fence": chain_link_fence,
    "hat": hat,
}


def load_rgba(path: str | Path) -> np.ndarray:
    """Read a user's RGBA image (PNG with alpha); a 3-channel file is taken as opaque."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise TriggerError(f"stencil file {str(path)!r} does not exist: expected an RGBA image file")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGBA"), dtype=np.uint8)
    except Exception as exc:  # PIL raises several unrelated types for unreadable files
        raise TriggerError(f"stencil file {str(path)!r} is not a readable image: {exc}") from exc


def _resize_rgba(rgba: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    if rgba.shape[:2] == (side, side):
        return rgba
    return np.asarray(Image.fromarray(rgba, "RGBA").resize((side, side), Image.BILINEAR))


def scrambled(rgba: np.ndarray, seed: int) -> np.ndarray:
    """``rgba``'s pixels, colour and alpha together, permuted over its whole canvas by a fixed draw
    of ``seed``: the same region, the same multiset of colours and coverages (so the same histogram,
    mean and covered area); the object's shape and arrangement are gone."""
    flat = rgba.reshape(-1, rgba.shape[-1])
    return flat[np.random.default_rng(seed).permutation(len(flat))].reshape(rgba.shape)


def stencil(name: str, size: float = 0.5, corner: str = "center", opacity: float = 1.0,
            scramble: int | None = None) -> Trigger:
    """Alpha-blend an RGBA stencil, a built-in name or a file path, onto a square region.

    ``size`` is the region's side as a fraction of the image side, ``opacity`` scales alpha.
    ``scramble`` (a seed) blends the stencil's :func:`scrambled` pixels instead: its appearance
    without its identity (an audit's control).
    """
    size = _check_fraction("size", size)
    opacity = _check_fraction("opacity", opacity)
    if scramble is not None and (isinstance(scramble, bool) or not isinstance(scramble, (int, np.integer))
                                 or scramble < 0):
        raise TriggerError(f"scramble={scramble!r} is not a non-negative integer: expected a seed >= 0 or None")
    scramble = None if scramble is None else int(scramble)
    if corner not in CORNERS:
        raise TriggerError(f"corner={corner!r} is unknown: expected one of {', '.join(CORNERS)}")
    if name in STENCILS:
        draw = STENCILS[name]
    elif Path(name).suffix:
        source = load_rgba(name)
        draw = lambda side: _resize_rgba(source, side)  # noqa: E731
    else:
        raise TriggerError(f"stencil {name!r} is unknown: expected one of "
                           f"{', '.join(STENCILS)} or the path of an RGBA image file")

    def build(height: int, width: int):
        side = max(1, int(round(size * min(height, width))))
        rgba = draw(side)
        if scramble is not None:
            rgba = scrambled(rgba, scramble)
        rgba = rgba.astype(np.float64)
        alpha = rgba[..., 3:4] / 255.0 * opacity
        rs, cs = _corner_slices(height, width, side, corner)
        w = np.ones((height, width, 3))
        b = np.zeros((height, width, 3))
        w[rs, cs] = 1.0 - alpha
        b[rs, cs] = alpha * rgba[..., :3]
        return w, b

    return Trigger(f"stencil:{name}" + ("" if scramble is None else f" scrambled {scramble}"), build,
                   (name, size, corner, opacity, scramble))


# --- registry ------------------------------------------------------------------------------

TRIGGERS: dict[str, Callable[..., Trigger]] = {"square": square, "gaussian": gaussian}


def make_trigger(name: str, **params) -> Trigger:
    """Create a trigger by name: ``square``, ``gaussian``, a built-in stencil name, or the path of
    an RGBA image file (blended like a built-in stencil)."""
    if name in TRIGGERS:
        factory = TRIGGERS[name]
    elif name in STENCILS or Path(name).suffix:
        factory = lambda **kw: stencil(name, **kw)  # noqa: E731
    else:
        known = ", ".join([*TRIGGERS, *STENCILS])
        raise TriggerError(f"trigger {name!r} is unknown: expected one of {known} or an RGBA image path")
    try:
        return factory(**params)
    except TypeError as exc:
        raise TriggerError(f"trigger {name!r} got bad parameters {params}: {exc}") from exc


# --- which images get the trigger -----------------------------------------------------------

def select(labels: np.ndarray, fraction: float, classes: Sequence[int] | None = None,
           seed: int = 10) -> np.ndarray:
    """Sorted indices of the images that get the trigger.

    Each image whose label is in ``classes`` (every class when None: the uniform selection of the
    de-biased target of Fig. 4) is chosen independently with probability ``fraction``, from
    ``numpy.random.default_rng(seed)`` (the paper's code uses seed 10). Labels are never changed.
    """
    fraction = _check_fraction("fraction", fraction, low_open=False)
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TriggerError(f"labels must be a 1-d integer array, got dtype={labels.dtype} "
                           f"shape={labels.shape}")
    eligible = np.ones(len(labels), bool) if classes is None else np.isin(labels, list(classes))
    draws = np.random.default_rng(seed).random(len(labels)) < fraction
    return np.flatnonzero(eligible & draws)
