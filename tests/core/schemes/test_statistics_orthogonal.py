"""Statistics of the orthogonal schemes: orthogonal, torch.orthogonal_, keras.Orthogonal,
jax.orthogonal.

Checked exactly where the law is exact (the Gram matrix is gain² times the identity to
rounding, on each layout's flattening) and statistically where it is random (over 2000 seeds
the entries of a small frame are Haar: U(-1, 1) coordinates, determinant sign a fair coin).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from scipy import stats

from app.core.generate import generate_tensor
from app.core.types import DType, Layout
from tests.core.stats_helpers import (
    MAIN_DTYPES,
    Array,
    OrthoCase,
    check_gram_matrix_is_gain_squared_identity,
    shaped,
)

ORTHO_CASES = [
    OrthoCase("orthogonal", 1.0, (64, 64), Layout.TORCH, 64, 64),
    OrthoCase("orthogonal", 1.5, (300, 100), Layout.TORCH, 300, 100),
    OrthoCase("orthogonal", 1.0, (100, 300), Layout.TORCH, 100, 300),
    OrthoCase("orthogonal", 2.0, (32, 16, 3, 3), Layout.TORCH, 32, 144),
    OrthoCase("orthogonal", 1.0, (200, 4, 3, 3), Layout.TORCH, 200, 36),
    OrthoCase("orthogonal", 1.0, (3, 3, 16, 32), Layout.KERAS, 144, 32),
    OrthoCase("orthogonal", 0.5, (3, 3, 4, 64), Layout.JAX, 36, 64),
    OrthoCase("orthogonal", -1.0, (1, 50), Layout.TORCH, 1, 50),
    OrthoCase("torch.orthogonal_", 1.0, (8, 4, 3, 3), Layout.TORCH, 8, 36),
    OrthoCase("torch.orthogonal_", 2.0, (40, 96), Layout.TORCH, 40, 96),
    OrthoCase("torch.orthogonal_", 1.0, (6, 4), Layout.TORCH, 6, 4),
    # torch's flattening even when the request uses the Keras layout
    OrthoCase("torch.orthogonal_", 1.0, (3, 3, 16, 32), Layout.KERAS, 3, 3 * 16 * 32),
    OrthoCase("keras.Orthogonal", -0.5, (96, 40), Layout.KERAS, 96, 40),
    OrthoCase("keras.Orthogonal", 1.0, (3, 3, 8, 16), Layout.KERAS, 72, 16),
    OrthoCase("keras.Orthogonal", 3.0, (16, 128), Layout.KERAS, 16, 128),
    OrthoCase("jax.orthogonal", 3.0, (50, 20), Layout.JAX, 50, 20),
    OrthoCase("jax.orthogonal", 1.0, (2, 2, 8, 40), Layout.JAX, 32, 40),
]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", ORTHO_CASES, ids=lambda c: c.id)
def test_orthogonal_gram_matrix_is_gain_squared_identity(case: OrthoCase, dtype: DType) -> None:
    check_gram_matrix_is_gain_squared_identity(case, dtype)


HAAR_DRAWS = 2000


@cache
def _haar_draws(scheme: str, shape: tuple[int, int], layout: Layout) -> Array:
    plan = shaped(scheme, {}, shape, layout=layout)
    return np.stack([generate_tensor(plan, seed) for seed in range(HAAR_DRAWS)])


@pytest.mark.parametrize(
    ("scheme", "shape", "layout"),
    [
        ("orthogonal", (3, 3), Layout.TORCH),
        ("torch.orthogonal_", (2, 3), Layout.TORCH),
        ("keras.Orthogonal", (3, 2), Layout.KERAS),
        ("jax.orthogonal", (3, 3), Layout.JAX),
    ],
)
def test_orthogonal_entries_are_haar_uniform_on_minus_one_one(
    scheme: str, shape: tuple[int, int], layout: Layout
) -> None:
    """Over 2000 seeds every entry of a Haar 3-column/row frame is U(-1, 1) (Archimedes).

    A column (tall) or row (wide) of a Haar frame is uniform on S², whose coordinates are
    U(-1, 1). Without the sign(diag R) correction W[0, 0] would be <= 0 always.
    """
    w = _haar_draws(scheme, shape, layout)
    for i in range(shape[0]):
        for j in range(shape[1]):
            p = stats.kstest(w[:, i, j], stats.uniform(loc=-1, scale=2).cdf).pvalue
            assert p > 1e-4, (i, j, p)


def test_orthogonal_square_determinant_sign_is_a_fair_coin() -> None:
    """Haar O(3) has det +1 and -1 with probability 1/2: within 5 binomial sd of 1000/2000."""
    w = _haar_draws("orthogonal", (3, 3), Layout.TORCH)
    det = np.linalg.det(w)
    assert np.allclose(np.abs(det), 1.0, atol=1e-12)
    plus = int((det > 0).sum())
    assert abs(plus - HAAR_DRAWS / 2) < 5 * math.sqrt(HAAR_DRAWS) / 2
