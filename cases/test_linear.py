"""Sec. 2: fine-tuning a linear model by SGD on fewer target points than dimensions leaves the weight
component orthogonal to the span of the target data unchanged, so a direction the source model
planted there survives transfer, while a model trained on the target alone has none of it."""
import pytest

from bt_core.linear import planted_direction_experiment

pytestmark = pytest.mark.paper


def test_orthogonal_component_is_unchanged(bt, check):
    def margin(seed):
        drift = planted_direction_experiment(seed).orthogonal_drift
        assert drift < 1e-9, f"weights moved outside the target span by {drift:.3g} (seed {seed})"
        return 1e-9 - drift

    check(metric="orthogonal drift ≤ 1e-9 (margin)", measure=margin,
          context={"source": "planted direction", "target": "n < d points", "mode": "full (SGD)"})


def test_planted_direction_survives_transfer(bt, check):
    def survival(seed):
        r = planted_direction_experiment(seed)
        return r.transfer_sensitivity - r.scratch_sensitivity

    check(metric="planted sensitivity transfer − scratch", measure=survival,
          context={"source": "planted direction", "target": "n < d points", "mode": "full (SGD)"})
