"""The time limit a test runs under, and what a test that runs out of it says (a pytest plugin the
suite's plugin loads). pytest.ini gives every test 600 s; see docs/decisions.md for how the limits were chosen."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

TRAINING_TIMEOUT_S = 1800


def training_timeout(scale: str, user_set: bool) -> float | None:
    """The time limit of a test that trains: the user's where one is set (--timeout, $PYTEST_TIMEOUT: None
    here); none (0) at the paper scale, where a test trains its models for hours inline; else 1,800 s."""
    if user_set:
        return None
    return 0 if scale == "paper" else TRAINING_TIMEOUT_S


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that train models (the claims, and tests marked slow) get their limit unless they set one."""
    limit = training_timeout(config._bt_session.scale.name,
                             config.getoption("timeout") is not None or bool(os.environ.get("PYTEST_TIMEOUT")))
    for item in items:
        if limit is not None and (item.get_closest_marker("paper") or item.get_closest_marker("slow")) \
                and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(limit))


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings) -> bool | None:
    """pytest-timeout's thread method (the one that also ends a test stuck in a native kernel), whose
    last words say which test ran out of time, what is kept and how to give it longer."""
    if settings.method != "thread":
        return None
    timer = threading.Timer(settings.timeout, _out_of_time, (item, settings))
    timer.name = f"bt time limit {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel
    timer.start()
    return True


def _out_of_time(item: pytest.Item, settings) -> None:
    import pytest_timeout

    if not settings.disable_debugger_detection and pytest_timeout.is_debugging():
        return
    terminal = item.config.get_terminal_writer()
    try:
        capture = item.config.pluginmanager.getplugin("capturemanager")
        if capture:
            capture.suspend_global_capture(item)
        terminal.sep("+", title="Timeout: where each thread was")
        pytest_timeout.dump_stacks(terminal)
        session = getattr(item.config, "_bt_session", None)
        cache = Path(session.ctx.cache.root).resolve() if session is not None else None
        kept = f"; the models built so far stay in the artifact cache {cache} and a rerun goes on from them" if cache else ""
        terminal.line(f"bt: {item.nodeid} ran past its time limit of {settings.timeout:g} s and the run was "
                      f"stopped{kept}. On a slow or loaded machine give it longer: --timeout SECONDS (0: no limit).",
                      red=True, bold=True)
    finally:
        terminal.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
