"""What the pytest plugin does, kept free of pytest so the command line can share it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from .cache import Cache
from .config import get_scale
from .errors import ConfigError
from .experiment import Context
from .session import Session, check_writable, collect_rows


def parse_seeds(text: str | None, default: Sequence[int]) -> tuple[int, ...]:
    """``"5"`` means seeds 0-4, ``"3,7,11"`` those seeds; at least two, for a test to mean anything."""
    if text is None:
        return tuple(default)
    try:
        seeds = tuple(range(int(text))) if "," not in text else tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ConfigError(f"--bt-seeds={text!r} is not understood: expected a count like 3 or a "
                          "comma list like 0,1,2") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ConfigError(f"--bt-seeds={text!r} gives {seeds}: expected at least 2 distinct seeds >= 0, "
                          "since every claim is a test over seeds")
    return seeds


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--bt-device={name!r} is unknown: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--bt-device={name!r} but no CUDA device is available: expected auto or cpu")
    return device


def build_session(getoption: Callable[[str], Any], *, worker: str, command: Sequence[str]) -> Session:
    from .models import create_backbone

    scale = get_scale(getoption("--bt-scale"))
    arch = getoption("--bt-arch")
    if arch:
        create_backbone(arch)                      # fails early, with the list of known names
    seeds = parse_seeds(getoption("--bt-seeds"), scale.seeds)
    scale = scale.with_overrides(arch=arch, seeds=seeds)
    unknown = set(getoption("--bt-target") or ()) - set(scale.targets)
    if unknown:
        raise ConfigError(f"--bt-target {sorted(unknown)} unknown at scale {scale.name}: expected "
                          f"some of {', '.join(scale.targets)}")
    output = Path(getoption("--bt-output"))
    check_writable(output, "results directory (--bt-output)")
    data_root = getoption("--bt-data-root")
    ctx = Context(scale, Cache(getoption("--bt-cache")), resolve_device(getoption("--bt-device")),
                  Path(data_root) if data_root else None, progress=getoption("--bt-progress"))
    return Session(ctx, seeds, Path(getoption("--bt-baselines")), output,
                   update_baselines=getoption("--bt-update-baselines"), command=command, worker=worker)


def known_names(session: Session) -> str:
    from pathlib import Path as _P

    cases = sorted(p.stem.removeprefix("test_") for p in (_P(__file__).parent.parent / "cases").glob("test_*.py"))
    return (f"Known cases: {', '.join(cases)}; targets at scale {session.scale.name}: "
            f"{', '.join(session.scale.targets)}; modes: fixed-feature, full.")


def finish_report(session: Session) -> list[str]:
    """Merge the workers' rows, write results and figures, print the table; returns summary lines."""

    from . import report

    rows = collect_rows(session.output_dir)
    if not rows:
        return []
    run = session.run_info()
    paths = report.write(session.output_dir, rows, run)
    report.print_table(rows, run)
    lines = [f"results: {paths['json']}  {paths['csv']}  {paths['summary']}"]
    figs = [str(p) for k, p in paths.items() if k.startswith("fig")]
    if figs:
        lines.append("figures: " + "  ".join(figs))
    if session.update_baselines:
        lines.append(f"baselines recorded under {session.baselines_dir / session.scale.name}")
    return lines
