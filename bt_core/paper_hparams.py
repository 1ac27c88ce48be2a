"""The paper scale's hyperparameters, each with where it comes from.

Sources: Appendix A of arXiv 2207.02842 and the authors' public configs
(MadryLab/bias-transfer, ``dataset_configs/*.yaml``). Where the two disagree the choice is stated.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import TrainConfig

AUTHORS_CONFIGS = "MadryLab/bias-transfer dataset_configs"


@dataclass(frozen=True)
class Recipe:
    """One training setting of the paper, convertible to the trainer's config."""

    epochs: int
    batch_size: int
    lr: float
    peak_epoch: float
    weight_decay: float
    momentum: float = 0.9
    label_smoothing: float = 0.0
    flip: bool = True
    cite: str = ""

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                           peak_epoch=self.peak_epoch, momentum=self.momentum,
                           weight_decay=self.weight_decay, label_smoothing=self.label_smoothing,
                           flip=self.flip)


# ImageNet source (App. A.1: ResNet-18, 16 epochs, batch 1024, lr 0.5, peak epoch 2, momentum 0.9).
# Weight decay: the text says 5e-4, the authors' imagenet.yaml uses 5e-5. We default to the config
# that produced the paper's numbers; IMAGENET_WEIGHT_DECAY_TEXT is there for a run that wants the text.
IMAGENET_WEIGHT_DECAY_TEXT = 5e-4
IMAGENET_WEIGHT_DECAY_CONFIG = 5e-5
IMAGENET_SOURCE = Recipe(epochs=16, batch_size=1024, lr=0.5, peak_epoch=2,
                         weight_decay=IMAGENET_WEIGHT_DECAY_CONFIG,
                         cite=f"App. A.1; weight decay from {AUTHORS_CONFIGS}/imagenet.yaml")

# Transfer (App. A.2): batch 1024, triangular LR peaking at epoch 5, weight decay 5e-4; epochs and
# peak LR per target from the authors' configs. Training from scratch uses weight decay 0.01
# (cifar_scratch.yaml).
_T = f"App. A.2; {AUTHORS_CONFIGS}/{{}}.yaml"
TRANSFER_RECIPES: dict[str, Recipe] = {
    "cifar10": Recipe(15, 1024, 0.1, 5, 5e-4, cite=_T.format("cifar10")),
    "cifar100": Recipe(15, 1024, 0.1, 5, 5e-4, cite=_T.format("cifar100")),
    "aircraft": Recipe(24, 1024, 0.1, 5, 5e-4, cite=_T.format("aircraft")),
    "birdsnap": Recipe(15, 1024, 0.3, 5, 5e-4, cite=_T.format("birdsnap")),
    "caltech101": Recipe(24, 1024, 0.2, 5, 5e-4, cite=_T.format("caltech101")),
    "caltech256": Recipe(14, 1024, 0.2, 5, 5e-4, cite=_T.format("caltech256")),
    "flowers": Recipe(50, 1024, 0.15, 5, 5e-4, cite=_T.format("flowers")),
    "food": Recipe(15, 1024, 0.1, 5, 5e-4, cite=_T.format("food")),
    "pets": Recipe(24, 1024, 0.1, 5, 5e-4, cite=_T.format("pets")),
    "stanford_cars": Recipe(50, 1024, 0.3, 5, 5e-4, cite=_T.format("stanford_cars")),
    "sun397": Recipe(24, 1024, 0.2, 5, 5e-4, cite=_T.format("sun397")),
}
SCRATCH_WEIGHT_DECAY = 0.01

# CelebA source and targets (Table 6; celeba.yaml): 15 epochs, batch 1024, lr 0.1, peak 5, wd 0.01.
CELEBA = Recipe(15, 1024, 0.1, 5, 0.01, cite=f"Table 6; {AUTHORS_CONFIGS}/celeba.yaml")

# Architecture sweep (App. A.4): the ImageNet recipe with batch 512.
ARCHITECTURE_BATCH_SIZE = 512


def transfer(target: str, mode: str) -> TrainConfig:
    """The transfer recipe of ``target`` for ``mode`` (fixed, linear-probe, full or scratch)."""
    recipe = TRANSFER_RECIPES.get(target, TRANSFER_RECIPES["cifar10"])
    cfg = recipe.train_config()
    if mode == "scratch":
        from dataclasses import replace

        cfg = replace(cfg, weight_decay=SCRATCH_WEIGHT_DECAY)
    return cfg
