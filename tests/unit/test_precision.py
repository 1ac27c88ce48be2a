"""Precision as a run setting: what ``auto`` resolves to on each machine (from the CPU's flags, never
assumed), that fp32 keeps the cache keys models had before the setting existed, that another precision
is another model, and that the trainer really computes in the precision it is given."""
import numpy as np
import pytest
import torch

from bt_core import precision
from bt_core.cache import Cache
from bt_core.claims import asr
from bt_core.config import TrainConfig, get_scale
from bt_core.data.batches import MemoryBatches
from bt_core.data.beton import Arrays
from bt_core.errors import ConfigError
from bt_core.experiment import Context, SourceSpec
from bt_core.models import create_model
from bt_core.plan import trace
from bt_core.train import pinned_threads, predict, train

AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma"})
AVX512_NO_BF16 = AVX2_ONLY | {"avx512f", "avx512bw"}
CPU = torch.device("cpu")


@pytest.mark.parametrize("flags, expected", [(AVX2_ONLY, "fp32"), (AVX512_NO_BF16, "fp32"),
                                             (AVX512_NO_BF16 | {"avx512_bf16"}, "bf16"),
                                             (AVX512_NO_BF16 | {"amx_bf16", "amx_tile"}, "bf16")])
def test_auto_on_a_cpu_is_bf16_only_where_the_cpu_has_bf16_units(flags, expected):
    assert precision.resolve("auto", "cpu", flags) == expected


def test_auto_on_cuda_is_the_papers_fp16_and_a_forced_value_is_kept():
    assert precision.resolve("auto", "cuda", AVX2_ONLY) == "fp16"
    for name in ("fp32", "bf16", "fp16"):
        assert precision.resolve(name, "cpu", AVX2_ONLY | {"amx_bf16"}) == name


def test_an_unknown_precision_is_named_with_the_choices():
    with pytest.raises(ConfigError, match=r"precision='fp8' is unknown: expected one of auto, fp32, bf16, fp16"):
        precision.resolve("fp8", "cpu")


def test_the_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 avx512_bf16\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert precision.cpu_flags(info) == {"fpu", "avx2", "avx512_bf16"}
    assert precision.cpu_flags(tmp_path / "absent") == frozenset()
    assert precision.native_bf16(precision.cpu_flags(info))


def _source_keys(tmp_path, name: str) -> tuple[dict, ...]:
    scale = get_scale("mini")
    ctx = Context(scale, Cache(tmp_path), precision=name)
    measure = lambda seed: asr(ctx.transfer(SourceSpec(), scale.targets[0], "full", seed))  # noqa: E731
    needs = trace(ctx, [(measure, 0)]).needs.values()
    return tuple(sorted(n.entry.name for n in needs))


def test_fp32_keeps_the_keys_models_had_before_and_bf16_names_other_models(tmp_path):
    fp32, bf16 = _source_keys(tmp_path, "fp32"), _source_keys(tmp_path, "bf16")
    assert precision.key_part("fp32") == {} and precision.key_part("bf16") == {"precision": "bf16"}
    assert len(fp32) == len(bf16) == 2 and not set(fp32) & set(bf16)


def _batches(train: bool = True) -> MemoryBatches:
    rng = np.random.default_rng(0)
    data = Arrays(rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8), rng.integers(0, 3, 64), num_classes=3)
    return MemoryBatches(data, batch_size=16, train=train, seed=1, device=CPU)


def _trained(name: str | None):
    torch.manual_seed(0)
    model = create_model("mini_resnet", 3)
    kw = {} if name is None else {"precision": name}
    with pinned_threads(1):
        train(model, _batches(), TrainConfig(epochs=1, batch_size=16, lr=0.05, peak_epoch=0.5), device=CPU,
              seed=1, **kw)
    return model


def test_the_trainer_computes_in_the_precision_it_is_given():
    default, fp32, bf16 = _trained(None), _trained("fp32"), _trained("bf16")
    same = [torch.equal(a, b) for a, b in zip(default.state_dict().values(), fp32.state_dict().values())]
    moved = [not torch.equal(a, b) for a, b in zip(fp32.state_dict().values(), bf16.state_dict().values())
             if a.is_floating_point()]
    assert all(same)
    assert sum(moved) > len(moved) // 2
    assert all(p.dtype == torch.float32 for p in bf16.parameters())        # autocast: the weights stay fp32
    seen = []
    hook = bf16.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    predict(bf16, _batches(train=False), device=CPU, precision="bf16")
    hook.remove()
    assert seen and set(seen) == {torch.bfloat16}
