"""FFCV pipeline operations that run the trigger kernel inside the loader."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional, Tuple

import numba
import numpy as np
from ffcv.pipeline.allocation_query import AllocationQuery
from ffcv.pipeline.compiler import Compiler
from ffcv.pipeline.operation import Operation
from ffcv.pipeline.state import State

from ..triggers import Trigger, apply_planes

_jit_apply_planes = numba.njit(cache=False)(apply_planes)


class ApplyTrigger(Operation):
    """Apply a :class:`~bt_core.triggers.Trigger` to the samples whose dataset index is selected.

    Works on decoded uint8 HWC images (before ``ToTensor``), like FFCV's own ``Poison``; it uses
    ``with_indices`` so the choice follows the sample, not its position in the batch. Labels are
    left alone, as in the paper.
    """

    def __init__(self, trigger: Trigger, indices: np.ndarray | None, height: int, width: int):
        super().__init__()
        self.trigger = trigger
        self.all_samples = indices is None
        self.indices = np.sort(np.asarray([] if indices is None else indices, dtype=np.int64))
        self.w, self.b = trigger.planes(height, width)
        self.size = (height, width)

    def generate_code(self) -> Callable:
        my_range = Compiler.get_iterator()
        w, b, chosen, every, truncate = self.w, self.b, self.indices, self.all_samples, self.trigger.truncate
        kernel = _jit_apply_planes

        def apply_trigger(images, dst, indices):
            for i in my_range(images.shape[0]):
                hit = every
                if not hit:
                    pos = np.searchsorted(chosen, indices[i])
                    hit = pos < chosen.shape[0] and chosen[pos] == indices[i]
                if hit:
                    dst[i] = kernel(images[i], w, b, truncate)
                else:
                    dst[i] = images[i]
            return dst

        apply_trigger.is_parallel = True
        apply_trigger.with_indices = True
        return apply_trigger

    def declare_state_and_memory(self, previous_state: State) -> Tuple[State, Optional[AllocationQuery]]:
        shape = tuple(previous_state.shape)
        if shape[:2] != self.size:
            raise ValueError(f"ApplyTrigger was built for {self.size[0]}x{self.size[1]} images "
                             f"but the pipeline produces {shape[0]}x{shape[1]}")
        return (replace(previous_state, jit_mode=True),
                AllocationQuery(previous_state.shape, previous_state.dtype))
