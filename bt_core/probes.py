"""The probes every evaluation runs: test-time overlays (the trigger, the stencils) and each
stencil's scrambled control."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import file_sha256
from .config import Scale
from .triggers import Trigger, make_trigger

CONTROL_SEED = 0              # one fixed scramble: the control's predictions are cached like any probe's


@dataclass(frozen=True)
class Probe:
    """A test-time overlay (trigger or stencil) applied to every test image; ``None`` trigger means clean."""

    name: str
    trigger: dict[str, Any] | None = None
    digest: str | None = None        # sha256 of a user's stencil file: its predictions follow its content

    def make(self) -> Trigger | None:
        return None if self.trigger is None else make_trigger(**self.trigger)


CLEAN = Probe("clean")


def control(intervention: str) -> str:
    """The probe that overlays ``intervention`` scrambled (:func:`bt_core.triggers.scrambled`): the
    same covered pixels, colours and coverage without the object, so what it shifts is sensitivity
    to the stencil's appearance in that corner, not to the feature."""
    return f"{intervention} scrambled"


def for_scale(scale: Scale) -> tuple[Probe, ...]:
    """Every evaluation runs the same probes, so every case can reuse every cached model: the
    scale's, and each intervention's scrambled control (:func:`control`)."""
    given = [Probe(name, spec, _stencil_digest(spec["name"])) for name, spec in scale.probes.items()]
    controls = [Probe(control(p.name), {**p.trigger, "scramble": CONTROL_SEED}, p.digest)
                for p in given if p.name in scale.interventions]
    return (CLEAN, *given, *controls)


def _stencil_digest(name: str) -> str | None:
    """A user's stencil file is known by its content, so an edited file is evaluated afresh."""
    path = Path(name)
    return file_sha256(path) if path.suffix and path.is_file() else None
