"""The trainer: one loop for source training, transfer and scratch, on the CPU and on CUDA.

SGD with momentum and weight decay under the paper's triangular learning rate, label smoothing,
the run's precision (:mod:`bt_core.precision`), channels_last on CUDA where its probe passes (:mod:`bt_core.engine`),
progress reports for the run's display, and a hard stop on a non-finite loss that says where it
happened. A step never waits for the device: loss, accuracy and the non-finite check accumulate
there and are read once per epoch.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

import numpy as np
import torch
from torch import nn

from . import compiling, engine, precision as precisions
from .cache import default_root
from .train_config import TrainConfig
from .errors import TrainingError
from .phases import timed


class Batches(Protocol):
    num_samples: int

    def __len__(self) -> int: ...
    def __iter__(self): ...
    def position(self) -> Any: ...
    def seek(self, position: Any) -> None: ...


@contextmanager
def pinned_threads(threads: int | None) -> Iterator[None]:
    """Run the block on exactly ``threads`` CPU threads (None: leave torch's setting alone).

    CPU kernels split their float reductions by thread count, so the same seed trained on one
    thread and on two gives different models; the count is part of what produced a model.
    """
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class History:
    """What a training run did, kept with the artifact it produced."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    images_per_s: float = 0.0
    wall_s: float = 0.0
    input_shape: list[int] = field(default_factory=list)   # (C, H, W) of the images the model saw
    engine: str = "eager"                                   # "compiled" where torch.compile trained it

    def as_dict(self) -> dict:
        return {"loss": self.loss, "accuracy": self.accuracy, "images_per_s": self.images_per_s,
                "wall_s": self.wall_s, "input_shape": self.input_shape, "engine": self.engine}


@timed("train")
def train(model: nn.Module, batches: Batches, cfg: TrainConfig, *, device: torch.device, seed: int,
          desc: str = "train", on_progress: Callable[[float, int, float], None] | None = None,
          frozen_bn: Iterable[nn.Module] = (), resume: Path | None = None, precision: str = "fp32",
          compile_root: Path | None = None) -> History:
    """Train ``model`` in place on ``batches`` for ``cfg.epochs`` epochs.

    Only parameters with ``requires_grad`` are optimised, so fixed-feature transfer is the same loop
    with a frozen backbone. Modules in ``frozen_bn`` are kept in eval mode. ``on_progress`` is called
    after every step with (epochs done, of epochs, images/s). With ``resume``, the state after each
    epoch is saved there and a run that finds it goes on from the next epoch (a requeued job).
    ``precision`` is a resolved :mod:`bt_core.precision` name. With ``compile_root``, full batches run
    through torch.compile with inductor's cache under that folder (:mod:`bt_core.compiling`); a last
    smaller batch runs eagerly rather than compile a second shape.
    """
    torch.manual_seed(seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TrainingError(f"{desc}: the model has no trainable parameters")
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    scaler = precisions.scaler(device, precision)
    steps = len(batches)
    history = History()
    first = _restore(resume, model, opt, scaler, batches, history) if resume is not None else 0
    seen, start = 0, time.perf_counter()
    channels_last = False
    forward = compiling.Forward(model, compile_root, desc) if compile_root is not None else None
    full = None                 # the batch size the compiled forward is traced for

    def step_with(net: Callable[..., torch.Tensor], x: torch.Tensor, y: torch.Tensor):
        with precisions.autocast(device, precision):
            logits = net(x)
            loss = loss_fn(logits, y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        return logits, loss

    for epoch in range(first, cfg.epochs):
        model.train()
        for m in frozen_bn:
            m.eval()
        # float64 like the host-side sum it replaces, so the history's numbers are the same
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        bad_step = torch.full((), -1, dtype=torch.long, device=device)     # the first non-finite step
        bad_loss = torch.zeros((), dtype=torch.float64, device=device)
        count = 0
        for step, (x, y) in enumerate(batches):
            if epoch == first and step == 0 and x.dim() == 4 and engine.candidates(device):
                channels_last = engine.choose(model, x, device, root=default_root(),
                                              precision=precision) == "channels_last"
                if channels_last:
                    model.to(memory_format=torch.channels_last)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            for group in opt.param_groups:
                group["lr"] = cfg.lr_at(epoch + step / steps)
            full = full or len(x)
            if forward is not None and len(x) == full:
                logits, loss = forward.run(lambda net: step_with(net, x, y))
            else:
                logits, loss = step_with(model, x, y)
            first_bad = (bad_step < 0) & ~torch.isfinite(loss.detach())
            bad_step = torch.where(first_bad, step, bad_step)
            bad_loss = torch.where(first_bad, loss.detach().double(), bad_loss)
            scaler.step(opt)
            scaler.update()
            n = len(y)
            history.input_shape = history.input_shape or list(x.shape[1:])
            loss_sum += loss.detach().double() * n
            correct += (logits.argmax(1) == y).sum()
            count += n
            seen += n
            if on_progress is not None:
                on_progress(epoch + (step + 1) / steps, cfg.epochs, seen / max(time.perf_counter() - start, 1e-9))
        total_loss, n_correct, first_bad_step, first_bad_loss = (
            torch.stack([loss_sum, correct.double(), bad_step.double(), bad_loss]).tolist())
        if first_bad_step >= 0:
            step = int(first_bad_step)
            raise TrainingError(f"{desc}: loss became {first_bad_loss} at epoch {epoch + 1}, "
                                f"step {step + 1} of {steps} (lr {cfg.lr_at(epoch + step / steps):.3g}); "
                                "expected a finite loss: lower the learning rate or check the data")
        history.loss.append(total_loss / max(count, 1))
        history.accuracy.append(int(n_correct) / max(count, 1))
        if resume is not None and epoch + 1 < cfg.epochs:
            _save_epoch(resume, epoch + 1, model, opt, scaler, batches, history)
    history.wall_s = time.perf_counter() - start
    history.engine = forward.engine if forward is not None else "eager"
    history.images_per_s = seen / max(history.wall_s, 1e-9)
    return history


def _save_epoch(path: Path, epochs: int, model: nn.Module, opt: torch.optim.Optimizer, scaler: Any,
                batches: Batches, history: History) -> None:
    state = {"epochs": epochs, "model": model.state_dict(), "opt": opt.state_dict(), "scaler": scaler.state_dict(),
             "batches": batches.position(), "rng": torch.get_rng_state(),
             "loss": history.loss, "accuracy": history.accuracy}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _restore(path: Path, model: nn.Module, opt: torch.optim.Optimizer, scaler: Any, batches: Batches,
             history: History) -> int:
    """The epoch to start from: 0, or the one after the last saved at ``path``."""
    if not path.is_file():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    scaler.load_state_dict(state["scaler"])
    batches.seek(state["batches"])
    torch.set_rng_state(state["rng"])
    history.loss, history.accuracy = list(state["loss"]), list(state["accuracy"])
    return int(state["epochs"])


@timed("evaluate")
@torch.no_grad()
def predict(model: nn.Module, batches: Batches, *, device: torch.device, precision: str = "fp32") -> np.ndarray:
    """Predicted classes, in dataset order (batches must be sequential)."""
    model.to(device).eval()
    out = []
    for x, _ in batches:
        with precisions.autocast(device, precision):
            out.append(model(x).argmax(1).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, np.int64)


@timed("features")
@torch.no_grad()
def refresh_batchnorm(model: nn.Module, batches: Batches, *, precision: str = "fp32") -> None:
    """Re-estimate batch-norm statistics on ``batches`` as a cumulative average.

    This is what fixed-feature training does to the statistics implicitly; doing it once lets the
    linear-probe mode freeze the backbone completely and cache its features.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for x, _ in batches:
        with precisions.autocast(x.device, precision):
            model(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum


@timed("features")
@torch.no_grad()
def extract_features(model: nn.Module, batches: Batches, *, device: torch.device,
                     precision: str = "fp32") -> tuple[torch.Tensor, torch.Tensor]:
    model.to(device).eval()
    feats, labels = [], []
    for x, y in batches:
        with precisions.autocast(device, precision):
            feats.append(model.features(x).float())
        labels.append(y)
    return torch.cat(feats), torch.cat(labels)
