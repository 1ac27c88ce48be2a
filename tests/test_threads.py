"""Every model is built on the scale's thread count, whatever the process set before: CPU kernels
split float reductions by thread count, so a model trained on one thread differs from one trained
on two, and a borderline verdict could differ between a one-process and a pytest-xdist run."""
from dataclasses import replace

import torch

from bt_core.cache import Cache
from bt_core.config import get_scale
from bt_core.experiment import Context
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
            ctx._cached(kind, {"test": kind}, lambda folder: seen.append(torch.get_num_threads()))
        assert seen == [2, 2, 2]
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)

