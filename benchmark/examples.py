"""The first thing the reproduction shows: what the data looks like and what each trigger does."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bt_core import atomic


def _grid(rows: list[np.ndarray], labels: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = rows[0].shape[0]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.1 * len(rows)), squeeze=False)
    for r, (imgs, label) in enumerate(zip(rows, labels)):
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(imgs[c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def show_examples(scale_name: str, output: Path, console: Console | None = None) -> Path:
    """Print a table of the scale's datasets and write ``triggers.png`` with clean and triggered
    examples of every trigger and intervention."""
    from bt_core.cache import Cache
    from bt_core.config import get_scale
    from bt_core.data import registry
    from bt_core.data.beton import read_arrays, read_columns, read_meta
    from bt_core.experiment import Context
    from bt_core.triggers import make_trigger

    from bt_core.report import wide_console

    console = console or wide_console()
    ctx = Context(get_scale(scale_name), Cache())
    if ctx.scale.name != "mini":
        console.print("[yellow]examples are drawn from the mini scale's synthetic data[/]")
        ctx = Context(get_scale("mini"), Cache())
    table = Table(title=f"Datasets of the {ctx.scale.name} scale (seed 0)", header_style="bold")
    for col in ("dataset", "split", "images", "classes", "attributes", "group counts", "size", ".beton"):
        table.add_column(col)
    with console.status("generating the synthetic datasets into the cache..."):
        for name in registry.names(ctx):
            for split in ("train", "test"):
                path = ctx.dataset(name, split, 0)
                meta, cols = read_meta(path), read_columns(path)
                attrs = [a for a in cols if a != "label"]
                groups = ""
                if attrs:
                    keys, counts = np.unique(np.stack([cols["label"], cols[attrs[0]]], 1), axis=0, return_counts=True)
                    groups = " ".join(f"{tuple(k)}:{c}" for k, c in zip(keys.tolist(), counts))
                size = "x".join(map(str, meta["image_size"] or ["var"]))
                table.add_row(name, split, f"{meta['num_samples']:,}", str(meta["num_classes"]), ", ".join(attrs),
                              groups, size, f"{meta['bytes'] / 1e6:.1f} MB")
    console.print(table)
    images = read_arrays(ctx.dataset(ctx.scale.source_data, "test", 0)).images[:8]
    rows, labels = [images], ["clean"]
    for name, spec in {**ctx.scale.probes, "gaussian (x5 scale)": {"name": "gaussian", "scale": 0.05}}.items():
        rows.append(make_trigger(**spec).apply(images))
        labels.append(name)
    output.mkdir(parents=True, exist_ok=True)
    path = output / "triggers.png"
    _grid(rows, labels, path)
    console.print(f"trigger examples: {path}")
    return path
