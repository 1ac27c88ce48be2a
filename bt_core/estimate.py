"""How far a run is and how long it has left, from its progress events.

A run is sequential (each check takes more seeds only while undecided), so its models are not
known up front. The plan starts from what each selected check did last time: the seeds its baseline
(or the previous run in the output folder) took and the families of models it asked for. Every
event corrects it: a check that goes on past its planned seeds is planned to its next look, one
that ends is done, and the families a check asks for join its plan. A model's cost is what models
of its family took to build in this run; for a family not built yet, its recorded seconds (the
timing file of :mod:`bt_core.timing`, or this host's builds in the cache), times how much slower this
run builds the families both have seen (else its kind's mean: source, full, linear-probe, scratch);
the remaining time is the remaining work over the work done so far, times the time that took, so
pytest-xdist workers, data generation and evaluation are in the rate, and models found in the cache
cost nothing.
"""
from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import baselines, results
from .errors import BTError
from .families import kind_of
from .session import case_name, check_key


@dataclass(frozen=True)
class Prior:
    """What a check did last time: its seeds (None: not recorded) and the model families it used
    (None: not recorded, e.g. baselines recorded before families were)."""

    seeds: int | None = None
    families: tuple[str, ...] | None = None


def key_of(nodeid: str) -> str:
    """The check key (see :func:`bt_core.session.check_key`) of a case's pytest node id."""
    path, _, name = nodeid.partition("::")
    return check_key(case_name(path), name.rpartition("::")[2] or name)


def priors(checks: Iterable[str], *, baselines_dir: Path, output_dir: Path, scale: str,
           arch: str, baseline_arch: str | None = None) -> dict[str, Prior]:
    """Each check's prior from its baseline (``baseline_arch``'s file, see
    :func:`bt_core.baselines.path_for`), else from the previous run's results in ``output_dir``;
    only records made with this scale and architecture count. Unreadable records count as none: the
    run reports those itself, and a guess needs none of them."""
    previous: dict[str, dict[str, Any]] = {}
    try:
        verdicts, run = results.read(output_dir)
        if run.get("scale") == scale and run.get("arch") == arch:
            previous = {check_key(v["claim"], v["check"]): v for v in verdicts}
    except (BTError, KeyError, TypeError):
        pass
    out, loaded = {}, {}
    for key in checks:
        case, _, name = key.partition("::")
        if case not in loaded:
            try:
                loaded[case] = baselines.load(baselines_dir, scale, case, baseline_arch)
            except BTError:
                loaded[case] = {}
        base = loaded[case].get(name)
        prov = base["provenance"] if base and base["provenance"].get("arch") == arch else None
        last = previous.get(key)
        seeds = base["n"] if prov else (len(last["seeds"]) if last else None)
        families = prov.get("models") if prov else None
        if families is None and last:
            families = last.get("context", {}).get("models")
        out[key] = Prior(seeds, tuple(families) if families is not None else None)
    return out


class RunEstimate:
    """The run's state as the events tell it, and what it expects still to come."""

    def __init__(self, checks: dict[str, Prior], looks: Sequence[int], seeds_of: Callable[[int], list[int]],
                 start: float, recorded: Mapping[str, float] | None = None):
        self.prior, self.looks, self.seeds_of, self.start = dict(checks), tuple(looks), seeds_of, start
        self.recorded = dict(recorded or {})                     # family -> build s when recorded
        self.taken: dict[str, int] = defaultdict(int)            # check -> seeds begun
        self.ended: dict[str, bool] = {}                         # check -> failed
        self.used: dict[str, set[str]] = defaultdict(set)        # check -> families asked for
        self.models: dict[tuple[str, int], float | None] = {}    # (family, seed) -> build s, None: cached
        self.building: dict[str, dict[str, Any]] = {}            # worker -> the model it builds
        self._check_of: dict[str, str] = {}
        # time spent inside check seeds (a check event to its measured event), and the models built
        # there: other tests in the same session (bt test, CI) neither slow the rate nor add overhead
        self._open: dict[str, float] = {}                        # worker -> its check seed's start
        self._busy = 0.0
        self._built_inside = 0.0
        self._first_check: float | None = None

    # --- events --------------------------------------------------------------------------
    def feed(self, worker: str, ev: dict[str, Any]) -> dict[str, Any] | None:
        """Take one event; returns the event when it is a model that was built (a line to print)."""
        kind = ev["ev"]
        if kind == "check":
            self._check_of[worker] = ev["check"]
            self.taken[ev["check"]] += 1
            self.prior.setdefault(ev["check"], Prior())
            self._open[worker] = ev["t"]          # a seed that raised never sent "measured": dropped
            self._first_check = ev["t"] if self._first_check is None else min(ev["t"], self._first_check)
        elif kind == "measured" and worker in self._open:
            self._busy += max(ev["t"] - self._open.pop(worker), 0.0)
        elif kind == "build":
            self.building[worker] = {"family": ev["family"], "seed": ev["seed"], "since": ev["t"],
                                     "epoch": 0.0, "epochs": None, "ips": 0.0}
        elif kind == "train" and worker in self.building:
            self.building[worker].update(epoch=ev["epoch"], epochs=ev["epochs"], ips=ev["ips"])
        elif kind == "model":
            pair = (ev["family"], ev["seed"])
            if worker in self._check_of:
                self.used[self._check_of[worker]].add(ev["family"])
            if not ev["hit"]:
                self.models[pair] = ev["wall_s"]
                if worker in self._open:
                    self._built_inside += ev["wall_s"]
                self.building.pop(worker, None)
                return ev
            self.models.setdefault(pair, None)
        return None

    def item_done(self, check: str, failed: bool) -> None:
        """pytest finished the check's test (passed, failed or skipped)."""
        self.ended[check] = failed
        self.prior.setdefault(check, Prior())

    # --- counts --------------------------------------------------------------------------
    def expected_seeds(self, check: str) -> int:
        taken = self.taken.get(check, 0)
        if check in self.ended:
            return taken
        planned = self.prior[check].seeds or self.looks[0]
        if taken > planned:          # it went on past last time's seeds: at least to its next look
            planned = next((n for n in self.looks if n >= taken), taken)
        return max(planned, taken)

    def pending(self) -> tuple[set[tuple[str, int]], int]:
        """Models the plan still expects, and a guess of the models of checks whose families are not
        known at all (a check not yet begun, with no record)."""
        wanted: set[tuple[str, int]] = set()
        blind = 0.0
        for check, prior in self.prior.items():
            n = self.expected_seeds(check)
            families = set(prior.families or ()) | self.used.get(check, set())
            if prior.families is None and check not in self.taken and check not in self.ended:
                blind += n * self._new_per_check_seed()
            wanted |= {(f, s) for f in families for s in self.seeds_of(n)}
        return wanted - self.models.keys(), blind

    @property
    def built(self) -> int:
        return sum(w is not None for w in self.models.values())

    @property
    def cached(self) -> int:
        return sum(w is None for w in self.models.values())

    @property
    def check_seeds(self) -> int:
        return sum(self.taken.values())

    def _new_per_check_seed(self) -> float:
        """The rough guess for a check with no record: the models a check seed has asked for first,
        on average over the run so far."""
        return len(self.models) / self.check_seeds if self.check_seeds else 0.0

    def total_models(self) -> tuple[int, bool]:
        """Models the run is expected to ask for in all, and whether that is only a rough guess."""
        todo, blind = self.pending()
        return len(self.models) + len(todo) + round(blind), any(
            p.families is None and c not in self.taken and c not in self.ended for c, p in self.prior.items())

    def checks(self) -> tuple[int, int, int]:
        """Checks ended, of checks selected, and how many of the ended failed."""
        return len(self.ended), len(self.prior), sum(self.ended.values())

    # --- time ----------------------------------------------------------------------------
    def speed(self) -> float:
        """This run's build seconds over the recorded ones, on the models built so far whose family
        has a record (1 before there is one)."""
        pairs = [(w, self.recorded[f]) for (f, _), w in self.models.items()
                 if w is not None and self.recorded.get(f)]
        return sum(w for w, _ in pairs) / sum(r for _, r in pairs) if pairs else 1.0

    def cost(self, family: str) -> float | None:
        """Seconds one worker takes to build a model of ``family``: its family's mean so far, else
        its recorded time scaled to this run, else its kind's mean, else every built model's."""
        walls = [(f, w) for (f, _), w in self.models.items() if w is not None]
        if self.recorded.get(family) and not any(f == family for f, _ in walls):
            return self.recorded[family] * self.speed()
        for match in (lambda f: f == family, lambda f: kind_of(f) == kind_of(family), lambda f: True):
            same = [w for f, w in walls if match(f)]
            if same:
                return statistics.fmean(same)
        return None

    def remaining_s(self, now: float) -> float | None:
        """Seconds left, or None until the first model is built."""
        walls = [w for w in self.models.values() if w is not None]
        busy = self._busy + sum(max(now - start, 0.0) for start in self._open.values())
        if not walls or busy <= 0 or self._first_check is None:
            return None
        overhead = max(busy - self._built_inside, 0.0) / max(self.check_seeds, 1)   # data, evaluation
        todo, blind = self.pending()
        asked = len(self.models)
        miss = self.built / asked if asked else 1.0       # a warm cache will hand most models over
        seeds_left = sum(self.expected_seeds(c) for c in self.prior) - self.check_seeds
        work = (miss * (sum(self.cost(f) for f, _ in todo) + blind * statistics.fmean(walls))
                + overhead * max(seeds_left, 0))
        for b in self.building.values():           # what the models in progress have already done
            work -= min(now - b["since"], self.cost(b["family"]) or 0.0) * miss
        # workers in parallel, counted from the first check: tests run before it are not the run's work
        elapsed = max(now - self._first_check, 1e-9)
        return max(work, 0.0) * elapsed / busy


def read_events(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The complete event lines of ``path`` from byte ``offset``, and the offset after them. A file
    shorter than ``offset`` was written anew and is read from its start; a line that is not an event
    is passed over (a display needs no event to be exact)."""
    try:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) < offset:
                offset = 0
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    events = []
    for line in data[:end].splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events, offset + end
