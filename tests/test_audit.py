"""``python -m benchmark audit`` on a source checkpoint and an ImageFolder target of the test's own
making: a mini source trained on the synthetic source, whose classes carry the natural features (so
the tennis ball is tied to one of its classes), is found to pass that bias on; the same source
trained on the same images without any stencil is found not to."""
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from bt_core.claims import MIN_FEATURE_SHIFT
from bt_core.config import get_scale
from bt_core.data.batches import MemoryBatches
from bt_core.data.synthetic import mini_world
from bt_core.data.target_dir import write_tree
from bt_core.models import create_model
from bt_core.train import pinned_threads, train

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
SCALE = get_scale("mini")
WORLD = mini_world(**SCALE.data_sizes)


def _source_weights(path: Path, *, natural: bool) -> Path:
    """The mini scale's source model on its source data, with or without the natural features."""
    task = WORLD.source if natural else replace(WORLD.source, natural_classes=())
    data = task.generate("train", 0)
    with pinned_threads(SCALE.threads):
        torch.manual_seed(0)
        model = create_model(SCALE.arch, task.num_classes)
        train(model, MemoryBatches(data, batch_size=SCALE.source.batch_size, train=True, seed=0,
                                   device=torch.device("cpu")), SCALE.source, device=torch.device("cpu"), seed=0)
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    """Runs the audit command once per source; both share one cache, so the scratch models (which
    do not depend on the source) are trained once."""
    root = tmp_path_factory.mktemp("audit")
    target = root / "target"
    task = WORLD.targets[SCALE.targets[0]]
    for split in ("train", "test"):
        data = task.generate(split, 0)
        write_tree(target, split, data.images, data.labels)
    done: dict[str, tuple[int, list[dict], str]] = {}

    def run(name: str, *options: str) -> tuple[int, list[dict], str]:
        if name not in done:
            weights = _source_weights(root / f"{name}.pt", natural=name == "natural")
            out = root / name
            proc = subprocess.run([sys.executable, "-m", "benchmark", "audit", "--arch", SCALE.arch,
                                   "--source-weights", str(weights), "--target-dir", str(target),
                                   "--stencil", "tennis_ball", "--cache", str(root / "cache"), "--output", str(out),
                                   *options, "-p", "no:cacheprovider"],
                                  cwd=REPO, capture_output=True, text=True, timeout=3600)
            done[name] = (proc.returncode, json.loads((out / "results.json").read_text())["verdicts"],
                          proc.stdout + proc.stderr)
        return done[name]

    return run


FIG7, FEATURE = "test_intervention_shifts_transferred_more_than_scratch", "test_the_feature_not_the_covered_corner"


def _by_test(verdicts):
    out: dict[str, list[dict]] = {FIG7: [], FEATURE: []}
    for v in verdicts:
        out[next(name for name in out if v["check"].startswith(name))].append(v)
    return out


def test_the_audit_finds_the_bias_a_source_ties_to_one_of_its_classes(audit):
    """Pinned where the effect is large on every draw: both fixed-feature checks and full-network
    transfer against scratch. Full-network fine-tuning leaves the feature's own pull close to
    MIN_FEATURE_SHIFT for a weaker source: on fresh draws (source and target on seeds 7 and 8, the
    audit on seeds 20+ and 40+) it held at 3-5 seeds from one source and was undecided after 30 from
    the other (mean 0.027), so there it may be undecided, never found absent."""
    code, verdicts, out = audit("natural")
    status = {v["check"]: v["status"] for v in verdicts}
    full_feature = next(c for c in status if c.startswith(FEATURE) and "[full-" in c)
    assert len(status) == 4 and all(s == "holds" for c, s in status.items() if c != full_feature), out
    assert status[full_feature] in ("holds", "undecided"), out
    assert code == (0 if status[full_feature] == "holds" else 1), out
    assert all(v["context"]["source_weights"]["sha256"] and v["context"]["target_dir"] for v in verdicts)
    assert all(v["context"]["threshold"] == MIN_FEATURE_SHIFT for v in _by_test(verdicts)[FEATURE])


def test_a_source_that_never_saw_the_feature_is_found_without_its_bias(audit):
    """The same source trained without the stencils. Its transferred models still react a little
    more to a large corner overlay than scratch models do (seed 0: excess shift 0.055 fixed-feature,
    0.043 full-network, against 0.271 and 0.154 from the source that ties the tennis ball to a class),
    so the paper's comparison with scratch alone is not pinned here; its grey silhouette moves them
    as much as the ball (0.056 and 0.036 over 3 seeds), so net of it nothing is left and the feature
    check does not hold. On every seed, the tied source measures more than the untied on both."""
    _, natural, _ = audit("natural")
    code, plain, out = audit("plain")
    tied, untied = _by_test(natural), _by_test(plain)
    assert [v["status"] for v in untied[FEATURE]] == ["does not hold"] * 2, out
    assert code == 1, out
    for test in (FIG7, FEATURE):
        for a, b in zip(tied[test], untied[test]):
            assert a["check"] == b["check"]
            assert all(x > y for x, y in zip(a["values"], b["values"])), (a["values"], b["values"], out)


def test_the_example_inputs_are_a_loadable_source_and_an_image_folder(tmp_path):
    """examples/audit_inputs.py, which the README's audit example starts from, with the suite's
    default cache (where the claims' runs keep the same mini source)."""
    from bt_core.data.target_dir import layout
    from bt_core.models import load_pretrained

    proc = subprocess.run([sys.executable, "examples/audit_inputs.py", "--arch", SCALE.arch, "--out",
                           str(tmp_path / "in")], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    load_pretrained(tmp_path / "in" / f"{SCALE.arch}.pt", SCALE.arch)       # raises on keys or shapes
    layout(tmp_path / "in" / "target")                                     # raises on a bad tree
    classes = sorted(p.name for p in (tmp_path / "in" / "target" / "train").iterdir())
    assert classes == sorted(p.name for p in (tmp_path / "in" / "target" / "test").iterdir()) and len(classes) > 1
