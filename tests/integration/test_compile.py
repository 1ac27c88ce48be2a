"""Training through torch.compile (``--bt-compile``): inductor's cache sits in the artifact cache, so a
second process on that cache compiles nothing and trains the same floats; a last smaller batch runs
eagerly; a compile that fails here is one warning naming why, and the model trains to the very floats
of an eager run."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from bt_core import compiling
from bt_core.config import TrainConfig
from bt_core.data.batches import MemoryBatches
from bt_core.data.beton import Arrays
from bt_core.engine import EngineWarning
from bt_core.models import create_model
from bt_core.train import pinned_threads, train
from tests.helpers import REPO

CPU = torch.device("cpu")
CFG = TrainConfig(epochs=2, batch_size=16, lr=0.05, peak_epoch=0.5)


def _batches() -> MemoryBatches:
    """40 images in order: two batches of 16, then one of 8."""
    rng = np.random.default_rng(0)
    data = Arrays(rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8), rng.integers(0, 3, 40), num_classes=3)
    return MemoryBatches(data, batch_size=16, train=False, seed=1, device=CPU)


def _trained(compile_root=None):
    torch.manual_seed(0)
    model = create_model("mini_vgg", 3)
    with pinned_threads(1):
        history = train(model, _batches(), CFG, device=CPU, seed=1, compile_root=compile_root, desc="test model")
    return model, history


_CHILD = textwrap.dedent("""
    import json, sys
    import torch
    from torch._dynamo.utils import counters
    from tests.integration.test_compile import _trained
    model, history = _trained(sys.argv[1])
    torch.save(model.state_dict(), sys.argv[2])
    print(json.dumps({"engine": history.engine, "loss": history.loss, **counters["inductor"]}))
""")


def _child(root, weights):
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(root), str(weights)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_second_process_on_the_cache_compiles_nothing_and_trains_the_same_floats(tmp_path):
    cold = _child(tmp_path / "cache", tmp_path / "cold.pt")
    warm = _child(tmp_path / "cache", tmp_path / "warm.pt")
    assert cold["engine"] == warm["engine"] == "compiled"
    assert cold.get("fxgraph_cache_miss", 0) > 0
    assert warm.get("fxgraph_cache_miss", 0) == 0 and warm.get("fxgraph_cache_hit", 0) > 0
    assert (tmp_path / "cache" / compiling.INDUCTOR_DIR).is_dir()
    a, b = torch.load(tmp_path / "cold.pt"), torch.load(tmp_path / "warm.pt")
    assert all(torch.equal(a[k], b[k]) for k in a) and cold["loss"] == warm["loss"]
    eager, _ = _trained()
    assert any(not torch.equal(a[k], v) for k, v in eager.state_dict().items() if v.is_floating_point())


def test_a_compile_that_fails_here_warns_once_and_trains_as_eager(tmp_path, monkeypatch):
    def no_compiler(graph, example_inputs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(compiling, "BACKEND", no_compiler)
    with pytest.warns(EngineWarning, match=r"test model: torch.compile failed here \(RuntimeError: no C\+\+ "
                                           r"compiler\); training in eager mode instead") as caught:
        fallen, history = _trained(tmp_path)
    assert len([w for w in caught if issubclass(w.category, EngineWarning)]) == 1
    eager, eager_history = _trained()
    assert history.engine == "eager" and history.loss == eager_history.loss
    assert all(torch.equal(a, b) for a, b in zip(fallen.state_dict().values(), eager.state_dict().values()))
