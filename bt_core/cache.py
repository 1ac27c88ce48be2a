"""A content-addressed artifact cache that is safe under pytest-xdist and interruption.

An artifact (dataset, checkpoint, features, evaluation) lives in ``<root>/<kind>/<key>/`` where the
key hashes the JSON spec of everything that produced it. It is built in a temporary folder under a
build lock (:mod:`bt_core.locks`, safe across the nodes of a cluster) and renamed into place, with a
manifest of file sizes and digests: a reader never sees a half-written entry, two processes never
build the same one, and a damaged entry is rebuilt with a warning instead of being trusted. The
temporary folder of a build that was killed (``kill -9``, a lost node) is removed by the next process
that uses the same kind of entry. Each build appends one line to ``builds.jsonl`` (kind, key,
family, host, CPU, pid, seconds): the cache's own record of what was built where, read by the plan's
time estimates and by tests that count builds. A model's entry (one built with a family label) also
keeps its seconds and CPU in ``build.json``, for the ETA and the timing file (:mod:`bt_core.timing`).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import socket
import time
import warnings
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError
from .locks import BuildLock

CACHE_FORMAT = 1
ENV_VAR = "BT_CACHE_DIR"
BUILDS_FILE = "builds.jsonl"
BUILD_FILE = "build.json"
HOST = socket.gethostname()
# a build folder of another machine is only known dead by its age: no build takes this long
STALE_S = 24 * 3600


def _cpu_model() -> str:
    """The CPU's model name: what a build's seconds describe."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                return value.strip()
    except OSError:
        pass            # not Linux: the processor string is what there is
    return platform.processor() or platform.machine()


CPU = _cpu_model()


def built(entry: Path) -> tuple[float | None, str | None]:
    """How long a model's entry took to build and on which CPU (None for what an older entry does not say)."""
    try:
        blob = json.loads((entry / BUILD_FILE).read_text())
        return float(blob["wall_s"]), blob.get("machine")
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


class CacheWarning(UserWarning):
    """A cache entry was damaged and is being rebuilt."""


def default_root() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "bias-transfer-bench"


def spec_key(spec: dict[str, Any]) -> str:
    text = json.dumps({"format": CACHE_FORMAT, **spec}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:         # someone else's process
        return True
    return True


def is_debris(tmp: Path, now: float) -> bool:
    """Whether ``tmp`` (``.<key>[.<host>].<pid>.tmp``) is the build folder of a process that is gone:
    one of this machine whose process no longer runs, or any older than :data:`STALE_S`."""
    parts = tmp.name[1:-len(".tmp")].split(".")
    try:
        pid = int(parts[-1])
        age = now - tmp.stat().st_mtime
    except (ValueError, FileNotFoundError):
        return False
    host = ".".join(parts[1:-1]) or HOST          # entries of older versions named no host
    if age > STALE_S:
        return True
    return host == HOST and pid != os.getpid() and not _alive(pid)


class Cache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        # Digests already checked, by each file's size and mtime: dozens of cases ask for one dataset.
        self._verified: dict[Path, tuple] = {}
        self._swept: set[Path] = set()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cache directory {str(self.root)!r} cannot be created ({exc}): "
                              f"expected a writable folder (--bt-cache or ${ENV_VAR})") from None
        if not os.access(self.root, os.W_OK):
            raise ConfigError(f"cache directory {str(self.root)!r} is not writable: expected a "
                              f"writable folder (--bt-cache or ${ENV_VAR})")

    def path(self, kind: str, spec: dict[str, Any]) -> Path:
        return self.root / kind / spec_key(spec)

    def _problem(self, entry: Path) -> str | None:
        """Why an existing entry cannot be trusted, or None if it is complete."""
        try:
            manifest = json.loads((entry / "manifest.json").read_text())
        except FileNotFoundError:
            return "no manifest"
        except json.JSONDecodeError:
            return "unreadable manifest"
        files = manifest.get("files", {})
        try:
            stats = tuple((name, st.st_size, st.st_mtime_ns) for name in ("manifest.json", *files)
                          for st in [(entry / name).stat()])
        except FileNotFoundError:
            stats = None
        if stats is not None and self._verified.get(entry) == stats:
            return None
        for name, (size, digest) in files.items():
            f = entry / name
            if not f.is_file():
                return f"{name} is missing"
            if f.stat().st_size != size or file_sha256(f) != digest:
                return f"{name} does not match its recorded digest"
        self._verified[entry] = stats
        return None

    def ready(self, entry: Path) -> bool:
        """Whether ``entry`` is built and intact (nothing is built or locked to find out)."""
        return entry.is_dir() and self._problem(entry) is None

    def builds(self) -> list[dict[str, Any]]:
        """Every build this cache has recorded, oldest first."""
        path = self.root / BUILDS_FILE
        if not path.is_file():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue                       # a line torn by a killed writer
        return out

    def _record(self, kind: str, entry: Path, wall_s: float, label: str | None) -> None:
        line = json.dumps({"kind": kind, "key": entry.name, "family": label, "host": socket.gethostname(),
                           "machine": CPU, "pid": os.getpid(), "wall_s": round(wall_s, 3), "at": time.time()}) + "\n"
        fd = os.open(self.root / BUILDS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())        # one write of one short line: appends do not interleave
        finally:
            os.close(fd)

    def sweep(self, folder: Path) -> list[Path]:
        """Remove the build folders of dead processes in ``folder`` (once per process); returns them."""
        if folder in self._swept:
            return []
        self._swept.add(folder)
        now = time.time()
        gone = [p for p in folder.glob(".*.tmp") if p.is_dir() and is_debris(p, now)]
        for p in gone:
            shutil.rmtree(p, ignore_errors=True)
        return gone

    def get(self, kind: str, spec: dict[str, Any], build: Callable[[Path], None], label: str | None = None) -> Path:
        """The entry for ``spec``, calling ``build(folder)`` to write its files if it is missing;
        ``label`` names what was built in the build records (a model's family)."""
        entry = self.path(kind, spec)
        self.sweep(entry.parent)
        if entry.is_dir() and self._problem(entry) is None:
            return entry
        entry.parent.mkdir(parents=True, exist_ok=True)
        with BuildLock(str(entry) + ".lock"):
            if entry.is_dir():
                problem = self._problem(entry)
                if problem is None:
                    return entry          # another worker built it while we waited
                warnings.warn(f"cache entry {entry} is damaged ({problem}); rebuilding it", CacheWarning)
                shutil.rmtree(entry)
            tmp = entry.with_name(f".{entry.name}.{HOST}.{os.getpid()}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            start = time.perf_counter()
            try:
                build(tmp)
                wall = time.perf_counter() - start
                if label:
                    (tmp / BUILD_FILE).write_text(json.dumps({"wall_s": wall, "machine": CPU}))
                files = {p.name: (p.stat().st_size, file_sha256(p)) for p in sorted(tmp.iterdir()) if p.is_file()}
                manifest = {"kind": kind, "spec": spec, "files": files}
                (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
                os.replace(tmp, entry)
                self._record(kind, entry, wall, label)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return entry
