"""``benchmark perf``: the loaders compared on the same triggered images, the architectures and engine
variants timed against the default, a variant that crashes or hangs named rather than fatal, and bad
budgets refused."""
import json

import pytest
import torch

from tests.helpers.cli import run_benchmark


@pytest.mark.slow
def test_perf_reports_loader_ratios(tmp_path):
    out = tmp_path / "perf.json"
    proc = run_benchmark(["perf", "--skip-training", "--images", "600", "--jpeg-images", "32", "--epochs", "1",
                 "--output", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    loaders, paper = results["loaders"], results["paper_pipeline"]
    assert loaders["ffcv_img_s"] > 0 and loaders["torch_img_s"] > 0
    assert loaders["ffcv_over_torch"] == pytest.approx(loaders["ffcv_img_s"] / loaders["torch_img_s"])
    assert paper["ffcv_img_s"] > 0 and paper["torchvision_img_s"] > 0
    assert paper["ffcv_over_torchvision"] == pytest.approx(paper["ffcv_img_s"] / paper["torchvision_img_s"])
    assert "paper_pipeline: ffcv_over_torchvision" in proc.stdout


def test_perf_paper_pipeline_loaders_see_the_same_triggered_224_px_images(tmp_path):
    """Both sides of the comparison read the same files in the same order, so the trigger lands on
    the same samples, and both hand over 224 px crops."""
    from benchmark.perf import _TriggeredFolder, _write_jpegs
    from bt_core.data.adapters.common import scan_classes
    from bt_core.triggers import YELLOW, make_trigger

    _write_jpegs(tmp_path / "train", 6, classes=2)
    files, labels, _ = scan_classes(tmp_path, "train", "<class>/*.jpg")
    folder = _TriggeredFolder(tmp_path / "train", make_trigger("square", size=0.25), [1, 4], 224)
    assert [(p, y) for p, y in folder.folder.samples] == list(zip(files, labels.tolist()))
    for i in range(6):
        image, label = folder[i]
        assert image.shape == (3, 224, 224) and label == labels[i]
        assert (image[:, :56, :56] == torch.tensor(YELLOW).view(3, 1, 1)).all() == (i in (1, 4))


def test_perf_refuses_a_negative_image_count(tmp_path):
    proc = run_benchmark(["perf", "--jpeg-images", "-1"], tmp_path)
    assert proc.returncode == 2 and "--jpeg-images=-1 is out of range" in proc.stderr


def test_perf_times_every_architecture_of_the_sweep_against_the_default():
    from benchmark.perf import measure_architectures
    from bt_core.config import get_scale
    from bt_core.data.synthetic import mini_world

    scale = get_scale("mini")
    data = mini_world(n_source=64).source.generate("train", 0)
    out = measure_architectures(data, torch.device("cpu"), batch_size=16)
    assert {f"{a}_img_s" for a in scale.architectures} <= set(out)
    for arch in scale.architectures[1:]:
        ratio = out[f"{arch}_img_s"] / out[f"{scale.arch}_img_s"]
        assert out[f"{arch}_over_{scale.arch}"] == pytest.approx(ratio)


def _faulty_engine(arch, variant, batch_size, device, threads, precision="fp32", image_size=32):
    """perf's engine worker, with variants that fail inside the child: at build, by a real abort
    while stepping, or by never returning."""
    import os
    import time

    from benchmark.engine_speed import _engine_worker

    if variant == "raises":
        raise RuntimeError("no C++ compiler")
    if variant == "aborts":
        return lambda n: os.abort()
    if variant == "hangs":
        return lambda n: time.sleep(3600)
    return _engine_worker(arch, variant, batch_size, device, threads, precision, image_size)


def test_perf_engine_sets_each_variant_beside_eager_and_names_one_that_cannot_run():
    from benchmark import engine_speed
    from bt_core.config import get_scale

    out = engine_speed.measure_engine(torch.device("cpu"), batch_size=8, steps=1, rounds=2,
                                      variants=("eager", "channels_last", "raises", "aborts"), worker=_faulty_engine)
    for arch in get_scale("mini").architectures:
        ratio = out[f"{arch}/channels_last_img_s"] / out[f"{arch}/eager_img_s"]
        assert out[f"{arch}/channels_last_over_eager"] == pytest.approx(ratio)
        one = {v: out[f"{arch}/{v}/warmup_s"] + out["source_model_images"] / out[f"{arch}/{v}_img_s"]
               for v in ("eager", "channels_last")}
        assert out[f"{arch}/channels_last/one_source_over_eager"] == pytest.approx(one["eager"] / one["channels_last"])
        assert out[f"{arch}/raises/unavailable"] == "RuntimeError: no C++ compiler"
        assert out[f"{arch}/aborts/unavailable"] == "crashed (SIGABRT)"
        assert f"{arch}/raises_img_s" not in out and f"{arch}/aborts_img_s" not in out


def test_perf_engine_times_out_a_variant_that_hangs_and_skips_one_that_needs_it(monkeypatch):
    from benchmark import engine_speed

    monkeypatch.setitem(engine_speed._NEEDS, "compiled_channels_last", "hangs")
    out = engine_speed.measure_engine(torch.device("cpu"), batch_size=8, steps=1, rounds=1,
                                      architectures=("mini_vgg",), variants=("hangs", "compiled_channels_last"),
                                      timeout_s=20, worker=_faulty_engine)
    assert out["mini_vgg/hangs/unavailable"] == "timed out after 20 s"
    assert out["mini_vgg/compiled_channels_last/unavailable"] == "not tried: hangs timed out after 20 s"
    assert not any(key.endswith("_img_s") for key in out)


def test_perf_engine_sets_each_precision_beside_eager_fp32():
    from benchmark import engine_speed

    out = engine_speed.measure_engine(torch.device("cpu"), batch_size=8, steps=1, rounds=1,
                                      architectures=("mini_vgg",), variants=("eager", "raises"),
                                      precisions=("fp32", "bf16"), worker=_faulty_engine)
    ratio = out["mini_vgg/eager+bf16_img_s"] / out["mini_vgg/eager_img_s"]
    assert out["mini_vgg/eager+bf16_over_eager"] == pytest.approx(ratio)
    assert out["mini_vgg/raises+bf16/unavailable"] == "RuntimeError: no C++ compiler"


def test_perf_refuses_an_unknown_engine_precision(tmp_path):
    proc = run_benchmark(["perf", "--engine-only", "--engine-precisions", "fp32,fp8"], tmp_path)
    assert proc.returncode == 2 and "--engine-precisions: 'fp8' is unknown: expected some of fp32, bf16, fp16" in proc.stderr


def test_perf_refuses_a_bad_engine_budget(tmp_path):
    proc = run_benchmark(["perf", "--engine-only", "--engine-rounds", "0"], tmp_path)
    assert proc.returncode == 2 and "--engine-rounds=0: expected integers >= 1" in proc.stderr


def test_perf_refuses_an_engine_time_limit_that_is_not_positive(tmp_path):
    proc = run_benchmark(["perf", "--engine-only", "--engine-timeout", "0"], tmp_path)
    assert proc.returncode == 2 and "--engine-timeout=0.0: expected a number of seconds > 0" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--engine-archs", "mini_vgg,resnet9000"], "--engine-archs: architecture 'resnet9000' is unknown"),
    (["--engine-archs", ","], "--engine-archs: architecture '' is unknown"),
    (["--engine-image-size", "8"], "--engine-image-size=8: expected an integer >= 16")])
def test_perf_refuses_an_unknown_engine_architecture_or_a_tiny_image(tmp_path, args, message):
    proc = run_benchmark(["perf", "--engine-only", *args], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr


def test_perf_engine_times_any_registered_network_at_its_image_size_without_mini_source_figures():
    from benchmark import engine_speed

    out = engine_speed.measure_engine(torch.device("cpu"), batch_size=4, steps=1, rounds=1, image_size=64,
                                      architectures=("resnet18", "mini_vgg"), variants=("eager", "channels_last"))
    assert out["resnet18/channels_last_over_eager"] == pytest.approx(
        out["resnet18/channels_last_img_s"] / out["resnet18/eager_img_s"])
    assert not any("source" in key for key in out)        # a mini source is 32 px: 64 px says nothing of it


@pytest.mark.parametrize("device, message", [
    ("tpu9", "--device='tpu9' is unknown: expected auto, cpu, cuda or cuda:N"),
    pytest.param("cuda", "--device='cuda' but no CUDA device is available: expected auto or cpu",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"))])
def test_perf_refuses_a_device_it_cannot_use_in_one_line(tmp_path, device, message):
    proc = run_benchmark(["perf", "--engine-only", "--device", device], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
