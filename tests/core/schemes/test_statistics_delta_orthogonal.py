"""Statistics of delta_orthogonal and jax.delta_orthogonal: zero except an orthogonal centre tap.

Exact checks: every tap but (k-1)//2 is exactly zero, and the centre (in, out) matrix C has
CCᵀ = gain²·I to rounding, in torch's (out, in, *kernel) and the channels-last layouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from app.core.generate import generate_tensor
from app.core.laws import DeltaOrthogonalLaw
from app.core.types import DType, Layout
from tests.core.stats_helpers import MAIN_DTYPES, SEED, shaped


@dataclass(frozen=True)
class DeltaCase:
    scheme: str
    gain: float
    shape: tuple[int, ...]
    layout: Layout

    @property
    def id(self) -> str:
        return f"{self.scheme}-{self.layout}{list(self.shape)}-g{self.gain}"

    @property
    def channels_last(self) -> bool:
        return self.layout is not Layout.TORCH

    @property
    def kernel(self) -> tuple[int, ...]:
        return self.shape[:-2] if self.channels_last else self.shape[2:]

    @property
    def in_out(self) -> tuple[int, int]:
        s = self.shape
        return (s[-2], s[-1]) if self.channels_last else (s[1], s[0])


DELTA_CASES = [
    DeltaCase("delta_orthogonal", 1.0, (8, 4, 3, 3), Layout.TORCH),
    DeltaCase("delta_orthogonal", 2.0, (6, 6, 4), Layout.TORCH),  # even k: tap 1, not dirac's 2
    DeltaCase("delta_orthogonal", 1.0, (16, 8, 4, 4), Layout.TORCH),
    DeltaCase("delta_orthogonal", 1.0, (4, 4, 3, 3, 3), Layout.TORCH),
    DeltaCase("delta_orthogonal", 1.0, (3, 3, 4, 8), Layout.JAX),
    DeltaCase("delta_orthogonal", 0.5, (5, 5, 6, 6), Layout.KERAS),
    DeltaCase("jax.delta_orthogonal", 1.0, (4, 4, 8, 16), Layout.JAX),  # tap [1, 1]
    DeltaCase("jax.delta_orthogonal", 0.5, (5, 8, 8), Layout.JAX),
    DeltaCase("jax.delta_orthogonal", 1.5, (2, 2, 2, 3, 5), Layout.JAX),  # 3-D, even k
    DeltaCase("jax.delta_orthogonal", 1.0, (12, 8, 3, 3), Layout.TORCH),
]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", DELTA_CASES, ids=lambda c: c.id)
def test_delta_orthogonal_is_zero_except_an_orthonormal_centre_tap(
    case: DeltaCase, dtype: DType
) -> None:
    """Every tap but (k-1)//2 is exactly 0; the centre (in, out) matrix C has CCᵀ = gain²·I."""
    key = "scale" if case.scheme.startswith("jax.") else "gain"
    plan = shaped(case.scheme, {key: case.gain}, case.shape, layout=case.layout, dtype=dtype)
    law = plan.law
    assert isinstance(law, DeltaOrthogonalLaw)
    c_in, c_out = case.in_out
    assert (law.in_channels, law.out_channels) == (c_in, c_out)
    w = generate_tensor(plan, SEED).astype(np.float64)
    centre = tuple((k - 1) // 2 for k in case.kernel)
    if case.channels_last:
        index: tuple[Any, ...] = centre
        tap = w[index]  # (in, out)
    else:
        index = (slice(None), slice(None), *centre)
        tap = w[index].T  # stored (out, in)
    rest = w.copy()
    rest[index] = 0.0
    assert not rest.any()
    gram = tap @ tap.T
    tol = (1e-12 if dtype is DType.FLOAT64 else 1e-5) * max(1.0, case.gain**2)
    assert np.abs(gram - case.gain**2 * np.eye(c_in)).max() < tol
    assert np.count_nonzero(tap) > 0.9 * tap.size
