"""Sec. 2: fine-tuning a linear model by SGD on fewer target points than dimensions leaves the weight
component orthogonal to the span of the target data unchanged, so a direction the source model
planted there survives transfer, while a model trained on the target alone has none of it."""
import pytest

from bt_core.linear import planted_direction_experiment

pytestmark = pytest.mark.paper


def test_orthogonal_component_is_unchanged(bt, check):
    drift = bt.over_seeds(lambda s: planted_direction_experiment(s).orthogonal_drift)
    assert drift.max() < 1e-9, f"weights moved outside the target span by {drift.max():.3g}"
    check(metric="orthogonal drift ≤ 1e-9 (margin)", values=1e-9 - drift,
          context={"source": "planted direction", "target": "n < d points", "mode": "full (SGD)"})


def test_planted_direction_survives_transfer(bt, check):
    results = [planted_direction_experiment(s) for s in bt.seeds]
    check(metric="planted sensitivity transfer − scratch",
          values=[r.transfer_sensitivity - r.scratch_sensitivity for r in results],
          context={"source": "planted direction", "target": "n < d points", "mode": "full (SGD)"})
