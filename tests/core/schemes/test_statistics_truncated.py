"""Statistics of the truncated normal: the three sampler paths against the exact truncated law.

Truncated normals are sampled by rejection from the normal (mass >= 1/4), by a uniform proposal
(narrow intervals) or by Robert's exponential proposal (wide one-sided tails). Each case names
the path it must take (a spy on ``app.core.sampling`` records it) and is checked against
scipy's truncnorm and moments from an mpmath recursion (not app code). Tolerances: see
``tests/core/stats_helpers.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy import stats

from app.core import sampling
from app.core.dtypes import numpy_dtype
from app.core.generate import generate_tensor
from app.core.laws import TruncatedNormalLaw
from app.core.plans import TensorPlan
from app.core.types import DType, Layout
from tests.core.stats_helpers import (
    LOW_DTYPES,
    MAIN_DTYPES,
    SEED,
    Moments,
    shaped,
    truncated_standard_moments,
    violations,
)

Path = str
PATHS: dict[Path, str] = {
    "rejection": "_truncated_by_rejection",
    "uniform": "_truncated_uniform_proposal",
    "exponential": "_truncated_one_sided_exponential",
}


@dataclass(frozen=True)
class TruncCase:
    """A truncated normal with its absolute (mean, sigma, low, high) and expected sampler."""

    scheme: str
    params: Mapping[str, object]
    mean: float
    sigma: float
    low: float
    high: float
    path: Path
    layout: Layout = Layout.TORCH

    @property
    def id(self) -> str:
        return f"{self.scheme}(" + ",".join(f"{k}={v}" for k, v in self.params.items()) + ")"


def _std(a: float, b: float, path: Path) -> TruncCase:
    return TruncCase("truncated_normal", {"a": a, "b": b}, 0.0, 1.0, a, b, path)


def _abs(mean: float, std: float, a: float, b: float, path: Path) -> TruncCase:
    params = {"mean": mean, "std": std, "a": a, "b": b, "bounds": "absolute"}
    return TruncCase("truncated_normal", params, mean, std, a, b, path)


TRUNC_CASES = [
    _std(-2.0, 2.0, "rejection"),
    _std(0.0, 30.0, "rejection"),  # half normal, mass 1/2
    _std(0.5, 0.7, "uniform"),  # narrow: mass 0.066
    _std(-0.7, -0.5, "uniform"),  # mirrored narrow
    _std(-0.1, 0.2, "uniform"),  # narrow across 0
    _std(1.0, 1.5, "uniform"),  # (b - a) a = 0.5 <= 1
    _std(3.0, 9.0, "exponential"),  # wide one-sided tail
    _std(-9.0, -3.0, "exponential"),  # mirrored
    _std(2.0, 2.6, "exponential"),  # (b - a) a = 1.2 > 1, the upper bound rejects often
    _std(-37.0, -36.0, "exponential"),  # far lower tail, at the documented 37 sigma limit
    _std(36.0, 37.0, "exponential"),  # far upper tail, at the documented 37 sigma limit
    _abs(1.0, 2.0, 0.0, 5.0, "rejection"),  # alpha -0.5, beta 2
    _abs(0.0, 1.0, 1.0, 1.5, "uniform"),
    _abs(-1.0, 0.5, 0.5, 10.0, "exponential"),  # alpha 3, beta 22
    TruncCase("truncated_normal", {"mean": 2.0, "std": 0.5}, 2.0, 0.5, 1.0, 3.0, "rejection"),
    TruncCase("torch.trunc_normal_", {"std": 0.02}, 0.0, 0.02, -2.0, 2.0, "rejection"),
    TruncCase(
        "torch.trunc_normal_",
        {"std": 0.02, "a": -0.04, "b": 0.04},
        0.0,
        0.02,
        -0.04,
        0.04,
        "rejection",
    ),
    TruncCase(
        "torch.trunc_normal_",
        {"mean": 0.0, "std": 1.0, "a": 0.5, "b": 0.7},
        0,
        1,
        0.5,
        0.7,
        "uniform",
    ),
    TruncCase(
        "keras.TruncatedNormal",
        {"mean": 1.0, "stddev": 0.5},
        1.0,
        0.5,
        0.0,
        2.0,
        "rejection",
        Layout.KERAS,
    ),
    TruncCase(
        "jax.truncated_normal",
        {"stddev": 2.0, "lower": 3.0, "upper": 8.0},
        0.0,
        2.0,
        6.0,
        16.0,
        "exponential",
        Layout.JAX,
    ),
]


@pytest.fixture
def path_spy(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record which truncated-normal sampler path runs (wraps sampling's module functions)."""
    calls: list[Path] = []
    for path, attr in PATHS.items():
        original: Callable[..., Any] = getattr(sampling, attr)

        def spy(*args: Any, _o: Callable[..., Any] = original, _p: Path = path) -> Any:
            calls.append(_p)
            return _o(*args)

        monkeypatch.setattr(sampling, attr, spy)
    return calls


def _trunc_plan(case: TruncCase, dtype: DType) -> TensorPlan:
    return shaped(case.scheme, case.params, (200_000,), layout=case.layout, dtype=dtype)


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", TRUNC_CASES, ids=lambda c: c.id)
def test_truncated_normal_paths_sample_the_exact_truncated_law(
    case: TruncCase, dtype: DType, path_spy: list[Path]
) -> None:
    """Each sampler path matches truncnorm(alpha, beta, loc=mean, scale=sigma).

    The law must be the absolute interval the parameters describe; mean/variance bands come
    from the exact truncated moments (mpmath recursion, not app code), KS against scipy's
    truncnorm; every value lies in [low, high] rounded to the output dtype.
    """
    plan = _trunc_plan(case, dtype)
    law = plan.law
    assert isinstance(law, TruncatedNormalLaw)
    got = (law.mean, law.sigma, law.low, law.high)
    assert got == pytest.approx((case.mean, case.sigma, case.low, case.high), rel=1e-15)
    values = generate_tensor(plan, SEED)
    assert set(path_spy) == {case.path}, f"sampler paths used: {path_spy}"
    alpha, beta = (case.low - case.mean) / case.sigma, (case.high - case.mean) / case.sigma
    std = truncated_standard_moments(alpha, beta)
    s = case.sigma
    moments = Moments(case.mean + s * std.mean, s**2 * std.var, s**4 * std.mu4)
    dist = stats.truncnorm(alpha, beta, loc=case.mean, scale=case.sigma)
    found = violations(values, moments, dist)
    assert not found, f"{case.id} {dtype}: {found}"
    target = numpy_dtype(dtype).type
    assert values.min() >= target(case.low) and values.max() <= target(case.high)
    assert math.sqrt(moments.var) == pytest.approx(law.std, rel=1e-9)


@pytest.mark.parametrize("dtype", LOW_DTYPES, ids=str)
@pytest.mark.parametrize("case", TRUNC_CASES, ids=lambda c: c.id)
def test_truncated_values_never_leave_bounds_rounded_to_half_precision(
    case: TruncCase, dtype: DType
) -> None:
    """float16/bfloat16 truncated outputs stay in [round(low), round(high)] of that dtype."""
    values = generate_tensor(_trunc_plan(case, dtype), SEED)
    target = numpy_dtype(dtype).type
    v = values.astype(np.float64)
    assert v.min() >= float(target(case.low)) and v.max() <= float(target(case.high))


def test_torch_trunc_normal_default_bounds_do_not_truncate_std_002() -> None:
    """trunc_normal_(std=0.02) keeps absolute bounds +-2 = +-100 std: it is N(0, 0.02²)."""
    plan = shaped("torch.trunc_normal_", {"std": 0.02}, (200_000,))
    law = plan.law
    assert isinstance(law, TruncatedNormalLaw)
    assert law.std == pytest.approx(0.02, rel=1e-15)
    assert law.mass == 1.0
    values = generate_tensor(plan, SEED)
    found = violations(values, Moments(0.0, 0.02**2, 3 * 0.02**4), stats.norm(0, 0.02))
    assert not found, found


@pytest.mark.parametrize("a", [12.0, 13.0, 14.0, 14.5, 15.0, 20.0, 36.0])
def test_truncated_law_std_is_exact_far_in_the_upper_tail(a: float) -> None:
    """TruncatedNormalLaw reports the exact std for [a, a+1] up to the 37-sigma limit.

    The mirrored interval [-a-1, -a] has the same std, which the law gets right.
    """
    exact = math.sqrt(truncated_standard_moments(a, a + 1).var)
    assert TruncatedNormalLaw(0.0, 1.0, -a - 1, -a).std == pytest.approx(exact, rel=1e-9)
    assert TruncatedNormalLaw(0.0, 1.0, a, a + 1).std == pytest.approx(exact, rel=1e-9)
