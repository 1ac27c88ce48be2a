"""The artifact cache builds an entry once, even under concurrent workers, and rebuilds a damaged or
half-built one rather than trusting it; a bad cache root is one clear error."""
import multiprocessing as mp
import os
import time

import pytest

from bt_core.cache import Cache, CacheWarning
from bt_core.errors import ConfigError


def _build(folder):
    (folder / "payload.txt").write_text("made")
    with open(folder.parent / "builds.log", "a") as f:
        f.write("x")


def test_cache_builds_once_and_reuses(tmp_path):
    cache = Cache(tmp_path)
    first = cache.get("k", {"a": 1}, _build)
    assert cache.get("k", {"a": 1}, _build) == first
    assert (tmp_path / "k" / "builds.log").read_text() == "x"


@pytest.mark.parametrize("damage", ["delete", "truncate", "manifest"])
def test_damaged_entry_is_rebuilt_with_a_warning(tmp_path, damage):
    cache = Cache(tmp_path)
    entry = cache.get("k", {"a": 1}, _build)
    {"delete": lambda: (entry / "payload.txt").unlink(),
     "truncate": lambda: (entry / "payload.txt").write_text("ma"),
     "manifest": lambda: (entry / "manifest.json").write_text("{oops")}[damage]()
    with pytest.warns(CacheWarning, match="is damaged"):
        cache.get("k", {"a": 1}, _build)
    assert (entry / "payload.txt").read_text() == "made"


def test_entry_damaged_after_it_was_checked_is_rebuilt(tmp_path):
    """The cache skips re-hashing files it has checked, but only while their size and mtime hold."""
    cache = Cache(tmp_path)
    entry = cache.get("k", {"a": 1}, _build)
    assert cache.get("k", {"a": 1}, _build) == entry            # checked and remembered
    payload = entry / "payload.txt"
    stat = payload.stat()
    payload.write_text("mode")                                    # same size, other bytes
    os.utime(payload, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.warns(CacheWarning, match="payload.txt does not match its recorded digest"):
        cache.get("k", {"a": 1}, _build)
    assert payload.read_text() == "made"


def test_interrupted_build_is_not_an_entry(tmp_path):
    cache = Cache(tmp_path)
    def crash(folder):
        (folder / "payload.txt").write_text("half")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        cache.get("k", {"a": 1}, crash)
    assert cache.get("k", {"a": 1}, _build).joinpath("payload.txt").read_text() == "made"


def _worker(root):
    Cache(root).get("k", {"a": 1}, _slow_build)


def _slow_build(folder):
    time.sleep(0.5)
    _build(folder)


def test_concurrent_workers_build_an_entry_once(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(tmp_path),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert (tmp_path / "k" / "builds.log").read_text() == "x"


def test_unwritable_cache_root(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cache directory .* cannot be created"):
        Cache(blocker / "cache")


def test_cache_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BT_CACHE_DIR", str(tmp_path / "env-cache"))
    assert Cache().root == tmp_path / "env-cache"


def test_build_folders_of_dead_processes_are_removed_on_the_next_access(tmp_path):
    import subprocess
    import sys

    from bt_core.cache import HOST, STALE_S

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(done.stdout), os.getppid()
    kind = tmp_path / "k"
    names = {"killed": f".abc.{dead}.tmp", "killed_here": f".abc.{HOST}.{dead}.tmp",
             "running": f".abc.{HOST}.{alive}.tmp", "other_host": f".abc.node-7.{dead}.tmp",
             "other_host_old": f".abc.node-7.{dead + 1}.tmp"}
    for name in names.values():
        (kind / name).mkdir(parents=True)
        (kind / name / "half.bin").write_bytes(b"x")
    old = time.time() - STALE_S - 60
    os.utime(kind / names["other_host_old"], (old, old))
    Cache(tmp_path).get("k", {"a": 1}, _build)
    left = {label for label, name in names.items() if (kind / name).exists()}
    assert left == {"running", "other_host"}
