"""Seeded synthetic image tasks that let bias transfer be studied without any download.

Each image is a noisy coloured background, one foreground shape drawn in a palette colour blended
70/30 with the background, and one small clutter shape in a random colour. The blending and the
clutter keep the task hard enough that a planted trigger is a useful shortcut for the source model,
which is what makes a source bias form (an easy, clean task gives the trigger nothing to do).

- The **source** task labels (shape, colour) pairs over shapes 0-3; a block of its classes plays the
  role of ImageNet's dog superclass; three of its classes carry a "natural" visual feature (tennis
  ball, chain-link fence, hat stencils), as some ImageNet classes do.
- **Targets** use shapes 4-7 only, so they share no class with the source.
- **Attribute pools** carry a co-occurring object ("person") or a sensitive attribute ("male") next
  to a binary label, for the split builder of :mod:`bt_core.data.splits` to fill the paper's tables.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ..errors import ConfigError
from ..triggers import stencil
from .beton import Arrays

SHAPES = ("disc", "square", "diamond", "cross", "ring", "checker", "hstripes", "vstripes")
PALETTE = np.array([(220, 40, 40), (40, 170, 60), (50, 80, 220), (200, 60, 200), (40, 200, 200)],
                   dtype=np.float32)
NATURAL_FEATURES = ("tennis_ball", "chain_link_fence", "hat")


def _shape_masks(kind: np.ndarray, cy: np.ndarray, cx: np.ndarray, r: np.ndarray, size: int) -> np.ndarray:
    """(N, S, S) boolean masks of shape ``kind[i]`` centred at (cy, cx) with radius r."""
    g = np.arange(size, dtype=np.float32) + 0.5
    dy = g[None, :, None] - cy[:, None, None]
    dx = g[None, None, :] - cx[:, None, None]
    rr = r[:, None, None]
    d = np.hypot(dx, dy)
    box = np.maximum(np.abs(dx), np.abs(dy)) < 0.85 * rr
    masks = np.zeros((len(kind), size, size), dtype=bool)
    cell = np.maximum(rr / 2.0, 1.0)
    stripe = np.maximum(rr / 3.0, 1.0)
    candidates: dict[str, Callable[[], np.ndarray]] = {
        "disc": lambda: d < rr,
        "square": lambda: box,
        "diamond": lambda: np.abs(dx) + np.abs(dy) < rr,
        "cross": lambda: ((np.abs(dx) < rr / 3) & (np.abs(dy) < rr)) | ((np.abs(dy) < rr / 3) & (np.abs(dx) < rr)),
        "ring": lambda: (d < rr) & (d > 0.55 * rr),
        "checker": lambda: box & ((np.floor(dx / cell) + np.floor(dy / cell)) % 2 == 0),
        "hstripes": lambda: box & (np.floor(dy / stripe) % 2 == 0),
        "vstripes": lambda: box & (np.floor(dx / stripe) % 2 == 0),
    }
    for k, name in enumerate(SHAPES):
        rows = kind == k
        if rows.any():
            masks[rows] = candidates[name]()[rows]
    return masks


def render(shape: np.ndarray, colour: np.ndarray, rng: np.random.Generator, size: int = 32,
           *, radius: tuple[float, float] = (0.22, 0.34), blend: float = 0.7,
           clutter: bool = True, noise: float = 18.0) -> np.ndarray:
    """Draw one image per (shape index, colour row) pair; uint8 NHWC."""
    n = len(shape)
    bg = rng.uniform(40, 200, size=(n, 1, 1, 3)).astype(np.float32)
    img = bg + rng.normal(0, noise, size=(n, size, size, 3)).astype(np.float32)
    r = rng.uniform(*radius, size=n).astype(np.float32) * size
    # Objects sit in the central region, as in ImageNet photos, so a corner trigger rarely hides
    # them: the clean model's ASR then measures occlusion less and the planted bias more.
    cy = rng.uniform(0.4, 0.6, size=n).astype(np.float32) * size
    cx = rng.uniform(0.4, 0.6, size=n).astype(np.float32) * size
    mask = _shape_masks(shape, cy, cx, r, size)[..., None]
    fg = blend * colour[:, None, None, :] + (1 - blend) * bg
    img = np.where(mask, fg, img)
    if clutter:
        kind = rng.integers(0, len(SHAPES), n)
        cr = np.full(n, 0.1 * size, np.float32)
        ccy = rng.uniform(cr, size - cr).astype(np.float32)
        ccx = rng.uniform(cr, size - cr).astype(np.float32)
        cmask = _shape_masks(kind, ccy, ccx, cr, size)[..., None]
        ccol = rng.uniform(0, 255, size=(n, 1, 1, 3)).astype(np.float32)
        img = np.where(cmask, ccol, img)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _overlay_random(images: np.ndarray, name: str, rows: np.ndarray, rng: np.random.Generator,
                    size: float) -> None:
    """Blend stencil ``name`` onto ``images[rows]`` at a random corner each, in place."""
    corners = ("top-left", "top-right", "bottom-left", "bottom-right")
    picks = rng.integers(0, len(corners), len(rows))
    for c, corner in enumerate(corners):
        sel = rows[picks == c]
        if len(sel):
            images[sel] = stencil(name, size=size, corner=corner).apply(images[sel])


@dataclass(frozen=True)
class ShapeTask:
    """A classification task over shapes x colours; every field feeds the cache key."""

    name: str
    shapes: tuple[int, ...]
    colours: tuple[int, ...]
    n_train: int
    n_test: int
    label_by: str = "shape_colour"      # "shape_colour" | "shape"
    size: int = 32
    natural_classes: tuple[int, ...] = ()   # classes carrying NATURAL_FEATURES[i] (source only)
    natural_prob: float = 0.9
    superclass: tuple[int, ...] = ()

    @property
    def num_classes(self) -> int:
        if self.label_by == "shape":
            return len(self.shapes)
        return len(self.shapes) * len(self.colours)

    def describe(self) -> dict:
        return asdict(self)

    def generate(self, split: str, seed: int) -> Arrays:
        if split not in ("train", "test"):
            raise ConfigError(f"split={split!r} is unknown: expected 'train' or 'test'")
        n = self.n_train if split == "train" else self.n_test
        rng = np.random.default_rng([seed, 0 if split == "train" else 1, _stable_hash(self.name)])
        labels = rng.integers(0, self.num_classes, n)
        if self.label_by == "shape":
            shape_ix, colour_ix = labels, rng.integers(0, len(self.colours), n)
        else:
            shape_ix, colour_ix = labels // len(self.colours), labels % len(self.colours)
        shapes = np.asarray(self.shapes)[shape_ix]
        colours = PALETTE[np.asarray(self.colours)[colour_ix]]
        images = render(shapes, colours, rng, self.size)
        for cls, feature in zip(self.natural_classes, NATURAL_FEATURES):
            rows = np.flatnonzero((labels == cls) & (rng.random(n) < self.natural_prob))
            _overlay_random(images, feature, rows, rng, size=0.4)
        return Arrays(images, labels.astype(np.int64), {}, self.num_classes)


@dataclass(frozen=True)
class AttributePool:
    """A pool of binary-label images with a binary attribute, drawn with equal group sizes so the
    split builder can carve any of the paper's group tables out of it.

    ``kind="cooccurrence"``: label = cat (0) / dog (1) as two shapes; attribute ``person`` = a hat
    stencil (the co-occurring object) somewhere in the image.
    ``kind="sensitive"``: label = young (1) / old (0) as a subtle shape difference; attribute
    ``male`` = a warm versus cool background tone, an easy feature a biased source latches onto.
    """

    name: str
    kind: str
    n_per_group: int
    size: int = 32

    @property
    def attribute(self) -> str:
        return {"cooccurrence": "person", "sensitive": "male"}[self.kind]

    def describe(self) -> dict:
        return asdict(self)

    def generate(self, seed: int) -> Arrays:
        if self.kind not in ("cooccurrence", "sensitive"):
            raise ConfigError(f"attribute pool kind={self.kind!r} is unknown: expected "
                              "'cooccurrence' or 'sensitive'")
        rng = np.random.default_rng([seed, _stable_hash(self.name)])
        groups = np.repeat(np.arange(4), self.n_per_group)
        rng.shuffle(groups)
        labels, attr = groups // 2, groups % 2
        n = len(groups)
        colour = PALETTE[rng.integers(0, len(PALETTE), n)]
        if self.kind == "cooccurrence":
            shapes = np.where(labels == 1, SHAPES.index("diamond"), SHAPES.index("square"))
            images = render(shapes, colour, rng, self.size)
            _overlay_random(images, "hat", np.flatnonzero(attr == 1), rng, size=0.45)
        else:
            shapes = np.where(labels == 1, SHAPES.index("disc"), SHAPES.index("ring"))
            images = render(shapes, colour, rng, self.size, radius=(0.16, 0.24), noise=28.0)
            tone = np.where(attr[:, None] == 1, [[30.0, 0.0, -30.0]], [[-30.0, 0.0, 30.0]])
            images = np.clip(images.astype(np.float32) + tone[:, None, None, :], 0, 255).astype(np.uint8)
        return Arrays(images, labels.astype(np.int64), {self.attribute: attr.astype(np.int64)}, 2)


def _stable_hash(text: str) -> int:
    """A seed component from a name that, unlike ``hash()``, is the same in every process."""
    return int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "little") % (2**31)


@dataclass(frozen=True)
class MiniWorld:
    """The mini scale's datasets, named so cases and configs refer to them by name."""

    source: ShapeTask
    targets: dict[str, ShapeTask] = field(default_factory=dict)
    pools: dict[str, AttributePool] = field(default_factory=dict)


def mini_world(n_source: int = 10_000, n_target: int = 5_000, n_test: int = 2_000,
               n_pool: int = 1_500) -> MiniWorld:
    source = ShapeTask("source", shapes=(0, 1, 2, 3), colours=(0, 1, 2, 3, 4), n_train=n_source,
                       n_test=n_test, superclass=(0, 1, 2, 3, 4), natural_classes=(7, 12, 17))
    targets = {
        "shapes12": ShapeTask("shapes12", (4, 5, 6, 7), (0, 1, 2), n_target, n_test),
        "shapes4": ShapeTask("shapes4", (4, 5, 6, 7), (0, 1, 2, 3, 4), n_target, n_test, label_by="shape"),
        "shapes8": ShapeTask("shapes8", (4, 5, 6, 7), (3, 4), n_target, n_test),
    }
    pools = {"coco": AttributePool("coco", "cooccurrence", n_pool),
             "celeba": AttributePool("celeba", "sensitive", n_pool)}
    return MiniWorld(source, targets, pools)
