"""Typed configurations and the two scale presets.

``mini`` and ``paper`` differ only in data, architecture and budget; every experiment reads its
hyperparameters from here, so a result can always say exactly what produced it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import paper_hparams as hp
from .errors import ConfigError
from .train_config import TrainConfig


@dataclass(frozen=True)
class Scale:
    """Everything that differs between the mini and the paper scale."""

    name: str
    arch: str
    image_size: int | None
    source: TrainConfig
    transfer: dict[str, TrainConfig]
    trigger: dict[str, Any]
    trigger_fraction: float
    loader: str                       # "memory": decode once through FFCV; "stream": FFCV Loader
    fixed_impl: str                   # how "fixed-feature" is run: "fixed" or "linear-probe"
    source_data: str = "source"
    targets: tuple[str, ...] = ()
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)   # test-time interventions
    trigger_fractions: tuple[float, ...] = ()
    architectures: tuple[str, ...] = ()
    data_sizes: dict[str, int] = field(default_factory=dict)      # mini_world() arguments
    test_per_group: int = 0
    transfer_by_target: dict[str, dict[str, TrainConfig]] = field(default_factory=dict)
    source_by_data: dict[str, TrainConfig] = field(default_factory=dict)  # else ``source``
    source_by_arch: dict[str, TrainConfig] = field(default_factory=dict)  # the architecture sweep's sources
    notes: dict[str, str] = field(default_factory=dict)
    threads: int | None = None        # CPU threads every model is built with (None: torch's default)
    epoch_checkpoints: bool = False   # save each epoch so a requeued job resumes (hours-long builds)

    def train_config(self, mode: str, target: str | None = None) -> TrainConfig:
        if mode not in self.transfer:
            raise ConfigError(f"mode={mode!r} is unknown: expected one of {', '.join(self.transfer)}")
        return self.transfer_by_target.get(target, self.transfer)[mode]

    def source_config(self, data: str, arch: str | None = None) -> TrainConfig:
        if data == self.source_data and arch in self.source_by_arch:
            return self.source_by_arch[arch]
        return self.source_by_data.get(data, self.source)

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, *, arch: str | None = None, targets: tuple[str, ...] | None = None) -> "Scale":
        return replace(self, arch=arch or self.arch, targets=targets or self.targets)

    @property
    def interventions(self) -> tuple[str, ...]:
        """The natural-bias probes (Fig. 7/8): every probe but the planted trigger."""
        return tuple(name for name in self.probes if name != "trigger")

    def with_interventions(self, stencils: tuple[str, ...], size: float | None = None,
                           corner: str | None = None) -> "Scale":
        """Natural-bias probes of the user's choosing: built-in stencil names or RGBA image files
        (a file's probe is named by its stem), at a size and corner."""
        from .triggers import STENCILS

        unknown = [s for s in stencils if s not in STENCILS and not Path(s).suffix]
        if unknown:
            raise ConfigError(f"stencil {unknown[0]!r} is unknown: expected one of {', '.join(STENCILS)} or the "
                              "path of an RGBA image file")
        old = next(iter(self.probes[n] for n in self.interventions))
        size, corner = old["size"] if size is None else size, corner or old["corner"]
        chosen = {Path(s).stem: {"name": s, "size": size, "corner": corner} for s in stencils or
                  [self.probes[n]["name"] for n in self.interventions]}
        if len(chosen) < len(stencils or ()) or "trigger" in chosen:
            raise ConfigError(f"stencils {list(stencils)} give probe names {list(chosen)}: expected distinct "
                              "names other than 'trigger' (a file's probe is named by its stem)")
        return replace(self, probes={"trigger": self.probes["trigger"], **chosen})


def _probes(trigger: dict[str, Any], stencil_size: float) -> dict[str, dict[str, Any]]:
    """The planted trigger and the three natural-bias interventions of Fig. 7/8."""
    stencils = {name: {"name": name, "size": stencil_size, "corner": "bottom-right"}
                for name in ("tennis_ball", "chain_link_fence", "hat")}
    return {"trigger": trigger, **stencils}


def _mini() -> Scale:
    trigger = {"name": "square", "size": 0.25}    # the paper's 56 of 224 px, top-left, yellow
    # The fixed-feature head gets a short budget: trained to convergence on a target that carries
    # the trigger (Fig. 4), a linear head on these small networks learns to ignore the trigger's
    # feature direction, which a ResNet-18 on ImageNet cannot (measured: de-biased fixed-feature
    # gap +0.007 with 8 epochs at lr 0.1, +0.145 with 3 epochs at lr 0.05; seed 0, shapes12).
    fixed = TrainConfig(epochs=3, batch_size=256, lr=0.05, peak_epoch=1)
    # The gender-age sources (2,000 images, 2 classes) need more steps than the 6,000-image source:
    # with its 10 epochs one biased seed learned the tone shortcut alone (train accuracy 0.886, the
    # shortcut's 0.9), so its features carried no age and the transferred model sat at one class.
    attribute_source = TrainConfig(epochs=20, batch_size=256, lr=0.1, peak_epoch=5)
    # Full-network lr 0.03 washed the planted gap out (+0.06, +0.01 on seeds 0, 1); 0.015 keeps it
    # (+0.18, +0.13) and still removes it on the de-biased target (0.00, -0.02).
    full = TrainConfig(epochs=6, batch_size=256, lr=0.015, peak_epoch=1.5)
    transfer = {"fixed": fixed, "linear-probe": fixed, "full": full,
                "scratch": TrainConfig(epochs=12, batch_size=256, lr=0.2, peak_epoch=3)}
    # The CelebA-like targets (two classes) are fine-tuned at a third of that rate. Measured on
    # gender-balanced targets of 600-1,000 images with a 9:1 source, before the mini tables took the
    # paper's ratios: at lr 0.015 full-network transfer relearned the age cue from the target alone
    # and the biased source's gender gap fell to 0.12, 0.05, 0.03; at 0.005 it kept 0.18-0.29 on
    # seeds 0-5, as the paper's full-network CelebA transfers keep theirs (Fig. 6). On Table 5's
    # three mixes (800 images) from Table 4's 4:1 source it keeps 0.07-0.12 on seeds 0-2 (the weaker
    # source bias plants a smaller gap; every check holds at 3 seeds). The COCO-like target keeps
    # 0.015: at 0.005 one seed's person effect flipped sign (-0.44; mean 0.17, p = 0.31).
    celeba_transfer = {**transfer, "full": replace(full, lr=0.005)}
    return Scale(
        name="mini",
        arch="mini_resnet",
        image_size=None,
        source=TrainConfig(epochs=10, batch_size=256, lr=0.2, peak_epoch=2.5),
        transfer=transfer,
        transfer_by_target={t: celeba_transfer for t in ("celeba_target_1", "celeba_target_2",
                                                          "celeba_target_3")},
        trigger=trigger,
        trigger_fraction=0.5,
        loader="memory",
        fixed_impl="linear-probe",
        # Fixed so that a one-process run, pytest-xdist workers and a run after tests that decoded
        # on one FFCV worker train the same models: at one thread instead of two, two borderline
        # verdicts of the suite flipped (backdoor_full shapes4, natural_biases full chain-link).
        threads=2,
        targets=("shapes12", "shapes4", "shapes8"),
        probes=_probes(trigger, stencil_size=0.4),
        # 2% of the superclass (30 images) was too few for the mini source to learn the trigger
        # (transferred gap -0.02 +- 0.04 over 3 seeds); 10% is the smallest that forms it.
        trigger_fractions=(0.1, 0.25, 0.5),
        architectures=("mini_resnet", "mini_vgg", "mini_mobilenet"),
        source_by_data={"celeba_biased": attribute_source, "celeba_unbiased": attribute_source},
        data_sizes={"n_source": 6000, "n_target": 3000, "n_test": 1500, "n_pool": 2500},
        test_per_group=250,
        notes={"data": "built-in synthetic shapes (bt_core.data.synthetic.mini_world), 32 px",
               "recipe": "the measured mini recipe of shared/NOTES.md"},
    )


def _paper() -> Scale:
    trigger = {"name": "square", "size": 0.25}    # 56 of 224 px, top-left, yellow (App. A.1)
    targets = tuple(hp.TRANSFER_RECIPES)
    attribute_data = hp.CELEBA_DATASETS + hp.COCO_DATASETS
    architectures = ("resnet18", "resnet50", "vgg16_bn", "densenet121", "mobilenet_v2", "shufflenet_v2_x1_0")
    default = {mode: hp.transfer("cifar10", mode) for mode in ("fixed", "linear-probe", "full", "scratch")}
    return Scale(
        name="paper",
        arch="resnet18",
        image_size=224,
        source=hp.IMAGENET_SOURCE.train_config(),
        transfer=default,
        transfer_by_target={t: {m: hp.transfer(t, m) for m in default} for t in targets + attribute_data},
        source_by_data={d: hp.attribute_recipe(d).train_config() for d in attribute_data},
        # App. A.4: the other architectures' ImageNet sources at batch 512; ResNet-18's are the main ones
        source_by_arch={a: hp.ARCHITECTURE_SOURCE.train_config() for a in architectures if a != "resnet18"},
        trigger=trigger,
        trigger_fraction=0.5,
        loader="stream",
        fixed_impl="fixed",
        epoch_checkpoints=True,
        source_data="imagenet",
        targets=targets,
        probes=_probes(trigger, stencil_size=0.4),
        trigger_fractions=(0.1, 0.25, 0.5),
        architectures=architectures,
        notes={"data": "the paper's datasets as <data-root>/<name>/<split>.beton, written by python -m benchmark prepare",
               "hyperparameters": "bt_core.paper_hparams (App. A of arXiv 2207.02842, authors' configs)",
               "celeba": hp.CELEBA.cite, "coco": f"{hp.COCO_SOURCE.cite}; {hp.COCO_TRANSFER.cite}"},
    )


# The paper-smoke budget: the images per batch and the epochs a CPU can afford at 224 px. Sources
# train one epoch; transfers eight, because Eq. (1) is undefined for a model right on no test image:
# after one epoch (3 steps on the 48-image fixture target) transferred models scored 0.04-0.25 on its
# 4 classes and one CI run hit an ASR of NaN; after eight, 0.29-0.92 over 3 seeds and both modes.
SMOKE_BATCH = 16
SMOKE_SOURCE_EPOCHS = 1
SMOKE_TRANSFER_EPOCHS = 8
SMOKE_TARGET = "pets"


def _smoke_budget(cfg: TrainConfig, epochs: int) -> TrainConfig:
    """Few epochs of small batches, the peak LR scaled linearly with the batch (Goyal et al. 2017),
    so the paper's rates stay finite on a few dozen images."""
    return replace(cfg, epochs=epochs, peak_epoch=min(cfg.peak_epoch, 0.5), batch_size=SMOKE_BATCH,
                   lr=cfg.lr * SMOKE_BATCH / cfg.batch_size)


def _paper_smoke() -> Scale:
    """The paper scale on a budget a CPU runs in minutes, for CI: the same data layout from
    ``benchmark prepare``, ResNet-18 at 224 px, the FFCV Loader with JPEG decode, random resized
    crop, flip and the trigger inside it. Only counts shrink: a few epochs of small batches, one target
    (the few hundred fixture images it is run on decide nothing; a run checks the pipeline)."""
    paper = _paper()
    src, dst = SMOKE_SOURCE_EPOCHS, SMOKE_TRANSFER_EPOCHS
    by_target = {t: {m: _smoke_budget(c, dst) for m, c in modes.items()}
                 for t, modes in paper.transfer_by_target.items()}
    return replace(paper, name="paper-smoke", source=_smoke_budget(paper.source, src),
                   transfer={m: _smoke_budget(c, dst) for m, c in paper.transfer.items()},
                   transfer_by_target=by_target,
                   source_by_data={d: _smoke_budget(c, src) for d, c in paper.source_by_data.items()},
                   source_by_arch={a: _smoke_budget(c, src) for a, c in paper.source_by_arch.items()},
                   targets=(SMOKE_TARGET,),
                   notes={**paper.notes, "budget": f"paper-smoke: sources {src} epoch, transfers {dst}, batch "
                          f"{SMOKE_BATCH}, peak LR scaled by {SMOKE_BATCH}/batch; a pipeline check, not a "
                          "reproduction"})


SCALES = {"mini": _mini, "paper": _paper, "paper-smoke": _paper_smoke}


def get_scale(name: str) -> Scale:
    if name not in SCALES:
        raise ConfigError(f"scale={name!r} is unknown: expected one of {', '.join(SCALES)}")
    return SCALES[name]()
