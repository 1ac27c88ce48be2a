"""``python -m benchmark prepare DATASET --root NATIVE_DIR --out BETON_DIR``: convert one of the
paper's datasets from its native layout into the .beton files the paper scale reads
(``--bt-data-root BETON_DIR``). Rerunning it skips every split already written."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _layouts() -> str:
    from bt_core.data.catalog import CATALOG

    lines = ["datasets and the native layouts read (under --root):"]
    for e in CATALOG.values():
        first, *rest = (layout.description for layout in e.layouts)
        lines.append(f"  {e.name:<14} {first}")
        lines += [f"  {'':<14} or {d}" for d in rest]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bt_core.data import catalog, splits
    from bt_core.errors import BTError

    parser = argparse.ArgumentParser(prog="python -m benchmark prepare", description=__doc__,
                                     epilog=_layouts(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", metavar="DATASET", help="one of: " + ", ".join(catalog.CATALOG))
    parser.add_argument("--root", type=Path, required=True, help="folder holding the native copy")
    parser.add_argument("--out", type=Path, required=True, help="folder to write <dataset>/<split>.beton into")
    parser.add_argument("--workers", type=int, default=catalog.DEFAULT_WORKERS, help="writer processes")
    parser.add_argument("--tables", type=Path,
                        help="override the counts of the paper's Tables 2, 4, 5 (recorded in bt_core.data.splits) for "
                             "coco and celeba: " + splits.TABLES_FORMAT)
    parser.add_argument("--seed", type=int, default=0, help="draw of the images that fill those tables")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers={args.workers} is out of range: expected an integer >= 1")
    try:
        tables = splits.load_tables(args.tables) if args.tables else None
        paths = catalog.prepare(args.dataset, args.root, args.out, progress=not args.no_progress,
                                workers=args.workers, tables=tables, seed=args.seed)
    except BTError as exc:
        print(f"prepare {args.dataset}: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0
