"""Checkpoints are read with ``weights_only=True``: the suite's own carry their config as JSON text,
and a file that carries pickled code is refused before anything in it runs."""
import pytest
import torch

from bt_core.train_config import TrainConfig
from bt_core.errors import TrainingError
from bt_core.models import create_model, for_transfer
from bt_core.checkpoints import load_checkpoint, load_pretrained, read_weights, save_checkpoint


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


def test_missing_and_garbage_checkpoints(tmp_path):
    with pytest.raises(TrainingError, match="checkpoint '.*nope.pt' does not exist"):
        read_weights(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(TrainingError, match="checkpoint '.*junk.pt' is not a checkpoint"):
        read_weights(tmp_path / "junk.pt")
    torch.save(create_model("mini_resnet", 4).state_dict(), tmp_path / "bare.pt")
    with pytest.raises(TrainingError, match="is not in the suite's checkpoint format 2"):
        load_checkpoint(tmp_path / "bare.pt", arch="mini_resnet", num_classes=4)


def test_an_earlier_caches_checkpoint_still_loads_weights_only(tmp_path):
    """Format 1 pickled its TrainConfig: that one plain class is allowed, so an earlier cache's
    models are read (not retrained), and as format 2 would store their config."""
    model = create_model("mini_resnet", 4)
    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.1, peak_epoch=1)
    torch.save({"state_dict": model.state_dict(), "config": {"arch": "mini_resnet", "train": cfg},
                "num_classes": 4}, tmp_path / "v1.pt")
    save_checkpoint(tmp_path / "v2.pt", model, {"arch": "mini_resnet", "train": cfg})
    (_, v1), (_, v2) = (load_checkpoint(tmp_path / f"v{k}.pt", arch="mini_resnet", num_classes=4) for k in (1, 2))
    assert v1 == v2 and v1["arch"] == "mini_resnet"


# --- a pre-trained source from elsewhere (--bt-source-weights) ----------------------------------

def _resnet18_state():
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18().state_dict()


@pytest.mark.parametrize("layout", ["bare", "state_dict", "model", "module."])
def test_torchvision_weights_load_in_any_common_layout_and_their_head_is_dropped(tmp_path, layout):
    state = _resnet18_state()
    blob = {"bare": state, "state_dict": {"state_dict": state, "epoch": 90}, "model": {"model": state, "args": "x"},
            "module.": {f"module.{k}": v for k, v in state.items()}}[layout]
    torch.save(blob, tmp_path / "w.pt")
    backbone, width = load_pretrained(tmp_path / "w.pt", "resnet18")
    assert width == 512
    assert torch.equal(backbone.state_dict()["layer4.1.conv2.weight"], state["layer4.1.conv2.weight"])
    transferred = for_transfer((backbone, width), 5, "fixed")
    assert transferred.num_classes == 5 and not any(p.requires_grad for p in transferred.backbone.parameters())


def test_the_suites_own_classifier_loads_as_a_source(tmp_path):
    model = create_model("mini_resnet", 20)
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    save_checkpoint(tmp_path / "ours.pt", model, {"arch": "mini_resnet"})
    for name in ("plain.pt", "ours.pt"):
        backbone, width = load_pretrained(tmp_path / name, "mini_resnet")
        assert width == model.num_features
        assert all(torch.equal(v, model.backbone.state_dict()[k]) for k, v in backbone.state_dict().items())


def test_weights_that_do_not_fit_the_architecture_name_the_keys(tmp_path):
    torch.save(_resnet18_state(), tmp_path / "r18.pt")
    with pytest.raises(TrainingError, match=r"do not fit architecture 'resnet34': 96 missing keys \(layer1.2.conv1"):
        load_pretrained(tmp_path / "r18.pt", "resnet34")
    with pytest.raises(TrainingError, match=r"'mini_resnet': .* unexpected keys \(conv1.weight, bn1.weight"):
        load_pretrained(tmp_path / "r18.pt", "mini_resnet")
    state = _resnet18_state()
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(state, tmp_path / "shape.pt")
    with pytest.raises(TrainingError, match=r"1 of another shape \(conv1.weight is \(64, 3, 3, 3\) in the file, "
                                            r"\(64, 3, 7, 7\) in resnet18\)"):
        load_pretrained(tmp_path / "shape.pt", "resnet18")


@pytest.mark.parametrize("blob, match", [
    ([1, 2], "hold a list, not a state dict"),
    ({"conv1.weight": torch.zeros(1), "epoch": 3}, "entry 'epoch' is a int, not a tensor"),
])
def test_files_that_hold_no_state_dict(tmp_path, blob, match):
    torch.save(blob, tmp_path / "w.pt")
    with pytest.raises(TrainingError, match=match):
        load_pretrained(tmp_path / "w.pt", "resnet18")


def test_source_weights_carrying_pickled_code_are_refused(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"state_dict": _resnet18_state(), "hook": _Planted(marker)}, tmp_path / "w.pt")
    with pytest.raises(TrainingError, match="source weights '.*w.pt' is not a plain weights file"):
        load_pretrained(tmp_path / "w.pt", "resnet18")
    assert not marker.exists()


def test_a_weights_file_is_read_once_and_loaded_from_the_bytes_it_was_hashed_by(tmp_path):
    import hashlib

    from bt_core.cache import Cache
    from bt_core.config import get_scale
    from bt_core.experiment import Context
    from bt_core.options import given_source

    path = tmp_path / "w.pt"
    torch.manual_seed(0)
    first = create_model("mini_resnet", 4).state_dict()
    torch.save(first, path)
    hashed = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = given_source(str(path), "mini_resnet")
    torch.manual_seed(1)
    torch.save(create_model("mini_resnet", 4).state_dict(), path)       # replaced while the run goes on
    (backbone, _), key = Context(get_scale("mini"), Cache(tmp_path / "c")).source_model(spec, 0)
    assert spec.weights_sha256 == key["sha256"] == hashed
    assert all(torch.equal(v, first[f"backbone.{k}"]) for k, v in backbone.state_dict().items())
