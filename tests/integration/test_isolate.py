"""Code that may crash or hang the interpreter runs in a child process under a time limit
(bt_core.isolate), and the trainer uses a faster engine variant only where a probe of it passed
(bt_core.engine). The crashes and hangs here are real: os.abort() and a sleep loop in the child."""
import json
import os
import time
import warnings

import pytest
import torch
from torch import nn

from bt_core import engine
from bt_core.isolate import Isolated, Outcome, run_isolated


def _abort(*_):
    os.abort()


def _hang(*_):
    while True:
        time.sleep(0.1)


def _exit(*_):
    os._exit(3)


def _fail(*_):
    raise RuntimeError("no C++ compiler")


def _add(a, b):
    return a + b


def _adder(base):
    return lambda n: base + n if n >= 0 else _abort()


def test_a_child_returns_its_value():
    assert run_isolated(_add, 2, 3, timeout_s=120) == Outcome(True, 5)


@pytest.mark.parametrize("fn, reason", [(_abort, "crashed (SIGABRT)"), (_hang, "timed out after 3 s"),
                                        (_exit, "exited with status 3"), (_fail, "RuntimeError: no C++ compiler")])
def test_a_crash_a_hang_or_an_exception_in_the_child_is_an_outcome(fn, reason):
    assert run_isolated(fn, timeout_s=3 if fn is _hang else 120) == Outcome(False, reason=reason)


def test_a_served_child_answers_until_it_crashes_and_then_stays_failed():
    with Isolated(_adder, 10, timeout_s=120) as child:
        assert child.started.ok
        assert child(1, timeout_s=60) == Outcome(True, 11)
        assert child(-1, timeout_s=60) == Outcome(False, reason="crashed (SIGABRT)")
        assert child(2, timeout_s=60) == Outcome(False, reason="crashed (SIGABRT)")


def test_a_served_child_that_hangs_while_building_is_timed_out():
    child = Isolated(_hang, timeout_s=3)
    assert child.started == Outcome(False, reason="timed out after 3 s")
    assert child(1, timeout_s=60) == child.started


@pytest.mark.parametrize("limit", [0, -1.0])
def test_a_limit_that_is_not_positive_is_refused(limit):
    with pytest.raises(ValueError, match=f"timeout_s={limit!r}: expected a number of seconds > 0"):
        run_isolated(_add, 1, 2, timeout_s=limit)


def test_an_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="engine variant 'fast' is unknown: expected one of eager, channels_last"):
        engine.training_step(nn.Linear(2, 2), "fast", torch.zeros(1, 1, 2), torch.zeros(1, 1, dtype=torch.long),
                             torch.device("cpu"))


def _net():
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


def test_the_probe_trains_the_variant_in_a_child_and_records_the_outcome(tmp_path):
    example = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8).float()
    got = engine.probe(_net(), example, "channels_last", torch.device("cpu"), root=tmp_path, timeout_s=300)
    assert got in (Outcome(True), Outcome(False, reason="crashed (SIGABRT)"))
    record = json.loads((tmp_path / engine.PROBE_FILE).read_text())
    (key, value), = record.items()
    assert json.loads(key)["variant"] == "channels_last" and json.loads(key)["torch"] == torch.__version__
    assert value == {"ok": got.ok, "reason": got.reason}


def test_a_failed_probe_falls_back_to_eager_with_one_warning_and_a_warm_run_starts_no_child(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "_warned", set())
    example = torch.zeros(2, 3, 8, 8)
    with pytest.warns(engine.EngineWarning, match=r"channels_last is unavailable on this machine \(crashed \(SIGABRT\)\)"):
        assert engine.choose(_net(), example, torch.device("cpu"), root=tmp_path, wanted=("channels_last",),
                             runner=_abort) == "eager"
    monkeypatch.setattr(engine, "run_isolated", _fail)         # a second child would raise here
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine.choose(_net(), example, torch.device("cpu"), root=tmp_path, wanted=("channels_last",)) == "eager"


def test_a_passed_probe_selects_the_variant(tmp_path):
    example = torch.zeros(2, 3, 8, 8)
    assert engine.choose(_net(), example, torch.device("cpu"), root=tmp_path, wanted=("fused_sgd",)) == "fused_sgd"


def test_the_trainer_has_no_variant_to_probe_on_the_cpu():
    assert engine.candidates(torch.device("cpu")) == ()
    assert engine.candidates(torch.device("cuda")) == ("channels_last",)


def _reduced_case(channels: int) -> str:
    """The backward pass of a 1x1 stride-2 convolution from 3 channels on a channels_last input,
    one thread: where torch 2.14.1 corrupts the heap on an AVX2-only CPU."""
    torch.set_num_threads(1)
    conv = nn.Conv2d(3, channels, kernel_size=1, stride=2, bias=False).to(memory_format=torch.channels_last)
    x = torch.randn(8, 3, 32, 32).contiguous(memory_format=torch.channels_last).requires_grad_()
    conv(x).square().sum().backward()
    return f"{tuple(x.grad.shape)}"


def test_whether_this_torch_crashes_in_the_channels_last_conv_backward_here(record_property, capsys):
    """Records, never fails on, whether this torch on this CPU has the bug: it tells when an
    upgrade fixed it. Only the outcome's form is checked."""
    got = run_isolated(_reduced_case, 12, timeout_s=300)
    cpu = engine.machine_id(torch.device("cpu"))["cpu"]
    note = "not affected" if got.ok else f"affected: {got.reason}"
    record_property("channels_last_conv_backward", note)
    with capsys.disabled():
        print(f"\n[torch {torch.__version__} on {cpu}] channels_last 1x1 stride-2 conv backward: {note}")
    assert got == Outcome(True, "(8, 3, 32, 32)") or got.reason.startswith(("crashed (", "timed out after"))
