"""The arithmetic a model is trained and evaluated in: a run setting that is part of every model's identity.

``auto`` is the paper's float16 with a grad scaler on CUDA, bfloat16 autocast on a CPU that computes
bfloat16 natively (AMX or AVX512-BF16, read from the CPU's flags), and float32 on any other CPU. A
forced value is used as given. The resolved name, never ``auto``, goes into cache keys and results.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import torch

from .errors import ConfigError

CHOICES = ("auto", "fp32", "bf16", "fp16")
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's instruction-set flags (empty where the system does not list them)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() in ("flags", "Features"):
                return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU has bfloat16 arithmetic units (without them autocast emulates it, slower than fp32)."""
    return any(f in (cpu_flags() if flags is None else flags) for f in NATIVE_BF16_FLAGS)


def resolve(name: str, device_type: str, flags: frozenset[str] | None = None) -> str:
    """The precision ``name`` means for builds on ``device_type`` ("cpu" or "cuda")."""
    if name not in CHOICES:
        raise ConfigError(f"precision={name!r} is unknown: expected one of {', '.join(CHOICES)}")
    if name != "auto":
        return name
    if device_type == "cuda":
        return "fp16"
    return "bf16" if native_bf16(flags) else "fp32"


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """The autocast region a forward pass runs in (a no-op at fp32)."""
    return torch.autocast(device.type, dtype=_DTYPES.get(precision, torch.float32), enabled=precision in _DTYPES)


def scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A loss scaler: float16 gradients underflow without one; bfloat16 has float32's exponent range."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def key_part(precision: str) -> dict[str, str]:
    """What a model's cache key says of its precision: nothing at fp32, so fp32 entries keep their keys."""
    return {} if precision == "fp32" else {"precision": precision}
