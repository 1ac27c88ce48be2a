"""Each bad training setting, scale, architecture or checkpoint gets one clear error naming the value
and what was expected; the learning-rate schedule is the paper's triangle."""
import math

import pytest

from bt_core.config import get_scale
from bt_core.errors import ConfigError, TrainingError
from bt_core.models import create_model, for_transfer
from bt_core.checkpoints import load_checkpoint, save_checkpoint
from bt_core.train_config import TrainConfig


@pytest.mark.parametrize("field, value, expected", [
    ("epochs", 0, "an integer >= 1"), ("lr", 0.0, "a finite value > 0"), ("lr", math.nan, "a finite value > 0"),
    ("peak_epoch", 9, r"a value in \[0, epochs=4\]"), ("momentum", 1.0, r"a value in \[0, 1\)"),
    ("weight_decay", -1e-4, r"a value in \[0, 1\)"), ("label_smoothing", 1.0, r"a value in \[0, 1\)"),
    ("batch_size", 0, "an integer >= 1"),
])
def test_train_config_values_out_of_range(field, value, expected):
    kw = {"epochs": 4, "batch_size": 8, "lr": 0.1, "peak_epoch": 1, field: value}
    with pytest.raises(ConfigError, match=f"{field}={value!r} is out of range: expected {expected}"):
        TrainConfig(**kw)


def test_triangular_schedule():
    cfg = TrainConfig(epochs=4, batch_size=8, lr=0.4, peak_epoch=1)
    assert [cfg.lr_at(e) for e in (0, 0.5, 1, 2.5, 4)] == pytest.approx([0, 0.2, 0.4, 0.2, 0])


def test_unknown_scale_and_mode():
    with pytest.raises(ConfigError, match="scale='huge' is unknown: expected one of mini, paper"):
        get_scale("huge")
    with pytest.raises(ConfigError, match="mode='partial' is unknown"):
        get_scale("mini").train_config("partial")


@pytest.mark.parametrize("name, match", [
    ("resnet9000", "architecture 'resnet9000' is unknown: expected one of mini_resnet"),
    ("no_such_pkg.mod:factory", "cannot be imported"),
    ("math:pi", r"architecture factory 'math:pi' is a float, not a function: expected 'package.module:function'"),
    ("builtins:dict", r"architecture factory 'builtins:dict' returned a dict: expected a torch.nn.Module"),
    ("timm:resnet18", "needs timm" if not __import__("importlib").util.find_spec("timm") else "^$"),
])
def test_unknown_architectures(name, match):
    if match == "^$":
        pytest.skip("timm is installed here")
    with pytest.raises(ConfigError, match=match):
        create_model(name, 10)


def test_unknown_transfer_mode_and_class_count():
    model = create_model("mini_resnet", 4)
    with pytest.raises(ConfigError, match="transfer mode='half' is unknown"):
        for_transfer(model, 3, "half")
    with pytest.raises(ConfigError, match="num_classes=1 is out of range"):
        create_model("mini_resnet", 1)


def test_checkpoint_of_another_architecture_or_class_count(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, create_model("mini_resnet", 4), {"arch": "mini_resnet"})
    load_checkpoint(path, arch="mini_resnet", num_classes=4)
    with pytest.raises(TrainingError, match="holds architecture 'mini_resnet', expected 'mini_vgg'"):
        load_checkpoint(path, arch="mini_vgg", num_classes=4)
    with pytest.raises(TrainingError, match="has 4 classes, expected 7"):
        load_checkpoint(path, arch="mini_resnet", num_classes=7)
