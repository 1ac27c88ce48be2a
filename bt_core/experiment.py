"""Source -> transfer -> evaluate, every step cached by what produced it: the one object cases and
the command line ask for models.

A case asks a :class:`Context` for a source model (clean, with a planted trigger or a biased split),
a transfer of it to a target in a mode, and predictions on the target's test set under a set of
*probes* (clean, the trigger, a stencil); metrics are then computed from those predictions by
:mod:`bt_core.claims`. The context is assembled from one part per job, each importing only those
below it: :mod:`~bt_core.datasource` (datasets, batches) and :mod:`~bt_core.builder` (the cache
step); on them :mod:`~bt_core.sources` and :mod:`~bt_core.transfers` (what is trained, its key, its
build) and :mod:`~bt_core.evaluation` (a built model's predictions per probe).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .cache import Cache
from .config import Scale
from .evaluation import Evaluation, Evaluator
from .events import Events
from .plan import Tracer
from .sources import SourceSpec
from .transfers import Transfers

__all__ = ["Context", "Evaluation", "SourceSpec"]


@dataclass
class Context(Transfers, Evaluator):
    """One session's scale, cache, device and data location."""

    scale: Scale
    cache: Cache
    device: torch.device = torch.device("cpu")
    data_root: Path | None = None
    events: Events = field(default_factory=Events)    # who watches builds: display, timing (bt_core.events)
    target_dir: Path | None = None     # a user's own target (--bt-target-dir), dataset TARGET_DIR
    tracer: Tracer | None = None       # planning: models are named, not built (bt_core.plan)
    read_only: bool = False            # judging after an executor built the plan: a missing model is an error
    failed_builds: dict[Path, Any] = field(default_factory=dict)   # entry -> its executor's Failure
    precision: str = "fp32"            # resolved (bt_core.precision): every model is trained and evaluated in it
    compile: str = "none"              # bt_core.compiling.parse: the architectures trained compiled
    resume_file: Path | None = field(default=None, init=False, repr=False)   # set while a model trains (builder)

    def transfer(self, source: SourceSpec | None, target: str, mode: str, seed: int, *,
                 target_trigger_fraction: float = 0.0, arch: str | None = None,
                 recipe: str | None = None) -> Evaluation:
        """Transfer ``source`` to ``target`` (or train from scratch when ``source`` is None), see
        :meth:`~bt_core.transfers.Transfers.built_transfer`; the returned evaluation predicts the
        target's test set under a probe when a metric asks."""
        return self.evaluate(self.built_transfer(source, target, mode, seed, arch=arch, recipe=recipe,
                                                 target_trigger_fraction=target_trigger_fraction))

    def evaluate_source(self, spec: SourceSpec, seed: int) -> Evaluation:
        """The source model itself on the source test set (e.g. source ASR in Fig. 3)."""
        return self.evaluate(self.built_source(spec, seed))
