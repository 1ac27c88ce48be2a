"""A build interrupted mid-training (a job killed, preempted or out of time) resumes from its last
epoch and ends with the weights of an uninterrupted run."""
import numpy as np
import pytest
import torch

from bt_core.train_config import TrainConfig
from bt_core.data.batches import MemoryBatches
from bt_core.data.beton import Arrays
from bt_core.models import create_model
from bt_core.train import pinned_threads, train

CFG = TrainConfig(epochs=3, batch_size=16, lr=0.05, peak_epoch=1, flip=True)


def _data() -> Arrays:
    rng = np.random.default_rng(0)
    return Arrays(rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8), rng.integers(0, 3, 64), num_classes=3)


def _run(resume=None, stop_at=None):
    torch.manual_seed(0)
    model = create_model("mini_resnet", 3)
    batches = MemoryBatches(_data(), batch_size=CFG.batch_size, train=True, seed=1, device=torch.device("cpu"),
                            flip=True)

    def stop(done, epochs, ips):
        if stop_at is not None and done >= stop_at:
            raise KeyboardInterrupt("the job was killed")

    with pinned_threads(1):
        history = train(model, batches, CFG, device=torch.device("cpu"), seed=1, on_progress=stop, resume=resume)
    return model, history


def test_a_killed_training_resumes_from_its_last_epoch_with_the_same_weights(tmp_path):
    straight, history = _run()
    path = tmp_path / "model.resume.pt"
    with pytest.raises(KeyboardInterrupt):
        _run(resume=path, stop_at=1.5)                    # killed halfway through the second epoch
    assert torch.load(path, weights_only=True)["epochs"] == 1
    resumed, resumed_history = _run(resume=path)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed_history.loss == pytest.approx(history.loss)


def test_the_last_epoch_is_not_saved_to_resume_from(tmp_path):
    path = tmp_path / "model.resume.pt"
    _run(resume=path)
    assert torch.load(path, weights_only=True)["epochs"] == CFG.epochs - 1   # the built model is published instead
