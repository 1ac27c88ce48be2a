"""The engine comparison of ``benchmark perf``: one training step of each mini architecture, eager as the
trainer runs it beside each candidate that could make a cold run faster (channels_last, a fused SGD
step, torch.compile, compile with channels_last), in each precision asked for, interleaved round by
round so a busy machine slows each alike; images/s, the ratio to eager fp32, the one-off compile
seconds, and what they make of one mini source model (its images times epochs, plus the warm-up).
A compiled variant's warm-up is timed twice: with inductor's cache empty (a cold run) and again in
a new process on the cache the first filled (a run whose artifact cache has compiled that network).
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import torch

ENGINE_BATCHES = 8
ENGINE_TIMEOUT_S = 180.0     # a cold torch.compile of one mini network took about 40 s on an idle machine
# A variant that runs the kernels of another is not tried where that one could not run.
_NEEDS = {"compiled_channels_last": "channels_last"}


def engine_name(variant: str, precision: str) -> str:
    """A row of the engine comparison: the variant, and the precision where it is not fp32."""
    return variant if precision == "fp32" else f"{variant}+{precision}"


def _engine_step(arch: str, variant: str, batch_size: int, device: torch.device, precision: str,
                 image_size: int = 32):
    """A training step of ``arch`` as ``variant`` runs it in ``precision``, on uint8 batches of square
    images as the trainer hands them over (the model normalises them), a different batch each step."""
    from bt_core.engine import training_step
    from bt_core.models import create_model

    torch.manual_seed(0)
    model = create_model(arch, 10)
    xs = torch.randint(0, 256, (ENGINE_BATCHES, batch_size, 3, image_size, image_size), dtype=torch.uint8)
    ys = torch.randint(0, 10, (ENGINE_BATCHES, batch_size))
    return training_step(model, variant, xs, ys, device, precision)


def _engine_worker(arch: str, variant: str, batch_size: int, device: str, threads: int | None,
                   precision: str = "fp32", image_size: int = 32):
    """The child's side: build the step once, then answer "run n steps" with their wall seconds."""
    from bt_core.train import pinned_threads

    with pinned_threads(threads):
        step = _engine_step(arch, variant, batch_size, torch.device(device), precision, image_size)

    def run(n: int) -> float:
        with pinned_threads(threads):
            start = time.perf_counter()
            for _ in range(n):
                step()
            return time.perf_counter() - start

    return run


def measure_engine(device: torch.device, *, batch_size: int, steps: int, rounds: int,
                   variants: tuple[str, ...] | None = None, architectures: tuple[str, ...] | None = None,
                   precisions: tuple[str, ...] = ("fp32",), timeout_s: float = ENGINE_TIMEOUT_S,
                   image_size: int = 32, worker=_engine_worker) -> dict[str, object]:
    """Steady-state training images/s of each variant in each precision per architecture (any the
    models registry knows) on ``image_size`` px images, interleaved, as ratios to eager fp32; the
    seconds of one mini source model only for the mini architectures at 32 px. Each runs in its own
    child process (``worker`` builds it there), every call under ``timeout_s``: one that cannot run
    here (no C++ compiler for compile, a kernel that crashes or spins) is reported with why, not
    timed, and the others go on."""
    from bt_core.config import get_scale

    scale = get_scale("mini")
    archs = architectures or scale.architectures
    # a mini source model's images make a whole run's seconds; for other networks or sizes they mean nothing
    source_images = scale.data_sizes["n_source"] * scale.source.epochs if image_size == 32 else 0
    out: dict[str, object] = {}
    if source_images and any(arch in scale.architectures for arch in archs):
        out["source_model_images"] = source_images
    inductor = tempfile.TemporaryDirectory(prefix="bt-perf-inductor-")
    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = inductor.name      # children inherit it: the first compile is cold
    try:
        for arch in archs:
            _measure_arch(out, arch, device, scale, batch_size=batch_size, steps=steps, rounds=rounds,
                          variants=variants, precisions=precisions, timeout_s=timeout_s, worker=worker,
                          image_size=image_size,
                          source_images=source_images if arch in scale.architectures else 0)
    finally:
        if before is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = before
        inductor.cleanup()
    return out


def _measure_arch(out: dict[str, object], arch: str, device: torch.device, scale, *, batch_size: int, steps: int,
                  rounds: int, variants: tuple[str, ...] | None, precisions: tuple[str, ...], timeout_s: float,
                  worker, image_size: int, source_images: int) -> None:
    from bt_core.engine import VARIANTS
    from bt_core.isolate import Isolated

    children: dict[str, Isolated] = {}
    try:
        for precision, plain in ((p, v) for p in precisions for v in variants or VARIANTS):
            variant = engine_name(plain, precision)
            needed = engine_name(_NEEDS[plain], precision) if plain in _NEEDS else None
            if needed and f"{arch}/{needed}/unavailable" in out:
                out[f"{arch}/{variant}/unavailable"] = f"not tried: {needed} {out[f'{arch}/{needed}/unavailable']}"
                continue
            child = Isolated(worker, arch, plain, batch_size, str(device), scale.threads, precision, image_size,
                             timeout_s=timeout_s)
            warm = child(3, timeout_s=timeout_s) if child.started.ok else child.started   # compiling happens here
            if warm.ok:
                children[variant] = child
                out[f"{arch}/{variant}/warmup_s"] = warm.value
            else:
                out[f"{arch}/{variant}/unavailable"] = warm.reason
        rates: dict[str, list[float]] = {variant: [] for variant in children}
        for _ in range(rounds):
            for variant, child in children.items():
                if variant not in rates:
                    continue
                got = child(steps, timeout_s=timeout_s)
                if got.ok:
                    rates[variant].append(steps * batch_size / got.value)
                else:
                    out[f"{arch}/{variant}/unavailable"] = got.reason
                    del rates[variant]
    finally:
        for child in children.values():
            child.close()
    for variant, got in rates.items():
        out[f"{arch}/{variant}_img_s"] = float(np.median(got))
        if source_images:
            out[f"{arch}/{variant}/one_source_s"] = (out[f"{arch}/{variant}/warmup_s"]
                                                     + source_images / out[f"{arch}/{variant}_img_s"])
    for variant in rates:
        if variant.startswith("compiled"):
            plain, _, precision = variant.partition("+")
            again = Isolated(worker, arch, plain, batch_size, str(device), scale.threads, precision or "fp32",
                             image_size, timeout_s=timeout_s)
            try:
                warm = again(3, timeout_s=timeout_s) if again.started.ok else again.started
            finally:
                again.close()
            if warm.ok:
                out[f"{arch}/{variant}/warmup_cached_s"] = warm.value
                if source_images:
                    out[f"{arch}/{variant}/one_source_cached_s"] = (warm.value
                                                                    + source_images / out[f"{arch}/{variant}_img_s"])
        if variant != "eager" and "eager" in rates:
            out[f"{arch}/{variant}_over_eager"] = out[f"{arch}/{variant}_img_s"] / out[f"{arch}/eager_img_s"]
            for whole in ("one_source", "one_source_cached"):
                if f"{arch}/{variant}/{whole}_s" in out and f"{arch}/eager/one_source_s" in out:
                    out[f"{arch}/{variant}/{whole}_over_eager"] = (out[f"{arch}/eager/one_source_s"]
                                                                   / out[f"{arch}/{variant}/{whole}_s"])
