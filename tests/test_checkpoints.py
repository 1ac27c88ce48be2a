"""Checkpoints are read with ``weights_only=True``: the suite's own carry their config as JSON text,
and a file that carries pickled code is refused before anything in it runs."""
import torch
import pytest

from bt_core.errors import TrainingError
from bt_core.models import create_model, load_checkpoint, read_weights, save_checkpoint


class _Planted:
    """Unpickling this would create ``marker``: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_the_suites_checkpoint_round_trips_with_its_config(tmp_path):
    model = create_model("mini_resnet", 4)
    save_checkpoint(tmp_path / "m.pt", model, {"arch": "mini_resnet", "seed": 3, "train": object()})
    loaded, config = load_checkpoint(tmp_path / "m.pt", arch="mini_resnet", num_classes=4)
    assert config["arch"] == "mini_resnet" and config["seed"] == 3
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_a_file_carrying_pickled_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": create_model("mini_resnet", 4).state_dict(), "config": _Planted(marker)}, path)
    for read in (lambda: load_checkpoint(path, arch="mini_resnet", num_classes=4), lambda: read_weights(path)):
        with pytest.raises(TrainingError, match=f"checkpoint '{path}' is not a plain weights file .*"
                                                "nothing in it was run"):
            read()
    assert not marker.exists()


def test_missing_garbage_and_old_format_checkpoints(tmp_path):
    with pytest.raises(TrainingError, match="checkpoint '.*nope.pt' does not exist"):
        read_weights(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(TrainingError, match="checkpoint '.*junk.pt' is not a checkpoint"):
        read_weights(tmp_path / "junk.pt")
    torch.save({"state_dict": create_model("mini_resnet", 4).state_dict(), "config": {"arch": "mini_resnet"},
                "num_classes": 4}, tmp_path / "v1.pt")
    with pytest.raises(TrainingError, match="is not in the suite's checkpoint format 2"):
        load_checkpoint(tmp_path / "v1.pt", arch="mini_resnet", num_classes=4)
