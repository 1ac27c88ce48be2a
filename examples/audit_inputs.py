"""Inputs for trying ``python -m benchmark audit`` without data of your own: a source checkpoint of a
real architecture (``--arch``, e.g. torchvision's resnet18) trained by the suite on its mini source,
whose classes carry the natural features (the tennis ball is tied to one of them), saved as a plain
state dict; and one mini target written as an ImageFolder tree. Both come through the suite's own
cache, so the source is the one ``--bt-arch NAME`` runs train.

    .venv/bin/python examples/audit_inputs.py --arch resnet18 --out audit-inputs
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from bt_core.cache import Cache
from bt_core.config import get_scale
from bt_core.data.beton import read_arrays
from bt_core.data.target_dir import write_tree
from bt_core.experiment import Context, SourceSpec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="resnet18", help="architecture name, as for --bt-arch")
    p.add_argument("--out", type=Path, required=True, help="folder for <arch>.pt and target/")
    p.add_argument("--cache", type=Path, default=None, help="artifact cache (default: the suite's)")
    args = p.parse_args()
    scale = get_scale("mini").with_overrides(arch=args.arch)
    ctx = Context(scale, Cache(args.cache), torch.device("cpu"))
    model, _ = ctx.source_model(SourceSpec(), seed=0)
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / f"{args.arch}.pt"
    torch.save(model.state_dict(), weights)
    target = args.out / "target"
    for split in ("train", "test"):
        data = read_arrays(ctx.dataset(scale.targets[0], split, 0))
        write_tree(target, split, data.images, data.labels)
    print(f"source: {weights}\ntarget: {target} ({scale.targets[0]} of the mini scale)")


if __name__ == "__main__":
    main()
