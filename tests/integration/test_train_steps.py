"""The trainer's bookkeeping (loss, accuracy, the non-finite check) stays on the device during an
epoch: the steps are a plain SGD loop's, bit for bit, the host reads them once per epoch, and a
non-finite loss still stops training with its epoch and step."""
import numpy as np
import pytest
import torch
from torch import nn

from bt_core.config import TrainConfig
from bt_core.data.batches import MemoryBatches
from bt_core.data.beton import Arrays
from bt_core.errors import TrainingError
from bt_core.models import create_model
from bt_core.train import pinned_threads, train

CFG = TrainConfig(epochs=2, batch_size=16, lr=0.05, peak_epoch=1, flip=True, label_smoothing=0.1)
CPU = torch.device("cpu")


def _batches() -> MemoryBatches:
    rng = np.random.default_rng(0)
    data = Arrays(rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8), rng.integers(0, 3, 64), num_classes=3)
    return MemoryBatches(data, batch_size=CFG.batch_size, train=True, seed=1, device=CPU, flip=True)


def _reference(model: nn.Module, batches: MemoryBatches) -> tuple[list[float], list[float]]:
    """The loop written out with a host read of every step's loss and accuracy."""
    torch.manual_seed(1)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=CFG.lr, momentum=CFG.momentum, weight_decay=CFG.weight_decay)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=CFG.label_smoothing)
    losses, accuracies = [], []
    for epoch in range(CFG.epochs):
        model.train()
        total, correct, count = 0.0, 0, 0
        for step, (x, y) in enumerate(batches):
            for group in opt.param_groups:
                group["lr"] = CFG.lr_at(epoch + step / len(batches))
            logits = model(x)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
            count += len(y)
        losses.append(total / count)
        accuracies.append(correct / count)
    return losses, accuracies


def test_training_is_a_plain_sgd_loop_bit_for_bit():
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(create_model("mini_resnet", 3))
    with pinned_threads(1):
        history = train(models[0], _batches(), CFG, device=CPU, seed=1)
        loss, accuracy = _reference(models[1], _batches())
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        assert torch.equal(a, b)
    assert history.loss == loss and history.accuracy == accuracy


def test_the_host_reads_the_bookkeeping_once_per_epoch(monkeypatch):
    """Every way a tensor's value reaches Python (each one waits for the device) is counted."""
    reads: dict[str, int] = {}
    for name in ("item", "tolist", "__bool__", "__int__", "__float__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            reads[_name] = reads.get(_name, 0) + 1
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counted)
    torch.manual_seed(0)
    model = create_model("mini_resnet", 3)
    batches = _batches()
    with pinned_threads(1):
        train(model, batches, CFG, device=CPU, seed=1)
    monkeypatch.undo()
    assert len(batches) * CFG.epochs == 8
    assert reads == {"tolist": CFG.epochs}


class _NonFiniteAt(nn.Module):
    """A linear classifier whose output is ``value`` on its ``call``-th forward pass (1-based)."""

    def __init__(self, call: int, value: float):
        super().__init__()
        self.head = nn.Linear(3 * 16 * 16, 3)
        self.call, self.value, self.calls = call, value, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.head(x.float().flatten(1) / 255)
        return out * self.value if self.calls == self.call else out


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "(inf|nan)")])
def test_a_non_finite_loss_later_in_training_names_its_epoch_and_first_step(value, shown):
    model = _NonFiniteAt(call=4 + 3, value=value)           # epoch 2 (4 steps an epoch), step 3
    with pytest.raises(TrainingError, match=rf"train: loss became {shown} at epoch 2, step 3 of 4 \(lr .*\); "
                                            "expected a finite loss"):
        train(model, _batches(), CFG, device=CPU, seed=1)
    assert model.calls == 8                                # the epoch ran out before its check


def test_an_epoch_with_a_non_finite_loss_is_not_saved_to_resume_from(tmp_path):
    path = tmp_path / "model.resume.pt"
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.05, peak_epoch=1)
    with pytest.raises(TrainingError, match="at epoch 2, step 1 of 4"):
        train(_NonFiniteAt(call=5, value=float("nan")), _batches(), cfg, device=CPU, seed=1, resume=path)
    state = torch.load(path, weights_only=True)
    assert state["epochs"] == 1 and len(state["loss"]) == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())
