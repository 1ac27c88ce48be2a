"""A rich progress bar for long work that costs nothing when disabled (tests, CI logs)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


class _Bar:
    def __init__(self, progress: Progress | None, task):
        self.progress, self.task = progress, task

    def advance(self, n: int = 1, **fields: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=n, **fields)


@contextmanager
def progress_bar(desc: str, total: int, enabled: bool = True) -> Iterator[_Bar]:
    if not enabled:
        yield _Bar(None, None)
        return
    columns = [TextColumn("[bold blue]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.3f}  acc {task.fields[acc]:.3f}  "
                          "{task.fields[ips]:,.0f} img/s"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress, progress.add_task(desc, total=total, loss=0.0, acc=0.0, ips=0.0))
