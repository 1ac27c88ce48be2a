"""One benchmark run: its context, seeds, baselines and the verdicts it collects.

The pytest plugin (``conftest.py``) builds one per process; cases call :meth:`Session.check` with
per-seed values and get a verdict that is judged, compared with (or recorded as) the baseline, and
appended to the run's rows, which the controlling process turns into the report.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from filelock import FileLock

from . import baselines
from .claims import Verdict, judge
from .config import get_scale
from .experiment import Context, Evaluation, SourceSpec

ROWS_DIR = ".rows"


@dataclass
class Session:
    ctx: Context
    seeds: tuple[int, ...]
    baselines_dir: Path
    output_dir: Path
    update_baselines: bool = False
    command: Sequence[str] = ()
    worker: str = "main"
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def scale(self):
        return self.ctx.scale

    @property
    def arch(self) -> str:
        return self.ctx.scale.arch

    def run_info(self) -> dict[str, Any]:
        return {"scale": self.scale.name, "arch": self.arch, "seeds": list(self.seeds),
                "device": str(self.ctx.device), "commit": baselines.commit(),
                "command": " ".join(self.command), "scale_config": self.scale.describe()}

    @property
    def clean_source(self) -> SourceSpec:
        return SourceSpec()

    @property
    def triggered_source(self) -> SourceSpec:
        return SourceSpec(trigger_fraction=self.scale.trigger_fraction)

    # --- running experiments over seeds ------------------------------------------------------
    def over_seeds(self, fn: Callable[[int], float]) -> np.ndarray:
        return np.array([fn(seed) for seed in self.seeds], dtype=np.float64)

    def transfer(self, source: SourceSpec | None, target: str, mode: str, seed: int, **kw) -> Evaluation:
        return self.ctx.transfer(source, target, mode, seed, **kw)

    # --- judging -----------------------------------------------------------------------------
    def known_shortfall(self, table: Mapping[str, str], case_id: str) -> str | None:
        """The measured reason ``case_id`` falls short at the mini scale, when this run repeats
        that measurement (the scale's default seeds and architecture); any other run is a plain
        check, since other seeds or another architecture can pass it."""
        default = get_scale(self.scale.name)
        repeats = self.scale.name == "mini" and self.seeds == default.seeds and self.arch == default.arch
        return table.get(case_id) if repeats else None

    def check(self, *, case: str, check: str, claim: str, metric: str, values: Sequence[float],
              expect: str = "greater", threshold: float = 0.0, context: dict[str, Any] | None = None) -> Verdict:
        """Judge per-seed ``values``, compare with or record the baseline, and keep the row."""
        context = {"seeds": list(self.seeds), "threshold": threshold, **(context or {})}
        recorded = None if self.update_baselines else self._baseline(case, check)
        verdict = judge(check, claim, metric, values, expect=expect, threshold=threshold,
                        baseline=recorded, context=context)
        if recorded is None and not self.update_baselines:
            verdict.context["baseline_note"] = (f"no baseline recorded for {check!r} at scale "
                                                f"{self.scale.name} with arch {self.arch}")
        if self.update_baselines:
            prov = baselines.provenance(scale=self.scale.name, seeds=self.seeds, arch=self.arch,
                                        command=self.command, device=str(self.ctx.device))
            baselines.record(self.baselines_dir, self.scale.name, case, check, verdict.summary,
                             verdict.values, prov)
        self.verdicts.append(verdict)
        self._append_row(verdict)
        return verdict

    def _baseline(self, case: str, check: str) -> dict[str, Any] | None:
        entry = baselines.load(self.baselines_dir, self.scale.name, case).get(check)
        if entry is None or entry["provenance"].get("arch") != self.arch:
            return None
        return entry

    def _append_row(self, verdict: Verdict) -> None:
        rows = self.output_dir / ROWS_DIR
        rows.mkdir(parents=True, exist_ok=True)
        path = rows / f"{self.worker}.jsonl"
        with FileLock(str(path) + ".lock"), open(path, "a") as f:
            f.write(json.dumps(verdict.as_dict(), default=float) + "\n")


def collect_rows(output_dir: Path) -> list[dict[str, Any]]:
    """Every verdict written by every worker of the run, in check order."""
    rows = []
    for path in sorted((output_dir / ROWS_DIR).glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: (r["claim"], r["check"]))


def check_writable(folder: Path, what: str) -> None:
    from .errors import ConfigError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{what} {str(folder)!r} is not writable ({exc.strerror}): expected a "
                          "folder this user can write") from None
