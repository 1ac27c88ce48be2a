"""Every bad input of the engine gets one clear error naming the value and what was expected, and a
damaged cache entry is rebuilt rather than trusted."""
import math
import multiprocessing as mp
import os
import time

import numpy as np
import pytest
import torch

from bt_core.cache import Cache, CacheWarning
from bt_core.config import get_scale
from bt_core.train_config import TrainConfig
from bt_core.data.batches import MemoryBatches
from bt_core.data.beton import Arrays, read_arrays, read_meta, write_arrays
from bt_core.errors import ConfigError, DataError, TrainingError
from bt_core.models import create_model, for_transfer, load_checkpoint, save_checkpoint
from bt_core.train import train


# --- configuration ------------------------------------------------------------------------------

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


# --- models -----------------------------------------------------------------------------------

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


# --- training ---------------------------------------------------------------------------------

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
    def run():
        torch.manual_seed(0)
        model = create_model("mini_resnet", 2)
        batches = MemoryBatches(_tiny(), batch_size=16, train=True, seed=0, device=torch.device("cpu"))
        return train(model, batches, TrainConfig(epochs=2, batch_size=16, lr=0.1, peak_epoch=1),
                     device=torch.device("cpu"), seed=0).loss
    assert run() == run()


# --- datasets ---------------------------------------------------------------------------------

def test_missing_truncated_and_sidecar_less_betons(tmp_path):
    with pytest.raises(DataError, match="does not exist: expected a .beton"):
        read_meta(tmp_path / "nope.beton")
    path = write_arrays(tmp_path / "d.beton", _tiny())
    read_meta(path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 100)
    with pytest.raises(DataError, match="is truncated or altered: it has .* bytes, expected"):
        read_arrays(path)
    os.remove(str(path) + ".json")
    with pytest.raises(DataError, match="has no sidecar"):
        read_meta(path)


def test_same_data_same_bytes(tmp_path):
    a = write_arrays(tmp_path / "a.beton", _tiny())
    b = write_arrays(tmp_path / "b.beton", _tiny())
    assert a.read_bytes() == b.read_bytes()


def test_raw_decode_is_exact_and_leaves_ffcv_compiling(tmp_path):
    """Raw images decode through an interpreted FFCV pipeline; the bytes must be the written ones,
    and pipelines built afterwards (the paper scale's streaming loaders) must be compiled again."""
    from ffcv.pipeline.compiler import Compiler

    data = _tiny()
    back = read_arrays(write_arrays(tmp_path / "a.beton", data))
    assert np.array_equal(back.images, data.images) and np.array_equal(back.labels, data.labels)
    assert Compiler.is_enabled


# --- the artifact cache -----------------------------------------------------------------------

def _build(folder):
    (folder / "payload.txt").write_text("made")
    with open(folder.parent / "builds.log", "a") as f:
        f.write("x")


def test_cache_builds_once_and_reuses(tmp_path):
    cache = Cache(tmp_path)
    first = cache.get("k", {"a": 1}, _build)
    assert cache.get("k", {"a": 1}, _build) == first
    assert (tmp_path / "k" / "builds.log").read_text() == "x"


@pytest.mark.parametrize("damage", ["delete", "truncate", "manifest"])
def test_damaged_entry_is_rebuilt_with_a_warning(tmp_path, damage):
    cache = Cache(tmp_path)
    entry = cache.get("k", {"a": 1}, _build)
    {"delete": lambda: (entry / "payload.txt").unlink(),
     "truncate": lambda: (entry / "payload.txt").write_text("ma"),
     "manifest": lambda: (entry / "manifest.json").write_text("{oops")}[damage]()
    with pytest.warns(CacheWarning, match="is damaged"):
        cache.get("k", {"a": 1}, _build)
    assert (entry / "payload.txt").read_text() == "made"


def test_entry_damaged_after_it_was_checked_is_rebuilt(tmp_path):
    """The cache skips re-hashing files it has checked, but only while their size and mtime hold."""
    cache = Cache(tmp_path)
    entry = cache.get("k", {"a": 1}, _build)
    assert cache.get("k", {"a": 1}, _build) == entry            # checked and remembered
    payload = entry / "payload.txt"
    stat = payload.stat()
    payload.write_text("mode")                                    # same size, other bytes
    os.utime(payload, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.warns(CacheWarning, match="payload.txt does not match its recorded digest"):
        cache.get("k", {"a": 1}, _build)
    assert payload.read_text() == "made"


def test_interrupted_build_is_not_an_entry(tmp_path):
    cache = Cache(tmp_path)
    def crash(folder):
        (folder / "payload.txt").write_text("half")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        cache.get("k", {"a": 1}, crash)
    assert cache.get("k", {"a": 1}, _build).joinpath("payload.txt").read_text() == "made"


def _worker(root):
    Cache(root).get("k", {"a": 1}, _slow_build)


def _slow_build(folder):
    import time

    time.sleep(0.5)
    _build(folder)


def test_concurrent_workers_build_an_entry_once(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(tmp_path),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert (tmp_path / "k" / "builds.log").read_text() == "x"


def test_unwritable_cache_root(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cache directory .* cannot be created"):
        Cache(blocker / "cache")


def test_cache_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BT_CACHE_DIR", str(tmp_path / "env-cache"))
    assert Cache().root == tmp_path / "env-cache"


def test_build_folders_of_dead_processes_are_removed_on_the_next_access(tmp_path):
    import subprocess
    import sys

    from bt_core.cache import HOST, STALE_S

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(done.stdout), os.getppid()
    kind = tmp_path / "k"
    names = {"killed": f".abc.{dead}.tmp", "killed_here": f".abc.{HOST}.{dead}.tmp",
             "running": f".abc.{HOST}.{alive}.tmp", "other_host": f".abc.node-7.{dead}.tmp",
             "other_host_old": f".abc.node-7.{dead + 1}.tmp"}
    for name in names.values():
        (kind / name).mkdir(parents=True)
        (kind / name / "half.bin").write_bytes(b"x")
    old = time.time() - STALE_S - 60
    os.utime(kind / names["other_host_old"], (old, old))
    Cache(tmp_path).get("k", {"a": 1}, _build)
    left = {label for label, name in names.items() if (kind / name).exists()}
    assert left == {"running", "other_host"}
