"""The trainer on tiny data: a transfer trains its own copy of the source's backbone (frozen in the
fixed modes), a non-finite loss names its epoch and step, and one seed gives one history."""
import numpy as np
import pytest
import torch

from bt_core.data.batches import MemoryBatches
from bt_core.data.beton import Arrays
from bt_core.errors import TrainingError
from bt_core.models import create_model, for_transfer
from bt_core.train import train
from bt_core.train_config import TrainConfig


def test_transfer_copies_the_backbone_and_freezes_it_for_fixed_modes():
    source = create_model("mini_resnet", 4)
    before = {k: v.clone() for k, v in source.state_dict().items()}
    fixed = for_transfer(source, 3, "fixed")
    assert fixed.head.out_features == 3
    assert not any(p.requires_grad for p in fixed.backbone.parameters())
    full = for_transfer(source, 3, "full")
    assert all(p.requires_grad for p in full.backbone.parameters())
    data = Arrays(np.random.default_rng(0).integers(0, 256, (32, 32, 32, 3), dtype=np.uint8),
                  np.arange(32) % 3, {}, 3)
    train(full, MemoryBatches(data, batch_size=16, train=True, seed=0, device=torch.device("cpu")),
          TrainConfig(epochs=1, batch_size=16, lr=0.1, peak_epoch=0), device=torch.device("cpu"), seed=0)
    for k, v in source.state_dict().items():
        assert torch.equal(v, before[k]), f"training the transfer changed the source's {k}"


def _tiny():
    rng = np.random.default_rng(0)
    return Arrays(rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8), np.arange(64) % 2, {}, 2)


def test_non_finite_loss_names_epoch_and_step():
    model = create_model("mini_resnet", 2)
    with torch.no_grad():
        model.head.weight.fill_(float("inf"))
    batches = MemoryBatches(_tiny(), batch_size=16, train=True, seed=0, device=torch.device("cpu"))
    with pytest.raises(TrainingError, match=r"loss became (nan|inf) at epoch 1, step 1 of 4"):
        train(model, batches, TrainConfig(epochs=2, batch_size=16, lr=0.1, peak_epoch=1),
              device=torch.device("cpu"), seed=0)


def test_same_seed_same_history():
    """An empty or constant history would also repeat itself: it must have an epoch each and differ
    under another seed."""
    def run(seed):
        torch.manual_seed(0)
        model = create_model("mini_resnet", 2)
        batches = MemoryBatches(_tiny(), batch_size=16, train=True, seed=seed, device=torch.device("cpu"))
        return train(model, batches, TrainConfig(epochs=2, batch_size=16, lr=0.1, peak_epoch=1),
                     device=torch.device("cpu"), seed=seed).loss
    first = run(0)
    assert len(first) == 2 and all(np.isfinite(first)), first
    assert run(0) == first and run(1) != first
