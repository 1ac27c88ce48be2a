"""The cache's build lock: exclusive across processes, taken over from a dead holder, never from a live one."""
import json
import multiprocessing
import os
import socket
import time

import pytest

from bt_core.cache import Cache
from bt_core.locks import BuildLock, holder, is_stale


def _dead_pid() -> int:
    proc = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    proc.start()
    proc.join()
    return proc.pid


def test_a_lock_names_its_holder_and_is_gone_after_release(tmp_path):
    path = tmp_path / "entry.lock"
    with BuildLock(path):
        who = holder(path)
        assert who["host"] == socket.gethostname() and who["pid"] == os.getpid()
        assert not is_stale(path)
    assert not path.exists()


def test_a_lock_left_by_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    path = tmp_path / "entry.lock"
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid(), "since": time.time()}))
    assert is_stale(path)
    start = time.monotonic()
    with BuildLock(path, poll_s=0.05):
        assert holder(path)["pid"] == os.getpid()
    assert time.monotonic() - start < 5


def test_a_lock_of_another_host_is_taken_over_only_once_its_heartbeat_stops(tmp_path):
    path = tmp_path / "entry.lock"
    path.write_text(json.dumps({"host": "some-other-node", "pid": 1, "since": time.time()}))
    assert not is_stale(path, stale_s=60)
    old = time.time() - 120
    os.utime(path, (old, old))
    assert is_stale(path, stale_s=60)
    with BuildLock(path, poll_s=0.05, stale_s=60):
        assert holder(path)["host"] == socket.gethostname()


def test_a_live_holder_keeps_the_lock(tmp_path):
    path = tmp_path / "entry.lock"
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}))
    lock = BuildLock(path, poll_s=0.05, stale_s=60)
    got = []
    import threading

    waiter = threading.Thread(target=lambda: (lock.acquire(), got.append(True), lock.release()), daemon=True)
    waiter.start()
    waiter.join(timeout=0.5)
    assert not got, "a live holder's lock was taken"
    path.unlink()
    waiter.join(timeout=5)
    assert got == [True]


def test_the_cache_records_each_build_once_with_its_label(tmp_path):
    cache = Cache(tmp_path)
    for _ in range(2):
        cache.get("source", {"seed": 1}, lambda folder: (folder / "x").write_text("1"), label="source demo")
    records = cache.builds()
    assert [(r["kind"], r["family"]) for r in records] == [("source", "source demo")]
    assert records[0]["key"] == cache.path("source", {"seed": 1}).name
    assert cache.ready(cache.path("source", {"seed": 1})) and not cache.ready(cache.path("source", {"seed": 2}))


def test_a_torn_build_record_line_is_passed_over(tmp_path):
    cache = Cache(tmp_path)
    cache.get("source", {"seed": 1}, lambda folder: (folder / "x").write_text("1"))
    with open(tmp_path / "builds.jsonl", "a") as f:
        f.write('{"kind": "sou')
    assert len(cache.builds()) == 1


@pytest.mark.parametrize("bad", ["", "x"])
def test_holder_of_an_unreadable_lock_is_none(tmp_path, bad):
    path = tmp_path / "entry.lock"
    path.write_text(bad)
    assert holder(path) is None
