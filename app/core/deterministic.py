"""Laws that draw nothing (identity, Dirac, segments), built whole in the working precision.

Shared by both stream algorithms: blocks-v1 (``generate.py``) and numpy-legacy
(``legacy.py``) give these tensors the same values. ``reading.py`` computes the same values
from element indices when only a range is asked for.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .laws import DiracLaw, IdentityLaw, Law, SegmentsLaw
from .sampling import Working, segments_slice

Shape = tuple[int, ...]


def deterministic_values(
    shape: Shape, law: Law, working: Working
) -> NDArray[np.floating[Any]] | None:
    """The whole tensor for a law that draws nothing, or None for any other law."""
    if isinstance(law, IdentityLaw):
        rows, cols = shape
        out = np.zeros((rows, cols), dtype=working)
        np.fill_diagonal(out, working(law.gain))
        return out
    if isinstance(law, DiracLaw):
        return dirac(shape, law, working)
    if isinstance(law, SegmentsLaw):
        return segments_slice(law, 0, math.prod(shape), working).reshape(shape)
    return None


def dirac(shape: Shape, law: DiracLaw, working: Working) -> NDArray[np.floating[Any]]:
    """torch.nn.init.dirac_ on a (out, in, *kernel) tensor: centre k//2 of each spatial dim."""
    if law.channels_last:  # (*kernel, in, out): build (out, in, *kernel) and move the axes
        rank = len(shape)
        torch_shape = (shape[-1], shape[-2], *shape[:-2])
        built = dirac(torch_shape, DiracLaw(law.groups), working)
        return np.ascontiguousarray(np.transpose(built, (*range(2, rank), 1, 0)))
    out = np.zeros(shape, dtype=working)
    out_per_group = shape[0] // law.groups
    depth = min(out_per_group, shape[1])
    centre = tuple(k // 2 for k in shape[2:])
    for g in range(law.groups):
        for d in range(depth):
            index: tuple[int, ...] = (g * out_per_group + d, d, *centre)
            out[index] = 1
    return out
