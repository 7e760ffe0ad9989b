"""Statistics of sparse and torch.sparse_: exact zero counts per column, normal non-zeros.

The zero count is exact (ceil(sparsity * rows) in every column, as torch computes it); the
zero rows are spread uniformly and the non-zeros are N(0, std²) by moments and KS. Tolerances:
see ``tests/core/stats_helpers.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from app.core.generate import generate_tensor
from app.core.laws import SparseLaw
from app.core.types import DType
from tests.core.stats_helpers import MAIN_DTYPES, SEED, Moments, shaped, violations

SPARSE_SCHEMES = ["sparse", "torch.sparse_"]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("scheme", SPARSE_SCHEMES)
def test_sparse_has_exact_zero_count_per_column_and_normal_nonzeros(
    scheme: str, sparsity: float, dtype: DType
) -> None:
    """ceil(sparsity·rows) zeros in every column; non-zeros N(0, std²) by moments and KS.

    The zero rows are spread uniformly: each row is zeroed in Binomial(cols, k/rows) columns;
    every row's count is within 6 sd (Bonferroni over 400 rows: false alarm < 1e-6).
    """
    rows, cols, std = 400, 500, 0.5 if scheme == "sparse" else 0.01
    plan = shaped(scheme, {"sparsity": sparsity, "std": std}, (rows, cols), dtype=dtype)
    k = math.ceil(sparsity * rows)
    assert plan.law == SparseLaw(std, k, rows)
    w = generate_tensor(plan, SEED).astype(np.float64)
    zeros = w == 0
    assert (zeros.sum(axis=0) == k).all()
    if 0 < k < rows:
        p = k / rows
        per_row = zeros.sum(axis=1)
        assert np.abs(per_row - cols * p).max() < 6 * math.sqrt(cols * p * (1 - p))
    nonzero = w[~zeros]
    if nonzero.size:
        found = violations(nonzero, Moments(0.0, std**2, 3 * std**4), stats.norm(0, std))
        assert not found, found


@pytest.mark.parametrize(
    ("sparsity", "rows", "zeros"),
    [(0.3, 10, 3), (0.1, 10, 1), (0.1, 200, 20), (0.2, 200, 40), (0.9, 200, 180)],
)
@pytest.mark.parametrize("scheme", SPARSE_SCHEMES)
def test_sparse_zero_count_is_ceil_of_the_decimal_product(
    scheme: str, sparsity: float, rows: int, zeros: int
) -> None:
    """sparsity=0.1 on 10 rows zeroes 1 row per column, as torch's ceil(0.1 * 10) = 1 does.

    (The exact rational of the double 0.1 is 0.1000000000000000055..., whose product with
    10 has ceiling 2; neither torch nor a reader of "0.1" means that.) ``(0.3, 10) -> 3`` is
    the verified torch behaviour in the reference notes.
    """
    assert math.ceil(sparsity * rows) == zeros  # torch's formula agrees with the decimal one
    plan = shaped(scheme, {"sparsity": sparsity}, (rows, 6))
    w = generate_tensor(plan, SEED)
    assert ((w == 0).sum(axis=0) == zeros).all(), (w == 0).sum(axis=0)
