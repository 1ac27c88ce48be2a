"""Run code that may crash or hang the interpreter in a child process, under a time limit.

A native kernel that corrupts the heap aborts the whole process, and one that spins never returns:
neither can be caught in-process. The child is started with ``spawn`` (no inherited torch threads
or CUDA state), so what it brings back is a value, an exception's summary, a signal, or a timeout.
The functions and arguments sent to a child must be picklable (module-level functions).
"""
from __future__ import annotations

import multiprocessing
import signal
from dataclasses import dataclass
from typing import Any, Callable

_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Outcome:
    """What came back from a child: ``ok`` with ``value``, or why not in ``reason``."""

    ok: bool
    value: Any = None
    reason: str = ""


def _summary(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _serve(conn, factory: Callable[..., Any], args: tuple, serve: bool) -> None:
    """The child: build ``factory(*args)``; send it back, or keep it and answer calls until None."""
    try:
        made = factory(*args)
    except Exception as exc:  # noqa: BLE001 - an exception is a result the parent reports
        conn.send(("error", _summary(exc)))
        return
    conn.send(("ok", None if serve else made))
    while serve:
        try:
            request = conn.recv()
        except EOFError:
            return                          # the parent is gone
        if request is None:
            return
        try:
            conn.send(("ok", made(*request)))
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", _summary(exc)))


def _check_limit(timeout_s: float) -> None:
    if not timeout_s > 0:
        raise ValueError(f"timeout_s={timeout_s!r}: expected a number of seconds > 0")


class _Child:
    """One spawned child running :func:`_serve`, and the waits on its answers."""

    def __init__(self, factory: Callable[..., Any], args: tuple, serve: bool):
        self.conn, child = _CONTEXT.Pipe()
        self.proc = _CONTEXT.Process(target=_serve, args=(child, factory, args, serve), daemon=True)
        self.proc.start()
        child.close()                      # the parent keeps no copy, so a dead child reads as EOF

    def wait(self, timeout_s: float) -> Outcome:
        if not self.conn.poll(timeout_s):
            return Outcome(False, reason=f"timed out after {timeout_s:g} s")
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError):
            self.proc.join()
            code = self.proc.exitcode
            return Outcome(False, reason=(f"crashed ({signal.Signals(-code).name})" if code is not None and code < 0
                                          else f"exited with status {code}"))
        return Outcome(True, payload) if status == "ok" else Outcome(False, reason=payload)

    def close(self, polite: bool) -> None:
        """Ask the child to finish (``polite``), and kill it if it is still there (it may be spinning)."""
        if polite and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(5)
            except OSError:
                pass
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


class Isolated:
    """A child process that builds ``factory(*args)`` once and then runs it on request.

    Each wait (the build, then each call) has its own limit. Once the child has crashed, timed out
    or failed, it is ended, and every later call returns that same outcome without running anything.
    """

    def __init__(self, factory: Callable[..., Callable[..., Any]], *args: Any, timeout_s: float):
        _check_limit(timeout_s)
        self._child = _Child(factory, args, serve=True)
        self.failure: Outcome | None = None
        self.started = self._settle(self._child.wait(timeout_s))

    def _settle(self, outcome: Outcome) -> Outcome:
        if not outcome.ok:
            self.failure = outcome
            self._child.close(polite=False)
        return outcome

    def __call__(self, *args: Any, timeout_s: float) -> Outcome:
        _check_limit(timeout_s)
        if self.failure is not None:
            return self.failure
        self._child.conn.send(args)
        return self._settle(self._child.wait(timeout_s))

    def close(self) -> None:
        if self.failure is None:
            self._child.close(polite=True)

    def __enter__(self) -> "Isolated":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_isolated(fn: Callable[..., Any], *args: Any, timeout_s: float) -> Outcome:
    """``fn(*args)`` in a child process: its value, or why it has none (an exception's type and
    message, "crashed (SIGABRT)" for a death by signal, "timed out after N s")."""
    _check_limit(timeout_s)
    child = _Child(fn, args, serve=False)
    try:
        return child.wait(timeout_s)
    finally:
        child.close(polite=False)
