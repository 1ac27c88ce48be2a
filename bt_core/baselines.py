"""Recorded baselines: written only by a run with ``--bt-update-baselines``, never by hand.

``baselines/<scale>/<case>.json`` maps each check to the seed values it produced and how they were
produced (command, seeds, scale, architecture, library versions, commit), so a later run can tell
a regression from noise and a reader can tell where every number came from. Those are the scale's
default architecture's; another architecture's sit beside them in ``baselines/<scale>/<arch>/``, so
recording one never rewrites the other's.
"""
from __future__ import annotations

import datetime as _dt
import json
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from filelock import FileLock

from . import atomic
from .errors import BaselineError

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("torch", "torchvision", "ffcv", "numpy", "numba")


def commit() -> str:
    """The checkout's commit, marked ``-dirty`` when the work tree has uncommitted changes outside
    ``baselines/`` (which a recording run itself rewrites as it goes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)baselines"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(*, scale: str, seeds: Sequence[int], arch: str, command: Sequence[str],
               device: str, precision: str = "fp32", compile: str = "none", plan: dict[str, Any] | None = None,
               revision: str | None = None, models: Sequence[str] = ()) -> dict[str, Any]:
    """How a check's baseline was produced: ``seeds`` are the seeds that check used, ``plan`` the
    run's seed plan (sequential design or fixed list), ``revision`` the commit the run started from
    (default: the checkout's now), ``models`` the families of models it asked for (which lets the
    next cold run foresee the models it will train; how long they took is in :mod:`bt_core.timing`)."""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"command": " ".join(command), "seeds": list(seeds), "models": list(models),
            "plan": _plan_brief(plan), "scale": scale,
            "arch": arch,
            "device": device, "precision": precision, "compile": compile, "commit": revision or commit(), "python": platform.python_version(),
            "versions": versions, "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def _plan_brief(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """The plan without its boundaries (results.json keeps those): kind, first seed, looks."""
    return None if plan is None else {k: v for k, v in plan.items() if k != "design"}


def path_for(root: Path, scale: str, case: str, arch: str | None = None) -> Path:
    """The file of ``case``'s baselines: the scale's default architecture's (``arch`` None), or the
    folder of ``arch`` beside them (its name with anything but letters, digits, ``._-`` as ``_``)."""
    folder = Path(root) / scale
    if arch is not None:
        folder = folder / re.sub(r"[^A-Za-z0-9._-]", "_", arch)
    return folder / f"{case}.json"


def load(root: Path, scale: str, case: str, arch: str | None = None) -> dict[str, Any]:
    """The checks recorded for ``case`` at ``scale`` with ``arch`` (None: the scale's default
    architecture); {} when none were recorded yet."""
    path = path_for(root, scale, case, arch)
    if not path.exists():
        return {}
    try:
        blob = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline file {str(path)!r} is not valid JSON ({exc}): re-record it with "
                            "`pytest -m paper --bt-update-baselines`") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("checks"), dict):
        raise BaselineError(f"baseline file {str(path)!r} is malformed: expected an object with a "
                            "'checks' mapping")
    if blob.get("scale") != scale:
        raise BaselineError(f"baseline file {str(path)!r} was recorded at scale {blob.get('scale')!r}, "
                            f"expected {scale!r}")
    for check, entry in blob["checks"].items():
        if not isinstance(entry, dict):
            raise BaselineError(f"baseline {check!r} in {str(path)!r} is malformed: expected an object")
        missing = {"n", "mean", "std", "values", "provenance"} - set(entry)
        if missing:
            raise BaselineError(f"baseline {check!r} in {str(path)!r} lacks {sorted(missing)}")
    return blob["checks"]


def record(root: Path, scale: str, case: str, check: str, summary: dict[str, float],
           values: Sequence[float], prov: dict[str, Any], arch: str | None = None) -> Path:
    """Add or replace one check's baseline of ``arch`` (None: the scale's default architecture); safe
    when several pytest-xdist workers record at once."""
    path = path_for(root, scale, case, arch)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        checks = load(root, scale, case, arch)
        checks[check] = {"n": int(summary["n"]), "mean": summary["mean"], "std": summary["std"],
                         "values": list(values), "provenance": prov}
        blob = {"scale": scale, "case": case,
                "note": "written by `pytest -m paper --bt-update-baselines`; do not edit by hand",
                "checks": dict(sorted(checks.items()))}
        atomic.write_text(path, json.dumps(blob, indent=2) + "\n")
    return path
