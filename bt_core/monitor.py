"""The run's display, drawn by the controlling process from the events its workers write.

On a terminal: one rich live panel (models built / expected, checks, the model each worker builds
with its epoch and images/s, elapsed time and an ETA). Elsewhere (CI logs): one plain line per
model built, no escape codes. A thread polls the event files, so it works the same whether the
models are trained in this process or by pytest-xdist workers.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .estimate import RunEstimate, read_events

POLL_S = 0.5


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "estimating"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _models_text(est: RunEstimate) -> str:
    total, rough = est.total_models()
    done = est.built + est.cached
    return f"models {done}/{'~' if rough else ''}{total} ({est.built} trained, {est.cached} from the cache)"


def _times(est: RunEstimate, now: float) -> str:
    return f"{clock(now - est.start)} elapsed, ETA {clock(est.remaining_s(now))}"


def line(est: RunEstimate, ev: dict, now: float) -> str:
    """The plain line for a model just built."""
    ended, checks, failed = est.checks()
    return (f"bt: built {ev['family']} seed {ev['seed']} in {ev['wall_s']:.1f} s ({ev['ips']:,.0f} img/s) | "
            f"{_models_text(est)} | checks {ended}/{checks}" + (f", {failed} failed" if failed else "")
            + f" | {_times(est, now)}")


def panel(est: RunEstimate, now: float) -> Group:
    """The live display's frame: narrow enough for an 80-column terminal."""
    total, rough = est.total_models()
    done = est.built + est.cached
    ended, checks, failed = est.checks()
    head = Table.grid(padding=(0, 1))
    head.add_row(Text("bias-transfer run", style="bold"),
                 ProgressBar(total=max(total, done, 1), completed=done, width=30),
                 Text(f"{done}/{'~' if rough else ''}{total} models"))
    rows = [head, Text(f"  {est.built} trained, {est.cached} from the cache; checks {ended}/{checks}"
                       + (f" ({failed} failed)" if failed else "")),
            Text(f"  {_times(est, now)}", style="bold")]
    for worker, b in sorted(est.building.items()):
        epoch = (f"epoch {min(int(b['epoch']) + 1, b['epochs'])}/{b['epochs']}, {b['ips']:,.0f} img/s"
                 if b["epochs"] else "preparing data")
        rows.append(Text(f"  {worker}: training {b['family']} seed {b['seed']} ({epoch}, "
                         f"{clock(now - b['since'])})", style="cyan"))
    return Group(*rows)


class Monitor:
    """Reads ``folder``'s event files into ``estimate`` and shows them on ``stream`` until stopped."""

    def __init__(self, folder: Path, estimate: RunEstimate, stream: TextIO, mode: str = "auto"):
        self.folder, self.estimate, self.stream = folder, estimate, stream
        self.console = Console(file=stream, force_terminal=mode == "live" or None, soft_wrap=mode != "live")
        self.live = mode == "live" or (mode == "auto" and self.console.is_terminal)
        self._offsets: dict[Path, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bt-progress", daemon=True)
        self._view: Live | None = None
        self._failed = False

    def start(self) -> "Monitor":
        if self.live:
            self._view = Live(panel(self.estimate, time.time()), console=self.console, auto_refresh=False,
                              redirect_stdout=False, redirect_stderr=False)
            self._view.start()
        self._thread.start()
        return self

    def item_done(self, check: str, failed: bool) -> None:
        """Count a check as ended, after the events written before it: otherwise the poller may
        report the check's last model under a count that already holds the check's end."""
        def done() -> None:
            self.poll()
            with self._lock:
                self.estimate.item_done(check, failed)

        self._safely(done)

    def poll(self) -> None:
        """Take the new events; print a line for each model built (plain mode) or redraw (live)."""
        with self._lock:
            for path in sorted(self.folder.glob("*.jsonl")):
                events, self._offsets[path] = read_events(path, self._offsets.get(path, 0))
                for ev in events:
                    built = self.estimate.feed(path.stem, ev)
                    if built and not self.live:
                        self.stream.write(line(self.estimate, built, time.time()) + "\n")
            if self._view is not None:
                self._view.update(panel(self.estimate, time.time()), refresh=True)
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            if not self._safely(self.poll):
                return

    def _safely(self, step) -> bool:
        """Run one display step; the display is a convenience, so a failure in it (an odd event
        line, a closed terminal) turns it off with one line and never costs the run its results."""
        if self._failed:
            return False
        try:
            step()
            return True
        except Exception as exc:  # noqa: BLE001 - any display error must leave the run alone
            self._failed = True
            try:
                if self._view is not None:
                    self._view.stop()
                self.stream.write(f"bt: progress display off ({type(exc).__name__}: {exc})\n")
                self.stream.flush()
            except Exception:  # noqa: BLE001
                pass
            return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._safely(self.poll):
            self._safely(self._close)
        if self.stream is not sys.stderr:
            self.stream.close()

    def _close(self) -> None:
        if self._view is not None:
            self._view.stop()
        else:
            est = self.estimate
            self.stream.write(f"bt: run done: {est.built} models trained, {est.cached} from the cache, "
                              f"in {clock(time.time() - est.start)}\n")
        self.stream.flush()
