"""torch.compile as a run setting: which architectures it names, that eager models keep the keys they
had before the setting existed, and that a compiled model is another model (no compiling here)."""
import pytest

from bt_core import compiling
from bt_core.cache import Cache
from bt_core.claims import asr
from bt_core.config import get_scale
from bt_core.errors import ConfigError
from bt_core.experiment import Context, SourceSpec
from bt_core.plan import trace


@pytest.mark.parametrize("value, expected", [(None, "none"), ("none", "none"), (" all ", "all"),
                                             ("mini_vgg,mini_resnet", "mini_resnet,mini_vgg"),
                                             ("mini_vgg, mini_vgg", "mini_vgg")])
def test_the_setting_is_none_all_or_known_architectures(value, expected):
    assert compiling.parse(value) == expected


@pytest.mark.parametrize("value, message", [
    ("resnet9000", "--bt-compile='resnet9000': architecture 'resnet9000' is unknown"),
    ("mini_vgg,vit", "--bt-compile='mini_vgg,vit': architecture 'vit' is unknown"),
    (" , ", "--bt-compile=' , ': expected none, all or architecture names comma-separated")])
def test_an_unknown_architecture_is_one_error_naming_it(value, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        compiling.parse(value)


def test_which_models_compile():
    assert compiling.wanted("all", "mini_vgg") and not compiling.wanted("none", "mini_vgg")
    assert compiling.wanted("mini_resnet,mini_vgg", "mini_vgg")
    assert not compiling.wanted("mini_resnet", "mini_vgg") and not compiling.wanted("mini_resnet", "mini")


def _keys(tmp_path, setting: str, mode: str, source: SourceSpec = SourceSpec()) -> tuple[str, ...]:
    scale = get_scale("mini")
    ctx = Context(scale, Cache(tmp_path), compile=setting)
    measure = lambda seed: asr(ctx.transfer(source, scale.targets[0], mode, seed))  # noqa: E731
    return tuple(sorted(n.entry.name for n in trace(ctx, [(measure, 0)]).needs.values()))


def test_eager_keeps_the_keys_models_had_and_a_compiled_model_is_another_model(tmp_path):
    assert compiling.key_part(False) == {} and compiling.key_part(True) == {"compiled": True}
    eager, other_arch = _keys(tmp_path, "none", "full"), _keys(tmp_path, "mini_vgg", "full")
    compiled = _keys(tmp_path, "mini_resnet", "full")
    assert eager == other_arch                       # the scale's mini_resnet is not named: nothing moves
    assert len(eager) == len(compiled) == 2 and not set(eager) & set(compiled)


def test_a_linear_probe_trains_its_head_eagerly_so_compiling_does_not_name_it(tmp_path):
    given = SourceSpec(arch="mini_resnet", weights="w.pt", weights_sha256="0" * 64)   # a key without a compile
    assert _keys(tmp_path, "all", "linear-probe", given) == _keys(tmp_path, "none", "linear-probe", given)
    assert _keys(tmp_path, "all", "full", given) != _keys(tmp_path, "none", "full", given)


def test_the_table_says_when_baselines_were_trained_with_another_compile_setting():
    from bt_core.report import precision_line

    def verdict(prov):
        return {"baseline": {"provenance": prov}}

    run = {"precision": "bf16", "compile": "mini_resnet"}
    older = [verdict({"precision": "bf16"}), verdict({"precision": "bf16", "compile": "none"})]
    same = [verdict({"precision": "bf16", "compile": "mini_resnet"})]
    assert precision_line(older + same, run) == ("this run trained in bf16, compiled mini_resnet; baselines "
                                                 "trained otherwise: 2 checks' in bf16")
    assert precision_line(same, run) is None and precision_line(older, {"precision": "bf16"}) is None
