"""Option values parsed and checked before a run starts: seeds and looks, the device, the executor's
resources, a given source's weights. Each bad value is one ConfigError naming it and what was expected."""
from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path
from typing import Any, Callable, Sequence

from . import sequential
from .errors import ConfigError
from .executors import ExecutorOptions
from .session import SeedPlan
from .sources import SourceSpec


def whole_number(option: str, text: str | None, least: int) -> int | None:
    if text is None:
        return None
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or n < least:
        raise ConfigError(f"{option}={text!r}: expected a whole number >= {least}")
    return n


def parse_looks(text: str | None, option: str = "--bt-looks") -> tuple[int, ...]:
    if text is None:
        return sequential.DEFAULT_LOOKS
    try:
        looks = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"{option}={text!r} is not understood: expected increasing seed counts like "
                          "3,5,8,12") from None
    if looks[0] < 3 or any(b <= a for a, b in zip(looks, looks[1:])):
        raise ConfigError(f"{option}={text!r}: expected increasing seed counts, the first at least 3")
    return looks


def seed_plan(seeds: str | None, *, first: str | None = None, looks: str | None = None,
              max_seeds: str | None = None, cache_dir: Path | None = None) -> SeedPlan:
    """``--bt-seeds auto`` (the default): the sequential design over seeds ``first``, ``first`` + 1, ...
    with looks ``--bt-looks`` cut at ``--bt-max-seeds``; ``5``: seeds ``first`` .. ``first`` + 4 and
    ``0,1,2``: those seeds, each judged by a fixed-sample t-test."""
    start = whole_number("--bt-first-seed", first, 0) or 0
    text = "auto" if seeds is None else seeds.strip()
    if text == "auto":
        chosen = parse_looks(looks)
        most = whole_number("--bt-max-seeds", max_seeds, chosen[0])
        if most is not None:
            chosen = tuple(n for n in chosen if n < most) + (most,)
        return SeedPlan(sequential.design(sequential.Spec(looks=chosen), cache_dir), first=start)
    if looks is not None or max_seeds is not None:
        raise ConfigError(f"--bt-looks/--bt-max-seeds apply to --bt-seeds auto, not to --bt-seeds={text!r}")
    try:
        fixed = (tuple(range(start, start + int(text))) if "," not in text
                 else tuple(int(s) for s in text.split(",")))
    except ValueError:
        raise ConfigError(f"--bt-seeds={text!r} is not understood: expected auto, a count like 5 or a "
                          "comma list like 0,1,2") from None
    if "," in text and first is not None:
        raise ConfigError(f"--bt-first-seed does not apply to the seed list --bt-seeds={text!r}")
    if len(fixed) < 2 or len(set(fixed)) != len(fixed) or min(fixed) < 0:
        raise ConfigError(f"--bt-seeds={text!r} gives {fixed}: expected at least 2 distinct seeds >= 0, "
                          "since every claim is a test over seeds")
    return SeedPlan(sequential.fixed(len(fixed)), first=fixed[0], fixed=fixed)


def resolve_device(name: str, worker: str = "main", option: str = "--bt-device"):
    """The device of this process; a pytest-xdist worker ``gwN`` on ``cuda`` takes GPU N modulo the count.
    ``option`` is how the caller's user spelled the setting, for the error."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"{option}={name!r} is unknown: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{option}={name!r} but no CUDA device is available: expected auto or cpu")
    if device.type == "cuda" and device.index is None and worker.startswith("gw"):
        device = torch.device("cuda", int(worker[2:]) % torch.cuda.device_count())
    return device


def _pairs(option: str, items: Sequence[str] | None) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{option}={item!r}: expected KEY=VALUE, e.g. account=mylab")
        out.append((key.lstrip("-"), value))
    return tuple(out)


def executor_options(getoption: Callable[[str], Any], output: Path) -> ExecutorOptions:
    """``--bt-executor`` and its resources; a JSON file (``--bt-executor-config``) gives defaults
    that the command line's options override."""
    import json
    import shutil

    given: dict[str, Any] = {}
    config = getoption("--bt-executor-config")
    if config:
        try:
            given = json.loads(Path(config).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--bt-executor-config={config!r} cannot be read ({exc}): expected a JSON object "
                              "with keys among jobs, partition, time_min, gpus, cpus, mem_gb, sbatch") from None
        known = {f.name for f in dataclasses.fields(ExecutorOptions)} - {"kind", "logs"}
        if not isinstance(given, dict) or set(given) - known:
            raise ConfigError(f"--bt-executor-config={config!r}: unknown keys "
                              f"{sorted(set(given) - known) if isinstance(given, dict) else given!r}: expected "
                              f"some of {', '.join(sorted(known))}")
        given["sbatch"] = tuple(_pairs("sbatch", [f"{k}={v}" for k, v in dict(given.get("sbatch", {})).items()]))
    flags = {"jobs": "--bt-jobs", "max_resubmits": "--bt-max-resubmits", "partition": "--bt-slurm-partition",
             "time_min": "--bt-slurm-time", "gpus": "--bt-gpus", "cpus": "--bt-slurm-cpus",
             "mem_gb": "--bt-slurm-mem"}
    for name, flag in flags.items():
        value = getoption(flag)
        if value is not None:
            given[name] = value if name == "partition" else whole_number(flag, value, 0)
    if getoption("--bt-slurm-sbatch"):
        given["sbatch"] = _pairs("--bt-slurm-sbatch", getoption("--bt-slurm-sbatch"))
    kind = getoption("--bt-executor")
    opts = ExecutorOptions(kind=kind, logs=str(Path(getoption("--bt-job-logs") or output / "jobs")), **given)
    if kind == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError("--bt-executor=slurm but sbatch is not on PATH: expected a Slurm client "
                          "(or --bt-executor local)")
    return opts


def side_fraction(option: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"{option}={text!r}: expected a fraction of the image side in (0, 1]")
    return value


def given_source(weights: str | None, arch: str | None) -> SourceSpec | None:
    """``--bt-source-weights``: read once here, so a file that is missing, is not a checkpoint or does
    not fit ``--bt-arch`` stops the run before anything is trained."""
    from .checkpoints import load_pretrained, read_bytes

    if weights is None:
        return None
    if not arch:
        raise ConfigError(f"--bt-source-weights={weights!r} needs --bt-arch: expected the architecture the "
                          "weights are for (a torchvision name, 'timm:NAME' or 'package.module:function')")
    data = read_bytes(weights, "source weights")
    load_pretrained(weights, arch, data)
    return SourceSpec(arch=arch, weights=str(Path(weights).resolve()), weights_sha256=hashlib.sha256(data).hexdigest(),
                      weights_bytes=data)
