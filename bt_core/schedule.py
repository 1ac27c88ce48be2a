"""What a plan costs: device-hours per build, and the wall time of its waves on N devices.

At the mini scale a build's cost is what this cache recorded for its family (``builds.jsonl``). At the
paper scale, before anything is built, it is estimated from the paper's own figure: one ImageNet
ResNet-18 training (16 epochs, 1.28M images) takes about an hour on one V100 with FFCV (App. A.3 of
arXiv 2207.02842). Other builds are scaled by the images they train on (epochs x training images,
Table 1), by a third for fixed-feature transfer (the backbone runs forward only), and by an
architecture's forward GFLOPs against ResNet-18's, never below one (small networks are bound by the
loader, not by arithmetic).
"""
from __future__ import annotations

import heapq
from typing import Any, Callable, Sequence

from .families import kind_of
from .plan import Need

IMAGENET_TRAIN_IMAGES = 1_281_167                # ILSVRC-2012 training set
SOURCE_HOURS = 1.0                               # App. A.3: "around 1 hr" on a single V100
SOURCE_IMAGES = 16 * IMAGENET_TRAIN_IMAGES       # App. A.1: 16 epochs
FIXED_FEATURE_SHARE = 1 / 3
# Table 1 of arXiv 2207.02842: training images per target
TABLE1_TRAIN_IMAGES = {"birdsnap": 32_677, "caltech101": 3_030, "caltech256": 15_420, "cifar10": 50_000,
                       "cifar100": 50_000, "aircraft": 6_667, "food": 75_750, "flowers": 2_040,
                       "pets": 3_680, "sun397": 19_850, "stanford_cars": 8_144}
# torchvision's model documentation: forward GFLOPs per 224 px image
GFLOPS = {"resnet18": 1.81, "resnet50": 4.09, "vgg16_bn": 15.47, "densenet121": 2.83,
          "mobilenet_v2": 0.30, "shufflenet_v2_x1_0": 0.14}


def train_images(dataset: str) -> int:
    """Training images of one of the paper's datasets (Table 1; Tables 2, 4, 5 for COCO and CelebA)."""
    from .data import registry, splits

    if dataset == "imagenet":
        return IMAGENET_TRAIN_IMAGES
    if dataset in TABLE1_TRAIN_IMAGES:
        return TABLE1_TRAIN_IMAGES[dataset]
    if dataset in registry.POOLED:
        return splits.TABLES[registry.POOLED[dataset][1]].total()
    raise KeyError(f"dataset {dataset!r} has no recorded size: expected imagenet, a Table 1 target or a "
                   f"COCO/CelebA split")


def paper_hours(need: Need, scale: Any) -> float:
    """The estimated V100-hours of one paper-scale build (see the module's docstring)."""
    request = need.request
    if need.kind == "source":
        spec = request.args[0]
        data = spec.data or scale.source_data
        arch = spec.arch or scale.arch
        cfg = scale.source_config(data, arch)
        share = 1.0
    else:
        source, target, mode = request.args[:3]
        kwargs = dict(request.kwargs)
        data, arch = target, (source.arch if source is not None else kwargs.get("arch")) or scale.arch
        cfg = scale.train_config("scratch" if source is None else mode, target)
        share = FIXED_FEATURE_SHARE if mode in ("fixed", "linear-probe") else 1.0
    flops = max(1.0, GFLOPS.get(arch, GFLOPS["resnet18"]) / GFLOPS["resnet18"])
    images = cfg.epochs * train_images(data)
    if need.cached:
        images, share = 0, 0.0                   # predictions only: minutes, not hours
    return SOURCE_HOURS * images / SOURCE_IMAGES * share * flops


def recorded_seconds(builds: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Mean recorded seconds per model family, from a cache's build records."""
    sums: dict[str, list[float]] = {}
    for b in builds:
        if b.get("family"):
            sums.setdefault(b["family"], []).append(float(b["wall_s"]))
    return {f: sum(v) / len(v) for f, v in sums.items()}


def makespan(durations: Sequence[float], devices: int) -> float:
    """Wall time of independent jobs on ``devices`` identical devices, longest first onto the device
    that frees up first (within 4/3 of the best schedule, exact when the jobs divide evenly)."""
    if devices < 1:
        raise ValueError(f"devices={devices!r}: expected at least 1")
    free = [0.0] * min(devices, max(1, len(durations)))
    heapq.heapify(free)
    for d in sorted(durations, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def wall_time(waves: Sequence[Sequence[Need]], cost: Callable[[Need], float], devices: int) -> float:
    """The driver's wall time for a look: its waves one after the other, each spread over the devices."""
    return sum(makespan([cost(n) for n in wave], devices) for wave in waves)


def look_needs(ctx: Any, seed_plan: Any, checks: Sequence[Any], most_seeds: int, *,
               allow_missing_data: bool) -> tuple[list[tuple[int, list[Need]]], set[str]]:
    """For each look up to ``most_seeds``, the models it adds if every check is still undecided there;
    and the datasets that were planned by name only (not found)."""
    from .plan import trace

    seen: set = set()
    missing: set[str] = set()
    out: list[tuple[int, list[Need]]] = []
    previous = 0
    for look in seed_plan.design.looks:
        if look > most_seeds and out:
            break
        seeds = seed_plan.seeds(look)[previous:]
        tracer = trace(ctx, [(c.measure, s) for c in checks for s in seeds], allow_missing_data=allow_missing_data)
        new = [n for e, n in tracer.needs.items() if e not in seen]
        seen |= set(tracer.needs)
        missing |= tracer.missing_data
        out.append((look, new))
        previous = look
    return out, missing


def plan_rows(ctx: Any, looks: list[tuple[int, list[Need]]], devices: Sequence[int],
              cost: Callable[[Need], float]) -> list[dict[str, Any]]:
    """One row per look: models it adds by kind, cached ones, device-hours and the cumulative wall
    time on each device count if every check were decided at that look."""
    from .plan import waves

    rows, hours, walls = [], 0.0, {d: 0.0 for d in devices}
    for look, needs in looks:
        todo = [n for n in needs if not n.cached]
        hours += sum(cost(n) for n in needs)
        for d in devices:
            walls[d] += wall_time(waves(needs), cost, d)
        rows.append({"seeds": look, **{k: sum(1 for n in todo if n.kind == k) for k in ("source", "transfer", "scratch")},
                     "cached": len(needs) - len(todo), "device_h": hours, **{f"wall_{d}": walls[d] for d in devices}})
    return rows


def mini_cost(cache: Any) -> Callable[[Need], float]:
    """Hours per build from this cache's records: the family's mean, else its kind's, else unknown (NaN)."""
    by_family = recorded_seconds(cache.builds())
    by_kind: dict[str, list[float]] = {}
    for family, s in by_family.items():
        by_kind.setdefault(kind_of(family), []).append(s)

    def cost(need: Need) -> float:
        if need.cached:
            return 0.0
        if need.name in by_family:
            return by_family[need.name] / 3600
        kind = by_kind.get(need.family.kind if need.family else need.kind) or by_kind.get(need.kind)
        return (sum(kind) / len(kind) / 3600) if kind else float("nan")

    return cost
