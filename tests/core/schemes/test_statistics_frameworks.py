"""Statistics of the framework rows: torch.*, keras.* and jax.* elementwise initialisers.

Each row is checked against the variance its framework documents (Keras' ``normal`` is the
truncated, variance-corrected one; jax.* computes its constants in the weight dtype). Fans of
every weight are (FI, FO) = (500, 400) in its framework's layout. Tolerances: see
``tests/core/stats_helpers.py``.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from app.core.laws import NormalLaw, TruncatedNormalLaw, UniformLaw
from app.core.types import DType, Layout
from tests.core.stats_helpers import (
    C2,
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
K, J = Layout.KERAS, Layout.JAX
TN_13 = stats.truncnorm(-1, 3)

TORCH_CASES = [
    Case("torch.uniform_", {}, U, 1 / 12, 0.5),
    Case("torch.uniform_", {"a": -1.0, "b": 1.0}, U, 4 / 12),
    Case("torch.normal_", {}, N, 1.0),
    Case("torch.normal_", {"mean": 0.5, "std": 0.02}, N, 0.02**2, 0.5),
    Case("torch.trunc_normal_", {}, T, C2),
    # default absolute bounds +-2 are 100 std away: no truncation in effect
    Case("torch.trunc_normal_", {"std": 0.02}, T, 0.02**2),
    Case("torch.xavier_uniform_", {}, U, 2 / (FI + FO)),
    Case("torch.xavier_normal_", {"gain": 3.0}, N, 9 * 2 / (FI + FO)),
    Case("torch.kaiming_uniform_", {}, U, 2 / FI),
    Case("torch.kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, N, 2 / FO),
]

# keras: its "normal" is truncated and variance-corrected
KERAS_CASES = [
    Case("keras.RandomNormal", {}, N, 0.05**2, layout=K),
    Case("keras.RandomUniform", {}, U, 0.1**2 / 12, layout=K),
    Case("keras.TruncatedNormal", {}, T, 0.05**2 * C2, layout=K),
    Case("keras.TruncatedNormal", {"mean": 1.0, "stddev": 0.5}, T, 0.25 * C2, 1.0, layout=K),
    Case("keras.VarianceScaling", {}, T, 1 / FI, layout=K),
    Case("keras.VarianceScaling", {"distribution": "normal"}, T, 1 / FI, layout=K),
    Case(
        "keras.VarianceScaling",
        {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
        N,
        2 / FO,
        layout=K,
    ),
    Case(
        "keras.VarianceScaling",
        {"mode": "fan_avg", "distribution": "uniform"},
        U,
        2 / (FI + FO),
        layout=K,
    ),
    Case("keras.GlorotUniform", {}, U, 2 / (FI + FO), layout=K),
    Case("keras.GlorotNormal", {}, T, 2 / (FI + FO), layout=K),
    Case("keras.HeUniform", {}, U, 2 / FI, layout=K),
    Case("keras.HeNormal", {}, T, 2 / FI, layout=K),
    Case("keras.LecunUniform", {}, U, 1 / FI, layout=K),
    Case("keras.LecunNormal", {}, T, 1 / FI, layout=K),
]

# jax: constants in the weight dtype; *_normal truncated and corrected
JAX_CASES = [
    Case("jax.uniform", {}, U, 0.01**2 / 12, 0.005, layout=J),
    Case("jax.normal", {}, N, 0.01**2, layout=J),
    Case("jax.truncated_normal", {}, T, 0.01**2 * C2, layout=J),
    Case(
        "jax.truncated_normal",
        {"stddev": 1.0, "lower": -1.0, "upper": 3.0},
        T,
        float(TN_13.var()),
        float(TN_13.mean()),
        layout=J,
    ),
    Case("jax.variance_scaling", {}, T, 1 / FI, layout=J),
    Case(
        "jax.variance_scaling",
        {"mode": "fan_avg", "distribution": "normal"},
        N,
        2 / (FI + FO),
        layout=J,
    ),
    Case(
        "jax.variance_scaling",
        {"scale": 3.0, "mode": "fan_geo_avg", "distribution": "uniform"},
        U,
        3 / math.sqrt(FI * FO),
        layout=J,
    ),
    Case("jax.glorot_uniform", {}, U, 2 / (FI + FO), layout=J),
    Case("jax.glorot_normal", {}, T, 2 / (FI + FO), layout=J),
    Case("jax.he_uniform", {}, U, 2 / FI, layout=J),
    Case("jax.he_normal", {}, T, 2 / FI, layout=J),
    Case("jax.lecun_uniform", {}, U, 1 / FI, layout=J),
    Case("jax.lecun_normal", {}, T, 1 / FI, layout=J),
]

CASES = [*TORCH_CASES, *KERAS_CASES, *JAX_CASES]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_framework_row_samples_follow_the_frameworks_variance(case: Case, dtype: DType) -> None:
    check_samples_follow_exact_law(case, dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_framework_row_float64_values_are_distinct_and_serially_uncorrelated(
    case: Case,
) -> None:
    check_distinct_and_serially_uncorrelated(case)


@pytest.mark.parametrize("dtype", LOW_DTYPES, ids=str)
@pytest.mark.parametrize("case", bounded(CASES), ids=lambda c: c.id)
def test_bounded_framework_rows_stay_within_bounds_in_half_precision(
    case: Case, dtype: DType
) -> None:
    check_within_bounds_in_half_precision(case, dtype)
