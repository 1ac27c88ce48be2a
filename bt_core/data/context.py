"""What finding or making a dataset needs of a run: its scale, cache and data locations."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..cache import Cache
from ..config import Scale


class DataContext(Protocol):
    scale: Scale
    cache: Cache
    data_root: Path | None
    target_dir: Path | None
