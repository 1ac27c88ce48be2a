"""One benchmark run: its context, seeds, baselines and the verdicts it collects.

The pytest plugin (``benchmark/pytest_plugin.py``) builds one per process; cases call :meth:`Session.check` with
a per-seed measurement, which the session calls on as many seeds as the check's design needs; the
verdict is compared with (or recorded as) the baseline and appended to the run's rows, which the
controlling process turns into the report.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from filelock import FileLock

from . import baselines, phases, sequential
from .sequential import HOLDS
from .claims import Measurement, Verdict, judge, status
from .config import get_scale
from .engine import machine_id
from .errors import ConfigError
from .events import Observer
from .executors import ExecutorOptions
from .experiment import Context, Evaluation, SourceSpec
from .families import Family

ROWS_DIR = "rows"
PHASES_DIR = "phases"
WORK_PREFIX = ".run-"


@dataclass(frozen=True)
class SeedPlan:
    """The seeds a check is measured on: the looks of a group-sequential design counted from
    ``first`` (the default), or a fixed list judged by a one-look design."""

    design: sequential.Design
    first: int = 0
    fixed: tuple[int, ...] | None = None

    def seeds(self, n: int) -> list[int]:
        return list(self.fixed[:n]) if self.fixed else list(range(self.first, self.first + n))

    def describe(self) -> dict[str, Any]:
        if self.fixed:
            return {"kind": "fixed", "seeds": list(self.fixed), "alpha": self.design.spec.alpha}
        return {"kind": "sequential", "first": self.first, "looks": list(self.design.looks),
                "design": self.design.as_dict()}


@dataclass
class Session:
    ctx: Context
    plan: SeedPlan
    baselines_dir: Path
    output_dir: Path
    update_baselines: bool = False
    force_baselines: bool = False        # record a check's baseline even when it did not hold (marked so)
    command: Sequence[str] = ()
    worker: str = "main"
    run_id: str = "solo"                 # the controlling process's; its workers get it from xdist
    given: SourceSpec | None = None      # a pre-trained source (--bt-source-weights) replaces the clean one
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)
    capture: list | None = None          # while the driver collects the checks: their specs, nothing judged
    drive_report: Any = None             # what the executor built, look by look, and what failed
    # the tree the run started from: a long run's results describe that code, whatever changes later
    commit: str = field(default_factory=baselines.commit)

    @property
    def scale(self):
        return self.ctx.scale

    @property
    def work_dir(self) -> Path:
        """This run's scratch folder in the output folder (verdict rows and progress events of its
        processes), apart from another run writing to the same output folder at the same time, such
        as a test that starts pytest itself."""
        return self.output_dir / f"{WORK_PREFIX}{self.run_id}"

    @property
    def arch(self) -> str:
        return self.ctx.scale.arch

    @property
    def baseline_arch(self) -> str | None:
        """Whose baselines this run compares with and records: None for the scale's default
        architecture (``baselines/<scale>/``), else this run's (``baselines/<scale>/<arch>/``)."""
        return None if self.arch == get_scale(self.scale.name).arch else self.arch

    def run_info(self) -> dict[str, Any]:
        built = {}
        if self.drive_report is not None:
            built = {"looks": self.drive_report.looks,
                     "failed_builds": [f.as_dict() for f in self.drive_report.failures]}
        return {"scale": self.scale.name, "arch": self.arch, "seeds": self.plan.describe(),
                "device": str(self.ctx.device), "machine": machine_id(self.ctx.device),
                "precision": self.ctx.precision, "compile": self.ctx.compile, "commit": self.commit,
                "executor": {"kind": self.executor.kind, **built},
                "command": " ".join(self.command), "scale_config": self.scale.describe(), **self.audited()}

    @property
    def auditing(self) -> bool:
        """Whether the run audits a given model or target rather than reproducing the paper."""
        return self.given is not None or self.ctx.target_dir is not None

    def audited(self) -> dict[str, Any]:
        """What a given source and target are, for every result of an audit."""
        out: dict[str, Any] = {}
        if self.given is not None:
            out["source_weights"] = {"path": self.given.weights, "sha256": self.given.weights_sha256,
                                     "arch": self.given.arch}
        if self.ctx.target_dir is not None:
            out["target_dir"] = str(self.ctx.target_dir)
        return out

    @property
    def clean_source(self) -> SourceSpec:
        return self.given or SourceSpec()

    @property
    def triggered_source(self) -> SourceSpec:
        return SourceSpec(trigger_fraction=self.scale.trigger_fraction)

    def transfer(self, source: SourceSpec | None, target: str, mode: str, seed: int, **kw) -> Evaluation:
        return self.ctx.transfer(source, target, mode, seed, **kw)

    # --- judging -----------------------------------------------------------------------------
    def check(self, *, case: str, check: str, claim: str, metric: str,
              measure: Callable[[int], float | Measurement], expect: str = "greater", threshold: float = 0.0,
              context: dict[str, Any] | None = None) -> Verdict:
        """Measure seeds until the plan's design decides, judge them, compare with or record the
        baseline, and keep the row. Only the seeds an undecided check asks for are trained."""
        events, key = self.ctx.events, check_key(case, check)
        design = self.plan.design
        taken: list[Measurement] = []
        events.emit("check_begun", case, check)
        with events.watching(_Families()) as used:
            for look in design.looks:
                for seed in self.plan.seeds(look)[len(taken):]:
                    events.emit("seed_begun", key, seed)
                    m = measure(seed)
                    events.emit("seed_measured", key, seed)
                    m = m if isinstance(m, Measurement) else Measurement(float(m))
                    if not math.isfinite(m.value):
                        raise ConfigError(f"{check}: the measurement on seed {seed} is {m.value}: expected a finite "
                                          f"number (is the metric defined for this model, e.g. any image correct?)")
                    taken.append(m)
                if status([m.value for m in taken], design, expect=expect, threshold=threshold) != sequential.CONTINUE:
                    break
        seeds = self.plan.seeds(len(taken))
        parts = {k: [m.parts.get(k) for m in taken] for k in dict.fromkeys(k for m in taken for k in m.parts)}
        models = sorted(used.families)
        context = {"seeds": seeds, "threshold": threshold, "models": models, **(context or {}),
                   **({"components": parts} if parts else {}), **self.audited()}
        if self.given is not None:
            context["source"] = self.given.label
        recorded = None if self.update_baselines else self._baseline(case, check)
        verdict = judge(check, claim, metric, [m.value for m in taken], design=design, seeds=seeds,
                        expect=expect, threshold=threshold, baseline=recorded, context=context)
        if recorded is None and not self.update_baselines:
            verdict.context["baseline_note"] = ("an audit of a given model or target has no baseline" if self.auditing
                                                else f"no baseline recorded for {check!r} at scale "
                                                     f"{self.scale.name} with arch {self.arch}")
        if self.update_baselines:
            self._record(case, verdict, seeds, models)
        self._append_row(verdict)
        events.emit("check_ended", case, check)
        return verdict

    def _record(self, case: str, verdict: Verdict, seeds: list[int], models: list[str]) -> None:
        """Record ``verdict`` as its check's baseline when the check holds; one that does not is
        recorded only with ``force_baselines``, and its provenance says so."""
        if verdict.status != HOLDS and not self.force_baselines:
            verdict.context["baseline_note"] = (f"not recorded as a baseline: the check {verdict.status} "
                                                "(--bt-force-baselines records it anyway, marked as forced)")
            return
        prov = baselines.provenance(scale=self.scale.name, seeds=seeds, arch=self.arch,
                                    command=self.command, device=str(self.ctx.device), precision=self.ctx.precision,
                                    compile=self.ctx.compile,
                                    plan=self.plan.describe(), revision=self.commit, models=models)
        if verdict.status != HOLDS:
            prov["forced"] = f"recorded with --bt-force-baselines although the check {verdict.status}"
        baselines.record(self.baselines_dir, self.scale.name, case, verdict.check, verdict.summary,
                         verdict.values, prov, self.baseline_arch)

    def _baseline(self, case: str, check: str) -> dict[str, Any] | None:
        if self.auditing:
            return None
        entry = baselines.load(self.baselines_dir, self.scale.name, case, self.baseline_arch).get(check)
        if entry is None or entry["provenance"].get("arch") != self.arch:
            return None
        return entry

    def _append_row(self, verdict: Verdict) -> None:
        rows = self.work_dir / ROWS_DIR
        rows.mkdir(parents=True, exist_ok=True)
        path = rows / f"{self.worker}.jsonl"
        with FileLock(str(path) + ".lock"), open(path, "a") as f:
            f.write(json.dumps(verdict.as_dict(), default=float) + "\n")


class _Families(Observer):
    """The model families a check asked for: what its verdict and baseline say it cost."""

    def __init__(self):
        self.families: set[str] = set()

    def model_ready(self, family: Family, seed: int, entry: Path, hit: bool) -> None:
        self.families.add(str(family))


def case_name(path: str | Path) -> str:
    """A claim's case name from its file under cases/ (``cases/test_backdoor_fixed.py`` -> ``backdoor_fixed``)."""
    return Path(path).stem.removeprefix("test_")


def check_key(case: str, check: str) -> str:
    """How the progress display names a check: its case and its pytest name."""
    return f"{case}::{check}"


class TornRecordWarning(UserWarning):
    """A worker killed while writing left a row or timing file that cannot be read; it is skipped."""


def _parsed(text: str, path: Path, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        warnings.warn(f"{what} in {str(path)!r} cannot be read (a worker stopped while writing it?): "
                      "skipped", TornRecordWarning, stacklevel=3)
        return None


def collect_rows(work_dir: Path) -> list[dict[str, Any]]:
    """Every verdict written by every worker of the run (its :attr:`Session.work_dir`), in check
    order; a torn line is skipped with a :class:`TornRecordWarning`."""
    rows = []
    for path in sorted((work_dir / ROWS_DIR).glob("*.jsonl")):
        lines = (_parsed(line, path, "a verdict row") for line in path.read_text().splitlines() if line.strip())
        rows += [r for r in lines if isinstance(r, dict) and "claim" in r and "check" in r]
    return sorted(rows, key=lambda r: (r["claim"], r["check"]))


def collect_phases(work_dir: Path) -> dict[str, float]:
    """Seconds per phase inside the checks of every worker of the run; a torn file is skipped with a
    :class:`TornRecordWarning`."""
    parts = (_parsed(p.read_text(), p, "the time by phase") for p in sorted((work_dir / PHASES_DIR).glob("*.json")))
    return phases.merge(part for part in parts if isinstance(part, dict))


def check_writable(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{what} {str(folder)!r} is not writable ({exc.strerror}): expected a "
                          "folder this user can write") from None
