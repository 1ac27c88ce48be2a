"""Builds handed to an existing engine: submitit's local processes or Slurm job arrays.

A build is a :class:`~bt_core.plan.Request` replayed in a fresh process that shares the artifact cache;
the process publishes the model and its predictions there, and the driver only waits. Builds are
bundled into at most ``jobs`` jobs per wave (hundreds of one-second mini builds would swamp a
scheduler; at the paper scale one build a job). A job that dies without a result (killed, node lost)
is resubmitted up to ``max_resubmits`` times; a build that raises is a failure with its job's log.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import ConfigError
from .plan import Need, Request, waves

EXECUTORS = ("inline", "local", "slurm")
POLL_S = 2.0
VANISHED_POLLS = 3          # a Slurm job absent from squeue this many polls in a row, with no result, died


@dataclass(frozen=True)
class ContextSetup:
    """What a worker process needs to rebuild the run's context (everything but the display)."""

    scale: Any
    cache_root: str
    device: str
    data_root: str | None = None
    target_dir: str | None = None
    precision: str = "fp32"
    compile: str = "none"

    def context(self) -> Any:
        import torch

        from .cache import Cache
        from .experiment import Context

        return Context(self.scale, Cache(self.cache_root), torch.device(self.device),
                       Path(self.data_root) if self.data_root else None,
                       target_dir=Path(self.target_dir) if self.target_dir else None, precision=self.precision,
                       compile=self.compile)


@dataclass(frozen=True)
class ExecutorOptions:
    """How builds are run: the engine, the number of jobs a wave is spread over, and Slurm's resources."""

    kind: str = "inline"
    jobs: int = 2
    max_resubmits: int = 2
    logs: str = "bt-results/jobs"
    gpus: int = 0                           # GPUs on this machine (local) or per job (slurm)
    partition: str | None = None
    time_min: int = 60
    cpus: int = 2
    mem_gb: int | None = None
    sbatch: tuple[tuple[str, str], ...] = ()  # extra sbatch flags, e.g. (("account", "lab"),)

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"--bt-executor={self.kind!r} is unknown: expected one of {', '.join(EXECUTORS)}")
        for name in ("jobs", "time_min", "cpus"):
            if getattr(self, name) < 1:
                raise ConfigError(f"executor option {name}={getattr(self, name)!r}: expected a whole number >= 1")
        if self.max_resubmits < 0 or self.gpus < 0:
            raise ConfigError(f"max_resubmits={self.max_resubmits!r}, gpus={self.gpus!r}: expected numbers >= 0")


@dataclass
class Failure:
    """A build that did not produce its model: which, why, and where its job wrote its log."""

    need: Need
    error: str
    log: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.need.name, "seed": self.need.seed, "entry": self.need.key,
                "error": self.error, "log": self.log}


@dataclass
class BuildReport:
    built: int = 0
    jobs: int = 0
    resubmitted: int = 0
    failures: list[Failure] = field(default_factory=list)


def build_bundle(setup: ContextSetup, items: Sequence[tuple[Request, tuple[str, ...]]],
                 gpu: int | None = None) -> list[str | None]:
    """The job: replay each request in a fresh context; one error string (or None) per item."""
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)    # before the first CUDA call of this process
    ctx = setup.context()
    out: list[str | None] = []
    for request, probes in items:
        try:
            request.replay(ctx, probes)
            out.append(None)
        except Exception as exc:                         # reported per build; the job goes on
            traceback.print_exc(file=sys.stderr)
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def bundles(needs: Sequence[Need], jobs: int) -> list[list[Need]]:
    """Spread ``needs`` over at most ``jobs`` bundles, round robin (a wave's builds cost alike)."""
    count = max(1, min(jobs, len(needs)))
    return [list(needs[i::count]) for i in range(count)]


def _submitit_executor(opts: ExecutorOptions, folder: Path) -> Any:
    import submitit

    if opts.kind == "local":
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=opts.time_min)
        return executor
    executor = submitit.SlurmExecutor(folder=str(folder), max_num_timeout=opts.max_resubmits)
    params: dict[str, Any] = {"time": opts.time_min, "cpus_per_task": opts.cpus, "ntasks_per_node": 1,
                              "nodes": 1, "job_name": "bt-build"}
    if opts.partition:
        params["partition"] = opts.partition
    if opts.gpus:
        params["gpus_per_node"] = opts.gpus
    if opts.mem_gb:
        params["mem"] = f"{opts.mem_gb}GB"
    if opts.sbatch:
        params["additional_parameters"] = dict(opts.sbatch)
    executor.update_parameters(**params)
    return executor


def _in_squeue(job_ids: Sequence[str]) -> set[str]:
    """The ids of ``job_ids`` Slurm still knows (pending, running, completing, requeued)."""
    masters = sorted({j.split("_")[0] for j in job_ids})
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i", "-j", ",".join(masters)],
                         capture_output=True, text=True, check=False)
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


class SubmititBuilder:
    """Builds a plan's needs wave by wave through submitit, resubmitting jobs that die."""

    def __init__(self, setup: ContextSetup, opts: ExecutorOptions, say: Callable[[str], None] = print):
        self.setup, self.opts, self.say = setup, opts, say
        self.folder = Path(opts.logs)
        self.executor = _submitit_executor(opts, self.folder / "%j")

    def build(self, needs: Sequence[Need]) -> BuildReport:
        report = BuildReport()
        failed: set[Path] = set()
        for number, wave in enumerate(waves(needs), 1):
            runnable = []
            for need in wave:
                if any(d in failed for d in need.deps):
                    failed.add(need.entry)
                    report.failures.append(Failure(need, "a model it is transferred from failed to build"))
                else:
                    runnable.append(need)
            if not runnable:
                continue
            self.say(f"wave {number}: {len(runnable)} builds in {len(bundles(runnable, self.opts.jobs))} "
                     f"{self.opts.kind} jobs")
            for failure in self._run_wave(runnable, report):
                failed.add(failure.need.entry)
                report.failures.append(failure)
        return report

    def _submit(self, groups: list[list[Need]]) -> list[Any]:
        # jobs share the cores: idle OpenMP threads must sleep, not spin (the floats do not change)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        gpus = self.opts.gpus if self.opts.kind == "local" else 0
        args = [(self.setup, [(n.request, tuple(sorted(n.probes))) for n in g], i % gpus if gpus else None)
                for i, g in enumerate(groups)]
        with self.executor.batch():
            jobs = [self.executor.submit(build_bundle, *a) for a in args]
        return jobs

    def _run_wave(self, wave: list[Need], report: BuildReport) -> list[Failure]:
        groups = bundles(wave, self.opts.jobs)
        jobs = self._submit(groups)
        report.jobs += len(jobs)
        try:
            return self._wait(groups, jobs, report)
        except BaseException:                    # Ctrl-C or an error of the driver: no job outlives it
            for job in jobs:
                job.cancel(check=False)
            raise

    def _wait(self, groups: list[list[Need]], jobs: list[Any], report: BuildReport) -> list[Failure]:
        tries = [0] * len(groups)
        absent = [0] * len(groups)
        results: list[list[str | None] | None] = [None] * len(groups)
        failures: list[Failure] = []
        while any(r is None for r in results):
            time.sleep(POLL_S)
            alive = _in_squeue([j.job_id for j in jobs]) if self.opts.kind == "slurm" else None
            for i, job in enumerate(jobs):
                if results[i] is not None:
                    continue
                outcome = self._outcome(job, alive, absent, i)
                if outcome is None:
                    continue
                if outcome == "died":
                    if tries[i] >= self.opts.max_resubmits:
                        results[i] = []
                        failures += [Failure(n, f"its job died without a result {tries[i] + 1} times",
                                             str(job.paths.stderr)) for n in groups[i]]
                        continue
                    tries[i] += 1
                    report.resubmitted += 1
                    self.say(f"job {job.job_id} died without a result: resubmitting its {len(groups[i])} "
                             f"builds ({tries[i]}/{self.opts.max_resubmits})")
                    jobs[i], absent[i] = self._submit([groups[i]])[0], 0
                    report.jobs += 1
                    continue
                if isinstance(outcome, BaseException):
                    results[i] = []
                    failures += [Failure(n, _last_line(outcome), str(job.paths.stderr)) for n in groups[i]]
                    continue
                results[i] = outcome
                for need, error in zip(groups[i], outcome):
                    if error is None:
                        report.built += 1
                    else:
                        failures.append(Failure(need, error, str(job.paths.stderr)))
        return failures

    def _outcome(self, job: Any, alive: set[str] | None, absent: list[int], i: int) -> Any:
        """None while the job runs; its result; the exception it raised; or "died"."""
        from submitit.core.utils import UncompletedJobError

        finished = job.paths.result_pickle.exists() if alive is not None else job.done()
        if not finished and alive is not None:
            absent[i] = 0 if job.job_id in alive else absent[i] + 1
            finished = absent[i] >= VANISHED_POLLS
        if not finished:
            return None
        if alive is not None and not job.paths.result_pickle.exists():
            return "died"
        try:
            return job.result()
        except UncompletedJobError:
            return "died"
        except Exception as exc:              # the job raised: submitit hands its traceback over
            return exc


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
