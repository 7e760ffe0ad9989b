"""Helpers for the statistical tests: exact moments of each law and tolerances derived from n.

Everything a test compares a sample against is computed here from first principles (closed
forms, or mpmath at 60 digits for truncated normals), never from app/ code, except the law's
own constants (mean, std, bounds), which are what is being checked.

Tolerances
    With ``n`` samples, the sample mean has standard deviation ``sigma / sqrt(n)`` and the
    unbiased sample variance ``s^2`` has variance ``(mu4 - sigma^4 (n - 3) / (n - 1)) / n``
    (Cramér, Mathematical Methods of Statistics, 27.4), with ``mu4`` the central fourth moment
    of the law. Both are asymptotically normal, so a band of ``Z = 5`` standard deviations has
    a two-sided false-alarm probability of ``2 (1 - Phi(5)) = 5.7e-7`` per check; the KS
    check uses ``alpha = 1e-4``. Every test uses a fixed seed, so a run is deterministic
    anyway: these numbers say how unlucky the chosen seed would have to be for a correct
    sampler to fail, and the widths are small enough that a 2 % error in std fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mpmath  # type: ignore[import-untyped]
import numpy as np
from numpy.typing import NDArray
from scipy import stats

from app.core.laws import NormalLaw, TruncatedNormalLaw, UniformLaw

Z = 5.0
KS_ALPHA = 1e-4
_DPS = 60

ElementwiseLaw = UniformLaw | NormalLaw | TruncatedNormalLaw


@dataclass(frozen=True)
class Moments:
    """Mean, variance and central fourth moment of a distribution."""

    mean: float
    var: float
    mu4: float

    def mean_tolerance(self, n: int) -> float:
        """Z standard deviations of the sample mean."""
        return Z * math.sqrt(self.var / n)

    def var_tolerance(self, n: int) -> float:
        """Z standard deviations of the unbiased sample variance."""
        return Z * math.sqrt((self.mu4 - self.var**2 * (n - 3) / (n - 1)) / n)


def truncated_standard_moments(alpha: float, beta: float) -> Moments:
    """Moments of N(0, 1) restricted to [alpha, beta], by the raw-moment recursion.

    ``M_0 = 1``, ``M_1 = (phi(a) - phi(b)) / Z`` and
    ``M_k = (k - 1) M_{k-2} + (a^{k-1} phi(a) - b^{k-1} phi(b)) / Z`` (integration by parts),
    then central moments by the binomial expansion; 60 digits absorb the cancellation of a
    far tail (mean 36, variance 8e-4 loses about 12 digits in mu4).
    """
    with mpmath.workdps(_DPS):
        a, b = mpmath.mpf(alpha), mpmath.mpf(beta)
        pa, pb = mpmath.npdf(a), mpmath.npdf(b)
        # An interval above 0 as a difference of upper tails, which keeps its relative
        # precision however far out it lies (1 - 1e-300 would round to 1).
        mass = mpmath.ncdf(-a) - mpmath.ncdf(-b) if a > 0 else mpmath.ncdf(b) - mpmath.ncdf(a)
        raw = [mpmath.mpf(1), (pa - pb) / mass]
        for k in range(2, 5):
            raw.append((k - 1) * raw[k - 2] + (a ** (k - 1) * pa - b ** (k - 1) * pb) / mass)
        m = raw[1]
        var = raw[2] - m**2
        mu4 = raw[4] - 4 * m * raw[3] + 6 * m**2 * raw[2] - 3 * m**4
        return Moments(float(m), float(var), float(mu4))


def law_moments(law: ElementwiseLaw) -> Moments:
    """Exact moments of the distribution a law samples."""
    if isinstance(law, UniformLaw):
        width = law.high - law.low
        return Moments((law.low + law.high) / 2, width**2 / 12, width**4 / 80)
    if isinstance(law, NormalLaw):
        return Moments(law.mean, law.std**2, 3 * law.std**4)
    alpha = (law.low - law.mean) / law.sigma
    beta = (law.high - law.mean) / law.sigma
    std = truncated_standard_moments(alpha, beta)
    s = law.sigma
    return Moments(law.mean + s * std.mean, s**2 * std.var, s**4 * std.mu4)


def law_distribution(law: ElementwiseLaw) -> Any:
    """The exact scipy distribution of a law (for the KS test)."""
    if isinstance(law, UniformLaw):
        return stats.uniform(loc=law.low, scale=law.high - law.low)
    if isinstance(law, NormalLaw):
        return stats.norm(loc=law.mean, scale=law.std)
    alpha = (law.low - law.mean) / law.sigma
    beta = (law.high - law.mean) / law.sigma
    return stats.truncnorm(alpha, beta, loc=law.mean, scale=law.sigma)


def ks_pvalue(sample: NDArray[Any], distribution: Any) -> float:
    """Two-sided one-sample Kolmogorov-Smirnov p-value against an exact CDF."""
    return float(stats.kstest(np.asarray(sample, dtype=np.float64), distribution.cdf).pvalue)


def violations(sample: NDArray[Any], moments: Moments, distribution: Any) -> list[str]:
    """Which of mean, variance and KS reject ``sample`` (empty when it fits the law)."""
    x = np.asarray(sample, dtype=np.float64).ravel()
    n = x.size
    found = []
    mean = float(x.mean())
    if abs(mean - moments.mean) > moments.mean_tolerance(n):
        found.append(
            f"mean {mean!r} vs {moments.mean!r} (tolerance {moments.mean_tolerance(n):.3g})"
        )
    var = float(x.var(ddof=1))
    if abs(var - moments.var) > moments.var_tolerance(n):
        found.append(f"variance {var!r} vs {moments.var!r} (tol {moments.var_tolerance(n):.3g})")
    p = ks_pvalue(x, distribution)
    if p <= KS_ALPHA:
        found.append(f"KS p-value {p:.3g} <= {KS_ALPHA}")
    return found


def rescaled(sample: NDArray[Any], centre: float, factor: float) -> NDArray[np.float64]:
    """``centre + factor * (x - centre)``: the sample a std ``factor`` times too large gives."""
    x = np.asarray(sample, dtype=np.float64)
    return centre + factor * (x - centre)
