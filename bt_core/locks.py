"""A build lock that works across the nodes of a cluster sharing one filesystem.

``flock`` is not reliable on NFS, so a lock is a file created with ``O_CREAT | O_EXCL`` (atomic on
NFSv3+ and local filesystems) that names its holder. The holder touches it every few seconds; a lock
whose holder is a dead process on this host, or whose file has not been touched for ``stale_s``
seconds, is taken over, so a job killed mid-build never blocks the models it was building.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

STALE_ENV = "BT_LOCK_STALE_S"
DEFAULT_STALE_S = 120.0
HEARTBEAT_S = 5.0


def _stale_after() -> float:
    return float(os.environ.get(STALE_ENV, DEFAULT_STALE_S))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder(path: Path) -> dict | None:
    """Who holds the lock at ``path`` (host, pid, since), or None when it is free or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_stale(path: Path, stale_s: float | None = None) -> bool:
    """Whether the lock's holder is gone: a dead pid on this host, or no heartbeat for ``stale_s``."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    who = holder(path)
    if who and who.get("host") == socket.gethostname() and isinstance(who.get("pid"), int):
        if not _pid_alive(who["pid"]):
            return True
    return age > (_stale_after() if stale_s is None else stale_s)


class BuildLock:
    """``with BuildLock(path):`` holds ``path`` exclusively across processes and hosts."""

    def __init__(self, path: str | Path, *, poll_s: float = 0.5, stale_s: float | None = None):
        self.path = Path(path)
        self.poll_s, self.stale_s = poll_s, stale_s
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}, f)
        return True

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while not self._try_create():
            if is_stale(self.path, self.stale_s):
                self._break()
                continue
            time.sleep(self.poll_s)
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name=f"lock {self.path.name}", daemon=True)
        self._beat.start()

    def _break(self) -> None:
        """Take a stale lock over: rename it away first, so two waiters cannot both remove it and
        then both create a fresh one."""
        grave = self.path.with_name(f"{self.path.name}.stale.{socket.gethostname()}.{os.getpid()}")
        try:
            os.replace(self.path, grave)
        except FileNotFoundError:
            return
        if not is_stale(grave, self.stale_s):      # another waiter broke it and took it first: give it back
            try:
                os.link(grave, self.path)
            except FileExistsError:
                pass
        grave.unlink(missing_ok=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "BuildLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
