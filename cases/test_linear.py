"""Sec. 2: fine-tuning a linear model by SGD on fewer target points than dimensions leaves the weight
component orthogonal to the span of the target data unchanged, so a direction the source model
planted there survives transfer, while a model trained on the target alone has none of it."""
import pytest

from bt_core.linear import planted_direction_experiment

pytestmark = pytest.mark.paper


# Exactly 1 in theory; 0.99 leaves room for rounding, not for weights that moved outside the span.
KEPT_AT_LEAST = 0.99


def test_orthogonal_component_is_unchanged(bt, check):
    def kept(seed):
        r = planted_direction_experiment(seed)
        return r.transfer_kept - r.scratch_kept

    check(metric="share of source weights off the target span kept, transfer − scratch", measure=kept,
          threshold=KEPT_AT_LEAST,
          context={"source": "planted direction", "target": "n < d points", "mode": "full (SGD)"})


def test_planted_direction_survives_transfer(bt, check):
    def survival(seed):
        r = planted_direction_experiment(seed)
        return r.transfer_sensitivity - r.scratch_sensitivity

    check(metric="planted sensitivity transfer − scratch", measure=survival,
          context={"source": "planted direction", "target": "n < d points", "mode": "full (SGD)"})
