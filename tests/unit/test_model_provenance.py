"""What makes a cached model what it is, beyond its seed and recipe: the thread count it was built
on (CPU kernels split float reductions by thread count, so a model trained on one thread differs
from one trained on two, and a borderline verdict could differ between a one-process and a
pytest-xdist run) and the layers of its architecture."""
from dataclasses import replace

import torch

from bt_core.cache import Cache
from bt_core.config import get_scale
from bt_core.experiment import Context
from bt_core.models import MINI, fingerprint, mini_vgg
from bt_core.train import pinned_threads


def test_pinned_threads_sets_and_restores_the_count():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with pinned_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pinned_threads(None):
        assert torch.get_num_threads() == before


def test_cache_entries_are_built_on_the_scales_thread_count(tmp_path):
    ctx = Context(replace(get_scale("mini"), threads=2), Cache(tmp_path))
    seen: list[int] = []
    before = torch.get_num_threads()
    torch.set_num_threads(1)          # what a one-worker FFCV Loader or an xdist worker leaves behind
    try:
        for kind in ("source", "transfer", "predictions"):
            ctx.cached(kind, {"test": kind}, lambda folder: seen.append(torch.get_num_threads()))
        assert seen == [2, 2, 2]
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_an_architecture_redefined_under_its_name_gets_another_fingerprint(monkeypatch):
    before = fingerprint("mini_vgg")
    with monkeypatch.context() as patch:
        patch.setitem(MINI, "mini_vgg", lambda: mini_vgg(widths=(8, 16, 48)))
        fingerprint.cache_clear()
        redefined = fingerprint("mini_vgg")
    fingerprint.cache_clear()
    assert redefined != before
    assert fingerprint("mini_vgg") == before
    assert len({fingerprint(arch) for arch in MINI}) == len(MINI)
