"""Model families: a model less its seed, as typed keys.

Code that needs what a model is (its kind, data, mode) reads the fields; the text a family renders
is what the records keep (events, the timing file, a baseline's ``models``, the cache's build
records), so ``str()`` writes exactly the text those records have always held.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceFamily:
    """A source model trained by the suite: its data, the fraction of its superclass with the
    planted trigger, its architecture."""

    data: str
    trigger_fraction: float
    arch: str

    @property
    def kind(self) -> str:
        return "source"

    def __str__(self) -> str:
        return f"source {self.data} p={self.trigger_fraction} {self.arch}"


@dataclass(frozen=True)
class TransferFamily:
    """A model trained on a target: transferred from a source in a mode, or from scratch
    (``mode`` scratch, ``origin`` scratch)."""

    mode: str                               # full, fixed, linear-probe or scratch
    target: str
    arch: str
    origin: str                             # the source's label (SourceSpec.label), or scratch
    target_trigger_fraction: float = 0.0    # the de-biased target of Fig. 4
    recipe: str | None = None               # a claim's own recipe, where it differs from the target's

    @property
    def kind(self) -> str:
        return self.mode

    def __str__(self) -> str:
        return (f"{self.mode} {self.target} {self.arch} from {self.origin}"
                + (f" +{self.target_trigger_fraction} trigger" if self.target_trigger_fraction else "")
                + (f" ({self.recipe} recipe)" if self.recipe else ""))


Family = SourceFamily | TransferFamily


def kind_of(recorded: str) -> str:
    """The kind of a family read back from a record (an event, the timing file): the first word
    its ``str()`` writes (source, full, fixed, linear-probe, scratch)."""
    return recorded.split(" ", 1)[0]
