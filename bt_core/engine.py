"""Engine variants of a training step, and the check that one is safe here before a run uses it.

A variant (channels_last, a fused SGD step, torch.compile) changes which native kernels run, and a
kernel can be broken on one CPU only: torch 2.14.1 corrupts the heap in the backward pass of a
channels_last 1x1 stride-2 convolution with 3 input channels on an AVX2-only CPU. So a variant is
first run for a few steps in a child process under a time limit (:mod:`bt_core.isolate`); the
outcome is kept per CPU, torch version, device, variant and network in a small JSON file in the
artifact cache, so a warm run starts no child.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import platform
import warnings
from pathlib import Path
from typing import Callable

import torch
from filelock import FileLock
from torch import nn

from . import precision as precisions
from .isolate import Outcome, run_isolated

VARIANTS = ("eager", "channels_last", "fused_sgd", "compiled", "compiled_channels_last")
PROBE_FILE = "engine-probes.json"
PROBE_TIMEOUT_S = 300.0      # a few steps of any network on a busy machine; a spinning kernel never ends
PROBE_STEPS = 2


class EngineWarning(UserWarning):
    """A faster engine variant failed its probe here; training goes on in eager mode."""


def training_step(model: nn.Module, variant: str, xs: torch.Tensor, ys: torch.Tensor,
                  device: torch.device, precision: str = "fp32") -> Callable[[], None]:
    """One step (forward, backward, SGD) of ``model`` as ``variant`` runs it, a different batch of
    ``xs``/``ys`` each call, in ``precision`` as the trainer runs it (autocast and loss scaler)."""
    if variant not in VARIANTS:
        raise ValueError(f"engine variant {variant!r} is unknown: expected one of {', '.join(VARIANTS)}")
    model = model.to(device).train()
    xs, ys = xs.to(device), ys.to(device)
    if "channels_last" in variant:
        model = model.to(memory_format=torch.channels_last)
        xs = torch.stack([x.contiguous(memory_format=torch.channels_last) for x in xs])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4,
                          **({"fused": True} if variant == "fused_sgd" else {}))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    forward = torch.compile(model) if variant.startswith("compiled") else model
    scaler = precisions.scaler(device, precision)
    turn = itertools.count()

    def step() -> None:
        i = next(turn) % len(xs)
        with precisions.autocast(device, precision):
            loss = loss_fn(forward(xs[i]), ys[i])
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def _probe_steps(model: nn.Module, example: torch.Tensor, variant: str, device: str, threads: int,
                 precision: str = "fp32") -> int:
    """The child's side of a probe: a few steps of ``variant`` on the ``example`` batch (class 0,
    a label every head has), on the parent's thread count (a broken kernel may abort on one
    thread and spin on two)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    xs = example.unsqueeze(0).expand(PROBE_STEPS, *example.shape).clone()
    ys = torch.zeros(PROBE_STEPS, len(example), dtype=torch.long)
    step = training_step(model, variant, xs, ys, torch.device(device), precision)
    for _ in range(PROBE_STEPS):
        step()
    return PROBE_STEPS


def machine_id(device: torch.device) -> dict[str, str]:
    """What decides which kernels run: the CPU's model and instruction-set flags, torch's version,
    and the accelerator's name where there is one."""
    model_name = flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = (part.strip() for part in line.partition(":"))
            if name == "model name" and not model_name:
                model_name = value
            elif name in ("flags", "Features") and not flags:
                flags = hashlib.sha256(" ".join(sorted(value.split())).encode()).hexdigest()[:16]
    except OSError:
        pass            # not Linux: the processor string is what there is
    cpu = model_name or platform.processor() or platform.machine()
    out = {"cpu": cpu, "cpu_flags": flags, "torch": torch.__version__, "device": device.type}
    if device.type == "cuda":
        out["accelerator"] = torch.cuda.get_device_name(device)
    return out


def _network_id(model: nn.Module, example: torch.Tensor) -> str:
    """The layers and the input's shape and type: what decides which kernels a step calls."""
    return hashlib.sha256(f"{model!r}|{tuple(example.shape[1:])}|{example.dtype}".encode()).hexdigest()[:16]


def probe(model: nn.Module, example: torch.Tensor, variant: str, device: torch.device, *, root: Path,
          timeout_s: float = PROBE_TIMEOUT_S, runner: Callable[..., object] = _probe_steps,
          precision: str = "fp32") -> Outcome:
    """Whether ``variant`` trains a copy of ``model`` on the batch ``example`` in ``precision`` here, from
    ``root``'s record or a fresh run of ``runner`` in a child process; a fresh outcome is recorded."""
    key = json.dumps({**machine_id(device), "variant": variant, "network": _network_id(model, example),
                      **precisions.key_part(precision)}, sort_keys=True)
    path = Path(root) / PROBE_FILE
    known = _read(path)
    if key in known:
        return Outcome(known[key]["ok"], reason=known[key]["reason"])
    outcome = run_isolated(runner, copy.deepcopy(model).cpu(), example[:8].cpu(), variant, str(device),
                           torch.get_num_threads(), precision, timeout_s=timeout_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        known = _read(path)
        known[key] = {"ok": outcome.ok, "reason": outcome.reason}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        os.replace(tmp, path)
    return Outcome(outcome.ok, reason=outcome.reason)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}           # no record yet, or a damaged one: probing again is the safe answer


def candidates(device: torch.device) -> tuple[str, ...]:
    """The variants the trainer would use on ``device``, fastest first."""
    return ("channels_last",) if device.type == "cuda" else ()


_warned: set[str] = set()


def choose(model: nn.Module, example: torch.Tensor, device: torch.device, *, root: Path,
           wanted: tuple[str, ...] | None = None, **probe_kw) -> str:
    """The first of ``wanted`` (default :func:`candidates`) whose probe passes here, else "eager";
    a failed probe is warned about once per process and variant."""
    for variant in candidates(device) if wanted is None else wanted:
        outcome = probe(model, example, variant, device, root=root, **probe_kw)
        if outcome.ok:
            return variant
        if variant not in _warned:
            _warned.add(variant)
            warnings.warn(f"engine variant {variant} is unavailable on this machine ({outcome.reason}); "
                          f"training in eager mode instead", EngineWarning, stacklevel=2)
    return "eager"
