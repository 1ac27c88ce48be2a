"""torch.compile as a run setting: which architectures train compiled, and where inductor keeps its work.

A compiled step runs other kernels than an eager one, so a model trained compiled is another model:
its cache key says so. Inductor's own cache lives in the artifact cache (``<cache>/inductor``), so a
network compiled once, by any run or worker on that cache, is not compiled again. A compile that
fails here is warned about once and the model trains eagerly; its history says which engine ran.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .engine import EngineWarning
from .errors import ConfigError
from .models import create_backbone

NONE, ALL = "none", "all"
INDUCTOR_DIR = "inductor"
RECOMPILE_LIMIT = 64      # one forward is traced again per head size and frozen-layer pattern: mini runs need ~20
BACKEND: str | Callable[..., Any] = "inductor"


def parse(value: str | None) -> str:
    """``--bt-compile`` checked: none, all, or known architecture names comma-separated."""
    text = (value or NONE).strip()
    if text in (NONE, ALL):
        return text
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"--bt-compile={value!r}: expected none, all or architecture names comma-separated")
    for name in names:
        try:
            create_backbone(name)
        except ConfigError as exc:
            raise ConfigError(f"--bt-compile={value!r}: {exc}") from None
    return ",".join(sorted(set(names)))


def wanted(setting: str, arch: str) -> bool:
    """Whether ``setting`` (from :func:`parse`) compiles models of ``arch``."""
    return setting == ALL or (setting != NONE and arch in setting.split(","))


def key_part(compiled: bool) -> dict[str, bool]:
    """What a model's cache key says of compiling: nothing for eager, so eager entries keep their keys."""
    return {"compiled": True} if compiled else {}


def cache_dir(root: Path) -> Path:
    return Path(root) / INDUCTOR_DIR


class Forward:
    """The model's forward, compiled with inductor's cache under ``root``; after a compile fails,
    the eager model with one warning naming the reason."""

    def __init__(self, model: nn.Module, root: Path, desc: str):
        # inductor reads its cache folder from the environment at each compile
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir(root).resolve())
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
        self.model, self.desc = model, desc
        self.compiled: Callable[..., torch.Tensor] | None = torch.compile(model, backend=BACKEND)

    @property
    def engine(self) -> str:
        return "compiled" if self.compiled is not None else "eager"

    def run(self, step: Callable[[Callable[..., torch.Tensor]], Any]) -> Any:
        """``step`` (forward and backward) with the compiled forward; eagerly from the first failure on."""
        if self.compiled is None:
            return step(self.model)
        try:
            return step(self.compiled)
        except Exception as exc:            # inductor's failures have no common type (compiler, codegen, backend)
            self.compiled = None
            warnings.warn(f"{self.desc}: torch.compile failed here ({_reason(exc)}); training in eager mode instead",
                          EngineWarning, stacklevel=2)
            return step(self.model)


def _reason(exc: BaseException) -> str:
    """The failure in one line: dynamo wraps a backend's own error, which is the one that says why."""
    inner = getattr(exc, "inner_exception", None) or exc
    lines = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {lines[0] if lines else ''}"
