"""Statistics of the canonical elementwise distributions: uniform, normal, random, truncated_normal.

Each test draws with a fixed seed, so every run is bit-for-bit the same; the tolerances are
derived from the sample size (see ``tests/core/stats_helpers.py``): Z = 5 standard deviations
for the mean and the variance (false-alarm probability 5.7e-7 per check for a correct
sampler), KS at alpha = 1e-4 against the exact CDF. ``test_two_percent_std_error_is_detected``
shows the bands are narrow enough to catch a 2 % error in std at n = 2e5.

Samples are checked against ``plan.law`` (its exact constants), and the law against a variance
written out here from the textbook formula, so a wrong constant and a wrong sampler both fail.
"""

from __future__ import annotations

import pytest

from app.core.generate import generate_tensor
from app.core.laws import NormalLaw, TruncatedNormalLaw, UniformLaw
from app.core.types import DType
from tests.core.stats_helpers import (
    C2,
    LOW_DTYPES,
    MAIN_DTYPES,
    SEED,
    Case,
    bounded,
    check_distinct_and_serially_uncorrelated,
    check_samples_follow_exact_law,
    check_within_bounds_in_half_precision,
    law_distribution,
    law_moments,
    rescaled,
    shaped,
    violations,
)

U, N, T = UniformLaw, NormalLaw, TruncatedNormalLaw

CASES = [
    Case("uniform", {}, U, 1 / 12, 0.5),
    Case("uniform", {"low": -3.0, "high": 5.0}, U, 64 / 12, 1.0),
    Case("normal", {}, N, 1.0),
    Case("normal", {"mean": 2.0, "std": 0.5}, N, 0.25, 2.0),
    Case("random", {}, N, 1e-4),
    Case("truncated_normal", {}, T, C2),
    Case("truncated_normal", {"mean": -1.0, "std": 3.0}, T, 9 * C2, -1.0),
]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_elementwise_scheme_samples_follow_its_exact_law(case: Case, dtype: DType) -> None:
    check_samples_follow_exact_law(case, dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_elementwise_float64_values_are_distinct_and_serially_uncorrelated(case: Case) -> None:
    check_distinct_and_serially_uncorrelated(case)


@pytest.mark.parametrize("dtype", LOW_DTYPES, ids=str)
@pytest.mark.parametrize("case", bounded(CASES), ids=lambda c: c.id)
def test_bounded_schemes_stay_within_bounds_in_half_precision(case: Case, dtype: DType) -> None:
    check_within_bounds_in_half_precision(case, dtype)


# ---- the bands are tight enough ---------------------------------------------------------------

MUTATION_FAMILIES = {
    "uniform": ("he_uniform", {}, True),
    "normal": ("he_normal", {}, True),
    "truncated_2sigma": ("he_truncated_normal", {}, True),
    "truncated_narrow": ("truncated_normal", {"a": 0.5, "b": 0.7}, True),
    "truncated_tail": ("truncated_normal", {"a": 3.0, "b": 9.0}, False),
}


@pytest.mark.parametrize("family", list(MUTATION_FAMILIES))
def test_two_percent_std_error_is_detected(family: str) -> None:
    """The same checks reject the sample drawn with a std 2 % too large or too small.

    Rescaling about the law's location reproduces exactly a draw with sigma * (1 +- 0.02).
    Where the variance band is below 1.98 % of the variance it is a proof, not luck: if
    |s² - var| <= tol then |1.02² s² - var| >= 0.0404 var - 1.0404 tol > tol (and
    likewise for 0.98). For the one-sided tail, the mean moves by 2 % of 3.28 sigma, 10
    bands.
    """
    name, params, by_variance = MUTATION_FAMILIES[family]
    plan = shaped(name, params, (400, 500))
    law = plan.law
    moments, dist = law_moments(law), law_distribution(law)  # type: ignore[arg-type]
    values = generate_tensor(plan, SEED)
    assert not violations(values, moments, dist)
    n = values.size
    # the location sigma scales about: the normal's mean, the uniform's midpoint
    centre = (law.low + law.high) / 2 if isinstance(law, UniformLaw) else law.mean  # type: ignore[union-attr]
    if by_variance:
        assert moments.var_tolerance(n) < 0.0198 * moments.var
    else:
        assert moments.mean_tolerance(n) < 0.0099 * abs(moments.mean - centre)
    for factor in (1.02, 0.98):
        assert violations(rescaled(values, centre, factor), moments, dist)
