"""The paper scale without its data: cases skip with the path they expected (or fail when asked
to), and the paper preset carries the paper's hyperparameters."""
import subprocess
import sys

from bt_core.config import get_scale
from tests.helpers import REPO


def _pytest(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "cases/test_backdoor_fixed.py", "-m", "paper",
                           "-p", "no:cacheprovider", "--bt-scale", "paper", "--bt-device", "cpu",
                           "--bt-cache", str(tmp_path / "cache"), "--bt-output", str(tmp_path / "out"),
                           "--bt-target", "pets", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_missing_data_root_skips_with_the_expected_layout(tmp_path):
    proc = _pytest(tmp_path, "-rs", "--bt-data-root", str(tmp_path / "empty"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    assert str(tmp_path / "empty" / "pets" / "train.beton") in proc.stdout
    assert "python -m benchmark prepare pets --root NATIVE_DIR" in proc.stdout


def test_require_data_turns_the_skip_into_a_failure(tmp_path):
    proc = _pytest(tmp_path, "--bt-data-root", str(tmp_path / "empty"), "--bt-require-data")
    assert proc.returncode == 1
    assert "MissingDataError" in proc.stdout and "pets/train.beton" in proc.stdout


def test_paper_preset_follows_appendix_a():
    scale = get_scale("paper")
    assert (scale.arch, scale.image_size) == ("resnet18", 224)
    src = scale.source
    assert (src.epochs, src.batch_size, src.lr, src.peak_epoch, src.momentum) == (16, 1024, 0.5, 2, 0.9)
    assert scale.train_config("full", "flowers").epochs == 50
    assert scale.train_config("scratch", "pets").weight_decay == 0.01


def test_attribute_experiments_train_with_their_own_recipes():
    scale = get_scale("paper")
    celeba = scale.source_config("celeba_biased")
    assert (celeba.batch_size, celeba.epochs, celeba.lr, celeba.weight_decay, celeba.peak_epoch) == \
        (1024, 20, 0.05, 0.01, 5)                                                     # Table 6
    assert scale.train_config("fixed", "celeba_target_2") == scale.train_config("full", "celeba_target_1") == celeba
    assert scale.source_config("imagenet") == scale.source
    coco_source, coco_target = scale.source_config("coco_biased"), scale.train_config("full", "coco_target")
    assert (coco_source.batch_size, coco_source.epochs, coco_source.lr, coco_source.weight_decay) == \
        (256, 25, 0.01, 0.00005)                                                      # Table 3, pre-training
    assert (coco_target.batch_size, coco_target.epochs, coco_target.lr, coco_target.peak_epoch) == \
        (256, 25, 0.005, 2)                                                           # Table 3, fine-tuning
    assert "Table 3" in scale.notes["coco"] and "Table 6" in scale.notes["celeba"]


def test_the_architecture_sweep_trains_its_imagenet_sources_at_batch_512():
    scale = get_scale("paper")
    for arch in scale.architectures:
        cfg = scale.source_config("imagenet", arch)
        assert cfg.batch_size == (1024 if arch == "resnet18" else 512), arch          # App. A.4
        assert (cfg.epochs, cfg.lr) == (scale.source.epochs, scale.source.lr)
    assert scale.source_config("celeba_biased", "vgg16_bn") == scale.source_config("celeba_biased")
    smoke, mini = get_scale("paper-smoke"), get_scale("mini")
    swept = smoke.source_config("imagenet", "vgg16_bn")
    assert (swept.batch_size, swept.epochs) == (smoke.source.batch_size, smoke.source.epochs)   # the smoke budget
    assert all(mini.source_config(mini.source_data, a) == mini.source for a in mini.architectures)
