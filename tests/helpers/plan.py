"""Build needs made by hand, for tests of how builds are ordered and bundled."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from bt_core.plan import Need, Request


def need(name: str, kind: str = "source", deps: Iterable[Path] = (), cached: bool = False) -> Need:
    """A need for the model ``kind/name`` that reads the entries ``deps``."""
    return Need(Path("cache") / kind / name, kind, f"{kind} {name}", 0, Request("source_model", ()), tuple(deps),
                cached=cached)
