"""``python -m benchmark design``: the boundaries of a seed design and what they do.

Prints, for each look, the t a check needs to hold (and the equivalent fixed-sample p), the t at
or below which it does not hold ("-" before the first futility look), and, by simulation, the chance that a check holds at several
effects, zero included (the false-hold rate the design promises to keep at or below alpha).
``--write`` stores the derived design in the repository (``bt_core/sequential_designs.json``),
where runs with those looks read it instead of deriving it again; entries whose key no longer
matches their spec (derived under another futility rule) are dropped.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from bt_core import sequential
from bt_core.errors import ConfigError
from bt_core.options import parse_looks

EFFECTS = (0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark design", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--looks", help="seed counts of the looks (default 3,5,8,12,16,20,25,30)")
    p.add_argument("--write", action="store_true", help="derive anew and store in bt_core/sequential_designs.json")
    args = p.parse_args(argv)
    try:
        spec = sequential.Spec(looks=parse_looks(args.looks, "--looks"))
    except ConfigError as exc:
        print(exc)
        return 2
    design = sequential.derive(spec) if args.write else sequential.design(spec)
    console = Console()
    t = Table(title=f"Seed design {list(spec.looks)}: alpha {spec.alpha}, spending (n/n_max)^{spec.rho}, "
                    f"futility at conditional power {spec.futility_power} from {spec.futility_from} seeds",
              header_style="bold")
    for col in ("seeds", "holds if t >", "fixed-sample p equivalent", "does not hold if t <=", "alpha spent"):
        t.add_column(col, justify="right")
    spent = design.derivation.get("alpha_spent", [float("nan")] * len(spec.looks))
    for n, up, down, a in zip(spec.looks, design.efficacy, design.futility, spent):
        t.add_row(str(n), f"{up:.3f}", f"{design.nominal_p(n):.4f}", "-" if down == -math.inf else f"{down:.3f}",
                  f"{a:.4f}")
    console.print(t)
    for effect in EFFECTS:
        op = sequential.operating(design, effect, sims=200_000, seed=1)
        console.print(f"effect {effect:.2f} sd: holds {op.holds:.4f}, does not hold {op.does_not_hold:.4f}, "
                      f"undecided {op.undecided:.4f}, {op.expected_seeds:.2f} seeds on average")
    if args.write:
        stored = {key: blob for key, blob in sequential.stored_designs().items()
                  if sequential.Design.from_dict(blob).spec.key() == key}
        stored[spec.key()] = design.as_dict()
        sequential.STORED.write_text(json.dumps(stored, indent=1) + "\n")
        console.print(f"stored as {spec.key()} in {sequential.STORED} ({asdict(spec)})")
    return 0
