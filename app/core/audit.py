"""Does a tensor's summary look like a law's samples? Checks with tolerances that a correct
tensor never fails.

The caller computed, in float64, a tensor's element count ``n``, mean, std (population,
``ddof=0``), min and max (:class:`Observed`); the expected :class:`~.law_stats.LawStats` come
from a plan or a manifest. Each statistic is compared with a tolerance derived from the sample
size and the law, at ``z`` standard errors (default :data:`DEFAULT_Z`, 6: a correct model of
ten thousand tensors fails a check with probability about 10⁻⁵):

* std: z·sigma·√((κ-1)/(4n)), the delta-method standard error of a sample std (κ the law's
  kurtosis), plus the dtype's rounding (sigma·eps);
* mean: z·sigma/√n plus the dtype's rounding ((|μ| + sigma)·eps);
* min/max of a bounded law (uniform, truncated normal, orthogonal, constant): within the bounds,
  widened by the dtype's rounding (|bound|·eps);
* laws whose values are exact (constants, identity, piecewise constants): mean and std within
  the dtype's rounding of the largest magnitude involved; a constant's std must be 0 within it.

``eps`` is the observed dtype's machine epsilon (2⁻⁵² float64, 2⁻²³ float32, 2⁻¹⁰ float16,
2⁻⁷ bfloat16), doubled: the values were rounded once to it, the sums are float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .law_stats import LawStats

DEFAULT_Z = 6.0
_EPS = {
    "float64": 2.0**-52,
    "float32": 2.0**-23,
    "float16": 2.0**-10,
    "bfloat16": 2.0**-7,
}


def dtype_eps(dtype: str) -> float:
    """Twice the machine epsilon of ``dtype`` (float32's for names it does not know)."""
    return 2 * _EPS.get(dtype, _EPS["float32"])


@dataclass(frozen=True)
class Observed:
    """Statistics of a tensor's values, computed by the caller in float64."""

    numel: int
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class Check:
    """One statistic against its expectation: ``passed`` when within ``tolerance``."""

    statistic: str
    expected: float
    observed: float
    tolerance: float
    passed: bool


def std_tolerance(expected: LawStats, n: int, z: float, eps: float) -> float:
    """How far a sample std of ``n`` draws may be from the law's (module docstring)."""
    rounding = eps * max(expected.std, abs(expected.mean), *_bounds(expected))
    if expected.kurtosis is None or n == 0:
        return rounding
    return z * expected.std * math.sqrt(max(expected.kurtosis - 1, 0.0) / (4 * n)) + rounding


def mean_tolerance(expected: LawStats, n: int, z: float, eps: float) -> float:
    """How far a sample mean of ``n`` draws may be from the law's."""
    rounding = eps * (abs(expected.mean) + expected.std + max(_bounds(expected), default=0.0))
    if expected.kurtosis is None or n == 0:
        return rounding
    return z * expected.std / math.sqrt(n) + rounding


def _bounds(expected: LawStats) -> list[float]:
    return [abs(b) for b in (expected.low, expected.high) if b is not None]


def check_tensor(
    expected: LawStats, observed: Observed, *, z: float = DEFAULT_Z, eps: float
) -> list[Check]:
    """Every check of ``observed`` against ``expected``, in a fixed order (std, mean, min,
    max); an empty tensor has none."""
    n = observed.numel
    if n == 0:
        return []
    tol_std = std_tolerance(expected, n, z, eps)
    tol_mean = mean_tolerance(expected, n, z, eps)
    checks = [
        _close("std", expected.std, observed.std, tol_std),
        _close("mean", expected.mean, observed.mean, tol_mean),
    ]
    if expected.low is not None:
        tol = eps * abs(expected.low) + (tol_mean if expected.kurtosis is None else 0.0)
        ok = math.isfinite(observed.min) and observed.min >= expected.low - tol
        checks.append(Check("min", expected.low, observed.min, tol, ok))
    if expected.high is not None:
        tol = eps * abs(expected.high) + (tol_mean if expected.kurtosis is None else 0.0)
        ok = math.isfinite(observed.max) and observed.max <= expected.high + tol
        checks.append(Check("max", expected.high, observed.max, tol, ok))
    return checks


def _close(name: str, expected: float, observed: float, tolerance: float) -> Check:
    ok = math.isfinite(observed) and abs(observed - expected) <= tolerance
    return Check(name, expected, observed, tolerance, ok)
