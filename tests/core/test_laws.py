"""Tests for app/core/laws.py: each law's reported statistics and truncated_law's validation.

Expected values come from closed forms (or scipy for truncated normals), not from app code.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from scipy import stats

from app.core.errors import InvalidParameterError
from app.core.laws import (
    MAX_TRUNCATION_SIGMAS,
    WHOLE_MATRIX_LAWS,
    ConstantLaw,
    CounterLaw,
    DeltaOrthogonalLaw,
    DiracLaw,
    IdentityLaw,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    SparseLaw,
    TruncatedNormalLaw,
    UniformLaw,
    law_bound,
    truncated_law,
)


def test_a_constant_has_std_zero() -> None:
    assert ConstantLaw(3.5).std == 0.0


@pytest.mark.parametrize(("low", "high"), [(-0.25, 0.25), (0.0, 1.0), (-3.0, 5.0), (1e-3, 2e-3)])
def test_a_uniform_std_is_its_width_over_sqrt_12(low: float, high: float) -> None:
    assert UniformLaw(low, high).std == pytest.approx(
        (high - low) / math.sqrt(12), rel=1e-15, abs=0
    )


def test_only_a_symmetric_uniform_reports_a_bound() -> None:
    assert UniformLaw(-0.5, 0.5).symmetric and UniformLaw(-0.5, 0.5).bound == 0.5
    assert not UniformLaw(0.0, 0.5).symmetric and UniformLaw(0.0, 0.5).bound is None
    assert law_bound(UniformLaw(-2.0, 2.0)) == 2.0
    assert law_bound(UniformLaw(-1.0, 2.0)) is None
    assert law_bound(NormalLaw(0.0, 2.0)) is None


@pytest.mark.parametrize(
    ("mean", "sigma", "low", "high"),
    [
        (0.0, 1.0, -2.0, 2.0),
        (1.0, 0.5, 0.0, 2.0),
        (0.0, 2.0, 6.0, 16.0),  # one-sided tail
        (-1.0, 3.0, -1.0, 0.0),  # narrow, touching the mean
    ],
)
def test_a_truncated_normal_reports_its_interval_mass_and_std(
    mean: float, sigma: float, low: float, high: float
) -> None:
    law = TruncatedNormalLaw(mean, sigma, low, high)
    alpha, beta = (low - mean) / sigma, (high - mean) / sigma
    reference = stats.truncnorm(alpha, beta, loc=mean, scale=sigma)
    assert (law.alpha, law.beta) == (alpha, beta)
    assert law.truncation == (low, high)
    assert law.mass == pytest.approx(stats.norm.cdf(beta) - stats.norm.cdf(alpha), rel=1e-12, abs=0)
    assert law.std == pytest.approx(float(reference.std()), rel=1e-10, abs=0)


def test_an_untruncating_interval_has_mass_one_and_the_normals_std() -> None:
    law = TruncatedNormalLaw(0.0, 0.02, -2.0, 2.0)  # +-100 sigma
    assert law.mass == 1.0
    assert law.std == pytest.approx(0.02, rel=1e-15, abs=0)


def test_a_half_line_interval_far_beyond_the_mean_is_a_half_normal() -> None:
    law = truncated_law(0.0, 1.0, 0.0, 1.3407807929942597e154)
    assert law.mass == pytest.approx(0.5, rel=1e-12)
    assert law.std == pytest.approx(math.sqrt(1 - 2 / math.pi), rel=1e-12, abs=0)


@pytest.mark.parametrize(("low", "width"), [(0.0, 1e-3), (0.0, 1e-10), (0.0, 1e-30), (0.5, 1e-9)])
def test_a_narrow_interval_has_the_std_of_a_uniform_on_it(low: float, width: float) -> None:
    law = truncated_law(0.0, 1.0, low, low + width)
    exact_width = law.high - law.low
    assert law.std == pytest.approx(exact_width / math.sqrt(12), rel=1e-6, abs=0)


@pytest.mark.parametrize("width", [1e-50, 1e-55])
def test_a_very_narrow_interval_at_the_mean_has_the_std_of_a_uniform(width: float) -> None:
    law = truncated_law(0.0, 1.0, 0.0, width)
    assert law.std == pytest.approx(width / math.sqrt(12), rel=1e-6, abs=0)


def test_truncated_law_returns_the_law_it_validated() -> None:
    assert truncated_law(2.0, 0.5, 1.0, 3.0) == TruncatedNormalLaw(2.0, 0.5, 1.0, 3.0)


@pytest.mark.parametrize(
    ("mean", "sigma", "low", "high", "fragment"),
    [
        (0.0, 1.0, -math.inf, 1.0, "beyond float64's range"),
        (0.0, 1.0, 0.0, math.nan, "beyond float64's range"),
        (0.0, 1e-320, -1e300, 1e300, "than float64 can hold"),  # alpha overflows to -inf
        (0.0, 1.0, 1.0, 1.0, "empty or narrower"),
        (0.0, 1.0, 2.0, 1.0, "empty or narrower"),
        (1e16, 1.0, 1e16, 1e16 + 1, "empty or narrower"),  # one ulp: not resolvable
        (0.0, 1.0, 2e6, 3e6, "2e+06 standard deviations"),
        (0.0, 1.0, -3e6, -2e6, "2e+06 standard deviations"),
    ],
)
def test_truncated_law_refuses_intervals_it_cannot_sample(
    mean: float, sigma: float, low: float, high: float, fragment: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        truncated_law(mean, sigma, low, high)
    assert fragment in info.value.message


def test_the_farthest_supported_interval_is_accepted() -> None:
    law = truncated_law(0.0, 1.0, MAX_TRUNCATION_SIGMAS, MAX_TRUNCATION_SIGMAS + 1)
    assert law.alpha == MAX_TRUNCATION_SIGMAS


@pytest.mark.parametrize(
    ("gain", "rows", "cols"), [(1.0, 64, 64), (2.0, 300, 100), (-0.5, 10, 40), (3.0, 1, 50)]
)
def test_an_orthogonal_entry_has_std_gain_over_sqrt_of_the_longer_side(
    gain: float, rows: int, cols: int
) -> None:
    std = OrthogonalLaw(gain, rows, cols).std
    assert std == pytest.approx(abs(gain) / math.sqrt(max(rows, cols)), rel=1e-15, abs=0)


@pytest.mark.parametrize(("zeros", "rows"), [(0, 10), (3, 10), (10, 10), (1, 3)])
def test_a_sparse_std_counts_the_zeros(zeros: int, rows: int) -> None:
    std = SparseLaw(0.01, zeros, rows).std
    assert std == pytest.approx(0.01 * math.sqrt((rows - zeros) / rows), rel=1e-15, abs=0)


@pytest.mark.parametrize(
    "law",
    [
        IdentityLaw(2.0),
        DiracLaw(1),
        DeltaOrthogonalLaw(1.0, 4, 8, channels_last=False),
        SegmentsLaw((0.0, 1.0), (2, 2)),
        CounterLaw(),
    ],
    ids=lambda law: type(law).__name__,
)
def test_structured_laws_report_no_std(law: object) -> None:
    assert law.std is None  # type: ignore[attr-defined]


def test_exactly_the_orthogonal_and_sparse_laws_are_whole_matrix() -> None:
    assert set(WHOLE_MATRIX_LAWS) == {OrthogonalLaw, DeltaOrthogonalLaw, SparseLaw}


def test_laws_are_frozen_values() -> None:
    """Plans compare and cache laws by value: a law can not change after it is built."""
    law = NormalLaw(0.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        law.std = 2.0  # type: ignore[misc]
    assert law == NormalLaw(0.0, 1.0) and hash(law) == hash(NormalLaw(0.0, 1.0))
