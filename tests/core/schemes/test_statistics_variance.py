"""Statistics of the variance-scaling family: variance_scaling and its glorot/he/lecun presets.

Every weight below is a (400, 500) torch tensor, fans (FI, FO) = (500, 400); the expected
variance is written out from the textbook formula (scale / n, with n the chosen fan), so a
wrong constant and a wrong sampler both fail. Tolerances: see ``tests/core/stats_helpers.py``.
"""

from __future__ import annotations

import math

import pytest

from app.core.laws import NormalLaw, TruncatedNormalLaw, UniformLaw
from app.core.types import DType
from tests.core.stats_helpers import (
    FI,
    FO,
    LOW_DTYPES,
    MAIN_DTYPES,
    Case,
    bounded,
    check_distinct_and_serially_uncorrelated,
    check_samples_follow_exact_law,
    check_within_bounds_in_half_precision,
)

U, N, T = UniformLaw, NormalLaw, TruncatedNormalLaw

CASES = [
    Case("variance_scaling", {}, T, 1 / FI),
    Case("variance_scaling", {"mode": "fan_out"}, T, 1 / FO),
    Case(
        "variance_scaling",
        {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
        U,
        2 / ((FI + FO) / 2),
    ),
    Case(
        "variance_scaling",
        {"scale": 0.5, "mode": "fan_geo_avg", "distribution": "normal"},
        N,
        0.5 / math.sqrt(FI * FO),
    ),
    Case("glorot_truncated_normal", {}, T, 2 / (FI + FO)),
    Case("glorot_normal", {"gain": 2.0}, N, 4 * 2 / (FI + FO)),
    Case("glorot_uniform", {}, U, 2 / (FI + FO)),
    Case("he_truncated_normal", {}, T, 2 / FI),
    Case("he_normal", {}, N, 2 / FI),
    Case("he_normal", {"mode": "fan_out", "nonlinearity": "relu"}, N, 2 / FO),
    Case("he_normal", {"nonlinearity": "selu"}, N, (3 / 4) ** 2 / FI),
    Case("he_uniform", {"nonlinearity": "tanh"}, U, (5 / 3) ** 2 / FI),
    Case("he_uniform", {"a": 0.2}, U, 2 / (1 + 0.2**2) / FI),
    Case("lecun_truncated_normal", {}, T, 1 / FI),
    Case("lecun_normal", {}, N, 1 / FI),
    Case("lecun_uniform", {}, U, 1 / FI),
]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_variance_scaling_samples_follow_the_textbook_variance(case: Case, dtype: DType) -> None:
    check_samples_follow_exact_law(case, dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_variance_scaling_float64_values_are_distinct_and_serially_uncorrelated(
    case: Case,
) -> None:
    check_distinct_and_serially_uncorrelated(case)


@pytest.mark.parametrize("dtype", LOW_DTYPES, ids=str)
@pytest.mark.parametrize("case", bounded(CASES), ids=lambda c: c.id)
def test_bounded_variance_scaling_stays_within_bounds_in_half_precision(
    case: Case, dtype: DType
) -> None:
    check_within_bounds_in_half_precision(case, dtype)
