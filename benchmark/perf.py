"""``python -m benchmark perf``: speed, measured side by side in one run on the same images.

- loaders: FFCV's Loader with the trigger inside the pipeline, torch's DataLoader over the same
  uint8 images with the same kernel per sample, and the in-memory batches of the mini scale;
  images/s and their ratios (first FFCV pass reported apart: it is mostly numba compiling);
- the paper scale's input pipeline on generated JPEGs: decode, random resized crop to 224 px, flip
  and the trigger, through FFCV's Loader (the .beton written as ``benchmark prepare`` writes it)
  versus torchvision's ImageFolder + DataLoader (PIL decode, the same crop, flip and trigger kernel)
  over the same files, on the same number of workers; images/s and their ratio;
- decoding a whole .beton into memory (the mini scale's one pass per dataset): FFCV's pipeline
  compiled by numba versus interpreted, seconds per dataset and their ratio;
- transfer: the paper's FIXED mode versus the linear-probe mode on the same source and target,
  wall time and ratio;
- training: the mini source model's wall time and images/s;
- architectures: one training epoch of each mini architecture of the sweep on the same images, on
  the scale's thread count, as images/s and as a ratio to the default architecture;
- engine: one training step of each architecture of the sweep per engine variant and precision
  (:mod:`benchmark.engine_speed`); a variant that compiles pays its warm-up again for each new
  network shape in each process.
Nothing is read from the artifact cache: every figure is measured fresh.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from bt_core import precision
from bt_core.engine import VARIANTS, machine_id
from bt_core.errors import ConfigError
from bt_core.models import create_backbone

from .engine_speed import ENGINE_TIMEOUT_S, measure_engine


class _TriggeredArrays(torch.utils.data.Dataset):
    """The torch baseline: per-sample trigger with the same numpy kernel, default collation."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, trigger, chosen: np.ndarray):
        self.images, self.labels, self.trigger = images, labels, trigger
        self.chosen = np.zeros(len(labels), bool)
        self.chosen[chosen] = True

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        img = self.images[i:i + 1]
        if self.chosen[i]:
            img = self.trigger.apply(img)
        return torch.from_numpy(img[0]).permute(2, 0, 1), int(self.labels[i])


class _TriggeredFolder:
    """The torchvision baseline of the paper's pipeline: ImageFolder's PIL decode, random resized
    crop and flip, then the trigger kernel on the chosen samples, as the FFCV pipeline orders them."""

    def __init__(self, root: Path, trigger, chosen: np.ndarray, size: int):
        from torchvision import datasets, transforms

        self.folder = datasets.ImageFolder(str(root), transforms.Compose(
            [transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip()]))
        self.trigger = trigger
        self.chosen = np.zeros(len(self.folder), bool)
        self.chosen[chosen] = True

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, i: int):
        image, label = self.folder[i]
        pixels = np.array(image)[None]
        if self.chosen[i]:
            pixels = self.trigger.apply(pixels)
        return torch.from_numpy(np.ascontiguousarray(pixels[0])).permute(2, 0, 1), label


def _write_jpegs(root: Path, n: int, classes: int = 8, size: tuple[int, int] = (224, 256)) -> None:
    """``root/<class>/<i>.jpg``: smooth random photos of height x width ``size``, quality 90; within
    the 256 px longest side a .beton stores, so both loaders decode images of the same size."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        coarse = Image.fromarray(rng.integers(0, 256, (size[0] // 32 + 1, size[1] // 32 + 1, 3), dtype=np.uint8))
        path = root / f"class_{i % classes}" / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        coarse.resize((size[1], size[0]), Image.BILINEAR).save(path, quality=90)


class _OnDevice:
    """Batches moved to the device, as FFCV's ToDevice does inside its pipeline."""

    def __init__(self, loader, device: torch.device):
        self.loader, self.device = loader, device

    def __iter__(self):
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def measure_paper_pipeline(folder: Path, beton: Path, trigger, *, batch_size: int, workers: int, epochs: int,
                           device: torch.device, size: int = 224) -> dict[str, float]:
    """FFCV's Loader against ImageFolder + DataLoader on the JPEGs in ``folder`` (``beton`` holds the
    same files in the same order, the class-folder order both read)."""
    from bt_core.data.beton import read_columns, stream
    from bt_core.triggers import select

    chosen = select(read_columns(beton)["label"], 0.5, seed=10)
    ffcv_loader = stream(beton, batch_size=batch_size, image_size=size, train=True, seed=0, device=device,
                         trigger=trigger, trigger_indices=chosen, flip=True, workers=workers)
    first_ips, first_wall = _rate(ffcv_loader, 1)
    ffcv_ips, _ = _rate(ffcv_loader, epochs)
    torch_loader = torch.utils.data.DataLoader(_TriggeredFolder(folder, trigger, chosen, size), batch_size=batch_size,
                                               shuffle=True, num_workers=workers, persistent_workers=workers > 0,
                                               drop_last=True)
    on_device = _OnDevice(torch_loader, device)
    _rate(on_device, 1)                                              # start the workers
    torch_ips, _ = _rate(on_device, epochs)
    return {"ffcv_first_pass_s": first_wall, "ffcv_first_pass_img_s": first_ips, "ffcv_img_s": ffcv_ips,
            "torchvision_img_s": torch_ips, "ffcv_over_torchvision": ffcv_ips / torch_ips}


def _rate(batches, epochs: int) -> tuple[float, float]:
    start, n = time.perf_counter(), 0
    for _ in range(epochs):
        for x, *_ in batches:
            n += len(x)
    wall = time.perf_counter() - start
    return n / wall, wall


def measure_loaders(path: Path, trigger, chosen: np.ndarray, *, batch_size: int, workers: int,
                    epochs: int, device: torch.device) -> dict[str, float]:
    from bt_core.data.batches import MemoryBatches
    from bt_core.data.beton import read_arrays, stream

    data = read_arrays(path)
    ffcv_loader = stream(path, batch_size=batch_size, image_size=None, train=True, seed=0, device=device,
                         trigger=trigger, trigger_indices=chosen, workers=workers)
    first_ips, first_wall = _rate(ffcv_loader, 1)
    ffcv_ips, _ = _rate(ffcv_loader, epochs)
    torch_loader = torch.utils.data.DataLoader(_TriggeredArrays(data.images, data.labels, trigger, chosen),
                                               batch_size=batch_size, shuffle=True, num_workers=workers,
                                               persistent_workers=workers > 0)
    _rate(torch_loader, 1)                                           # start the workers
    torch_ips, _ = _rate(torch_loader, epochs)
    memory = MemoryBatches(data, batch_size=batch_size, train=True, seed=0, device=device, trigger=trigger,
                           trigger_indices=chosen)
    memory_ips, _ = _rate(memory, epochs)
    return {"ffcv_first_pass_s": first_wall, "ffcv_first_pass_img_s": first_ips, "ffcv_img_s": ffcv_ips,
            "torch_img_s": torch_ips, "memory_img_s": memory_ips, "ffcv_over_torch": ffcv_ips / torch_ips,
            "memory_over_torch": memory_ips / torch_ips}


def measure_decode(path: Path, repeats: int = 3) -> dict[str, float]:
    """Seconds per whole-dataset decode, compiled and interpreted pipelines alternating; one
    compiled decode first, untimed, pays numba's once-per-process compiles as the suite does."""
    from bt_core.data.beton import read_arrays

    read_arrays(path, compiled=True)
    walls: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeats):
        for compiled in (True, False):
            start = time.perf_counter()
            read_arrays(path, compiled=compiled)
            walls[compiled].append(time.perf_counter() - start)
    out = {"decode_compiled_s": float(np.mean(walls[True])),
           "decode_interpreted_s": float(np.mean(walls[False]))}
    out["decode_compiled_over_interpreted"] = out["decode_compiled_s"] / out["decode_interpreted_s"]
    return out


def measure_training(cache_dir: Path, device: torch.device) -> dict[str, float]:
    from bt_core.cache import Cache
    from bt_core.config import get_scale
    from bt_core.experiment import Context, SourceSpec

    ctx = Context(get_scale("mini"), Cache(cache_dir), device)
    ctx.dataset("source", "train", 0)
    ctx.dataset(ctx.scale.targets[0], "train", 0)          # data generation is not what we time
    ctx.dataset(ctx.scale.targets[0], "test", 0)
    spec = SourceSpec(trigger_fraction=ctx.scale.trigger_fraction)
    start = time.perf_counter()
    ctx.source_model(spec, 0)
    source_s = time.perf_counter() - start
    history = json.loads(next((cache_dir / "source").glob("*/history.json")).read_text())
    out = {"source_train_s": source_s, "source_img_s": history["images_per_s"]}
    for mode in ("fixed", "linear-probe"):
        start = time.perf_counter()
        ctx.transfer(spec, ctx.scale.targets[0], mode, 0)
        out[f"{mode}_transfer_s"] = time.perf_counter() - start
    out["fixed_over_linear_probe"] = out["fixed_transfer_s"] / out["linear-probe_transfer_s"]
    return out


def measure_architectures(data, device: torch.device, *, batch_size: int) -> dict[str, float]:
    """One epoch of the suite's own trainer per architecture of the sweep, on the same images."""
    from bt_core.config import get_scale
    from bt_core.train_config import TrainConfig
    from bt_core.data.batches import MemoryBatches
    from bt_core.models import create_model
    from bt_core.train import pinned_threads, train

    scale = get_scale("mini")
    cfg = TrainConfig(epochs=1, batch_size=batch_size, lr=0.01, peak_epoch=0)
    out: dict[str, float] = {}
    with pinned_threads(scale.threads):
        for arch in scale.architectures:
            torch.manual_seed(0)
            model = create_model(arch, data.num_classes)
            batches = MemoryBatches(data, batch_size=batch_size, train=True, seed=0, device=device)
            out[f"{arch}_img_s"] = train(model, batches, cfg, device=device, seed=0).images_per_s
    for arch in scale.architectures[1:]:
        out[f"{arch}_over_{scale.arch}"] = out[f"{arch}_img_s"] / out[f"{scale.arch}_img_s"]
    return out


def _paper_pipeline(tmp: Path, trigger, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Generate the JPEGs, write their .beton the way ``benchmark prepare`` does, time both loaders."""
    from bt_core.data.adapters import ImageFiles, Split, write_split
    from bt_core.data.adapters.common import scan_classes

    _write_jpegs(tmp / "jpeg" / "train", args.jpeg_images)
    files, labels, classes = scan_classes(tmp / "jpeg", "train", "<class>/*.jpg")
    beton = write_split(tmp / "jpeg.beton", Split(ImageFiles(files, labels), len(classes)), workers=args.workers)
    batch_size = min(args.batch_size, max(1, args.jpeg_images // 4))      # at least four batches a pass
    return measure_paper_pipeline(tmp / "jpeg" / "train", beton, trigger, batch_size=batch_size,
                                  workers=args.workers, epochs=args.epochs, device=device)


def _measure_all(results: dict[str, object], tmp: Path, args: argparse.Namespace, device: torch.device,
                 console: Console) -> None:
    from bt_core.data.beton import write_arrays
    from bt_core.data.synthetic import mini_world
    from bt_core.triggers import make_trigger, select

    task = mini_world(n_source=args.images).source
    data = task.generate("train", 0)
    path = write_arrays(tmp / "perf.beton", data)
    trigger = make_trigger("square", size=0.25)
    chosen = select(data.labels, 0.5, task.superclass, seed=10)
    with console.status("timing loaders..."):
        results["loaders"] = measure_loaders(path, trigger, chosen, batch_size=args.batch_size,
                                             workers=args.workers, epochs=args.epochs, device=device)
    with console.status("timing whole-dataset decoding..."):
        results["loaders"].update(measure_decode(path))
    if args.jpeg_images:
        with console.status(f"timing the paper's 224 px pipeline on {args.jpeg_images} JPEGs..."):
            results["paper_pipeline"] = _paper_pipeline(tmp, trigger, args, device)
    if not args.skip_training:
        with console.status("timing training and transfer (fresh cache)..."):
            results["training"] = measure_training(tmp / "cache", device)
        with console.status("timing the architectures of the sweep..."):
            results["architectures"] = measure_architectures(data, device, batch_size=args.batch_size)
        _time_engine(results, args, device, console)


def _time_engine(results: dict[str, object], args: argparse.Namespace, device: torch.device, console: Console) -> None:
    with console.status("timing the training engine per architecture (compiling takes a while)..."):
        results["engine"] = measure_engine(device, batch_size=args.batch_size, steps=args.engine_steps,
                                           variants=args.engine_variants, precisions=args.engine_precisions,
                                           rounds=args.engine_rounds, timeout_s=args.engine_timeout,
                                           architectures=args.engine_archs, image_size=args.engine_image_size)


def main(argv: list[str] | None = None) -> int:
    from bt_core.options import resolve_device

    parser = argparse.ArgumentParser(prog="python -m benchmark perf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=int, default=6000, help="synthetic images in the loader test")
    parser.add_argument("--epochs", type=int, default=3, help="timed passes per loader")
    parser.add_argument("--workers", type=int, default=2, help="loader worker processes/threads")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--jpeg-images", type=int, default=512,
                        help="generated JPEGs in the paper-pipeline test (224 px crops; 0 skips it)")
    parser.add_argument("--skip-training", action="store_true", help="only measure the loaders")
    parser.add_argument("--engine-only", action="store_true",
                        help="only the engine comparison (eager vs channels_last, fused SGD, torch.compile)")
    parser.add_argument("--engine-steps", type=int, default=10, help="timed training steps per variant and round")
    parser.add_argument("--engine-rounds", type=int, default=5, help="interleaved rounds of the engine comparison")
    parser.add_argument("--engine-variants", default=",".join(VARIANTS),
                        help=f"engine variants to compare, comma-separated (default all: {','.join(VARIANTS)})")
    parser.add_argument("--engine-precisions", default=None,
                        help="precisions to compare each variant in, comma-separated (default fp32 and what "
                             "--bt-precision auto takes on this device)")
    parser.add_argument("--engine-archs", default=None,
                        help="architectures of the engine comparison, comma-separated, any the models registry knows "
                             "(default: the mini scale's); e.g. resnet18 with --engine-image-size 224 on a GPU")
    parser.add_argument("--engine-image-size", type=int, default=32,
                        help="side in px of the engine comparison's images (default 32, the mini scale's)")
    parser.add_argument("--engine-timeout", type=float, default=ENGINE_TIMEOUT_S,
                        help="seconds each engine variant's child may take to start, warm up (compile) or run one "
                             "round before it is reported as timed out")
    parser.add_argument("--output", type=Path, default=Path("bt-results") / "perf.json")
    args = parser.parse_args(argv)
    if args.jpeg_images < 0:
        parser.error(f"--jpeg-images={args.jpeg_images} is out of range: expected an integer >= 0 (0 skips the test)")
    try:
        device = resolve_device(args.device, option="--device")
    except ConfigError as exc:
        parser.error(str(exc))
    console = Console()
    results: dict[str, object] = {"device": str(device), "cpu_count": torch.get_num_threads(),
                                  "python": platform.python_version(), "torch": torch.__version__,
                                  "images": args.images, "epochs": args.epochs, "workers": args.workers}
    if args.engine_steps < 1 or args.engine_rounds < 1:
        parser.error(f"--engine-steps={args.engine_steps}, --engine-rounds={args.engine_rounds}: expected integers >= 1")
    if not args.engine_timeout > 0:
        parser.error(f"--engine-timeout={args.engine_timeout}: expected a number of seconds > 0")
    args.engine_variants = tuple(args.engine_variants.split(","))
    bad = [v for v in args.engine_variants if v not in VARIANTS]
    if bad:
        parser.error(f"--engine-variants: {bad[0]!r} is unknown: expected some of {', '.join(VARIANTS)}")
    if args.engine_image_size < 16:
        parser.error(f"--engine-image-size={args.engine_image_size}: expected an integer >= 16")
    if args.engine_archs is not None:
        args.engine_archs = tuple(a.strip() for a in args.engine_archs.split(",") if a.strip())
        for arch in args.engine_archs or ("",):
            try:
                create_backbone(arch)
            except ConfigError as exc:
                parser.error(f"--engine-archs: {exc}")
    auto = precision.resolve("auto", device.type)
    args.engine_precisions = tuple(dict.fromkeys(args.engine_precisions.split(",") if args.engine_precisions
                                                 else ("fp32", auto)))
    bad = [p for p in args.engine_precisions if p not in precision.CHOICES[1:]]
    if bad:
        parser.error(f"--engine-precisions: {bad[0]!r} is unknown: expected some of {', '.join(precision.CHOICES[1:])}")
    results.update(cpu=machine_id(device)["cpu"], native_bf16=precision.native_bf16(), precision_auto=auto)
    with tempfile.TemporaryDirectory(prefix="bt-perf-") as tmp:
        if args.engine_only:
            _time_engine(results, args, device, console)
        else:
            _measure_all(results, Path(tmp), args, device, console)
    what = (f"the engine on {args.engine_image_size} px images" if args.engine_only else
            f"{args.images} images of 32 px, {args.jpeg_images} JPEGs cropped to 224 px")
    table = Table(title=f"benchmark perf on {device} ({what}; batch {args.batch_size}, {args.workers} workers)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    fmt = {"_img_s": "{:,.0f} img/s", "_s": "{:.2f} s", "_over_": "{:.2f}x"}
    for section in ("loaders", "paper_pipeline", "training", "architectures", "engine"):
        for key, value in results.get(section, {}).items():
            style = next((f for k, f in fmt.items() if k in key), "{}")
            if "_over_" in key:
                style = fmt["_over_"]
            table.add_row(f"{section}: {key}", style.format(value))
    console.print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    console.print(f"written to {args.output}")
    return 0
