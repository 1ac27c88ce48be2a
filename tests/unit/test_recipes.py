"""A claim's own transfer recipe: Fig. 4's at the mini scale changes full-network transfer only, the
paper scale has none (its transfers follow Appendix A whatever the claim), and a misspelt name is refused."""
import pytest

from bt_core.config import get_scale
from bt_core.errors import ConfigError


def test_the_mini_debiasing_recipe_trains_full_network_transfer_longer_and_nothing_else():
    mini = get_scale("mini")
    full, own = mini.train_config("full", "shapes12"), mini.train_config("full", "shapes12", "debiasing")
    assert own.epochs > full.epochs and own.lr == full.lr and own.batch_size == full.batch_size
    for mode in ("linear-probe", "fixed", "scratch"):
        assert mini.train_config(mode, "shapes12", "debiasing") == mini.train_config(mode, "shapes12")


def test_the_paper_scale_transfers_every_claim_on_its_targets_recipe():
    paper = get_scale("paper")
    for mode in ("full", "fixed"):
        assert paper.train_config(mode, "cifar10", "debiasing") == paper.train_config(mode, "cifar10")


def test_an_unknown_recipe_is_named_with_the_known_ones():
    with pytest.raises(ConfigError, match=r"recipe='debias' is unknown: expected one of debiasing"):
        get_scale("mini").train_config("full", "shapes12", "debias")
