"""What a law's samples should look like: mean, std, kurtosis and hard bounds (for audits).

A law (:mod:`.laws`) states the std it samples; an audit of someone else's tensor also needs
its mean, its hard bounds (uniform, truncated, constant) and its kurtosis κ = E[(x-μ)⁴]/sigma⁴,
which sets how far a sample std may stray from sigma: for n independent draws the std of the
sample std is about sigma·√((κ-1)/(4n)) (the delta method on the sample variance, whose variance
is sigma⁴(κ-1)/n). κ is 3 for a normal, 1.8 for a uniform, that of the truncated normal for a
truncated one (its moments by the recursion below), 3/p for a sparse law whose nonzero
fraction is p (a normal mixed with zeros). Constants have std 0 exactly. Laws whose values are
set positions rather than draws have exact statistics (identity, piecewise constants, the
counter's zero) or none an audit can use (dirac, delta-orthogonal: reported as unchecked).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .laws import (
    ConstantLaw,
    CounterLaw,
    IdentityLaw,
    Law,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    SparseLaw,
    TruncatedNormalLaw,
    UniformLaw,
)

NORMAL_KURTOSIS = 3.0
UNIFORM_KURTOSIS = 1.8  # 9/5: E[x^4]/E[x^2]^2 of U(-1, 1) = (1/5)/(1/3)^2


@dataclass(frozen=True)
class LawStats:
    """The statistics an audit compares: the law's name, mean, std, kurtosis and bounds.

    ``kurtosis`` is None for laws whose values are exact (constants, identity, segments):
    their mean and std are compared within the dtype's rounding only. ``low``/``high`` are
    hard bounds (None: unbounded).
    """

    law: str
    mean: float
    std: float
    kurtosis: float | None
    low: float | None = None
    high: float | None = None


def law_name(law: Law) -> str:
    """The law's kind as manifests name it: normal, uniform, truncated_normal, constant..."""
    names = {
        ConstantLaw: "constant",
        UniformLaw: "uniform",
        NormalLaw: "normal",
        TruncatedNormalLaw: "truncated_normal",
        OrthogonalLaw: "orthogonal",
        SparseLaw: "sparse",
        IdentityLaw: "identity",
        SegmentsLaw: "segments",
    }
    return names.get(type(law), type(law).__name__.removesuffix("Law").lower())


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) if math.isfinite(x) else 0.0


def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def truncated_kurtosis(alpha: float, beta: float) -> float:
    """Kurtosis of N(0, 1) restricted to [alpha, beta] (float64: a tolerance, not a constant).

    Raw moments by the recursion m_k = (k-1) m_{k-2} + (a^{k-1} φ(a) - b^{k-1} φ(b)) / Z
    (m_0 = 1, m_{-1} = 0), then the central fourth moment over the squared variance.
    """
    z = _cdf(beta) - _cdf(alpha) if alpha <= 0 else _cdf(-alpha) - _cdf(-beta)
    if not z > 0:
        return UNIFORM_KURTOSIS  # a vanishing interval: the law is nearly uniform on it

    def edge(k: int) -> float:
        a = alpha ** (k - 1) * _phi(alpha) if math.isfinite(alpha) else 0.0
        b = beta ** (k - 1) * _phi(beta) if math.isfinite(beta) else 0.0
        return (a - b) / z

    m1 = edge(1)
    m2 = 1 + edge(2)
    m3 = 2 * m1 + edge(3)
    m4 = 3 * m2 + edge(4)
    var = m2 - m1 * m1
    if not var > 0:
        return UNIFORM_KURTOSIS
    central4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1**4
    return max(1.0, central4 / (var * var))


def _truncated(law: TruncatedNormalLaw) -> LawStats:
    alpha, beta = law.alpha, law.beta
    z = _cdf(beta) - _cdf(alpha) if alpha <= 0 else _cdf(-alpha) - _cdf(-beta)
    shift = (_phi(alpha) - _phi(beta)) / z if z > 0 else 0.0
    mean = min(max(law.mean + law.sigma * shift, law.low), law.high)
    kurt = truncated_kurtosis(alpha, beta)
    return LawStats("truncated_normal", mean, law.std, kurt, law.low, law.high)


def _exact(law: IdentityLaw | SegmentsLaw, shape: tuple[int, ...]) -> LawStats | None:
    """Mean and std of a deterministic tensor, from its value counts."""
    n = math.prod(shape)
    if n == 0:
        return None
    if isinstance(law, IdentityLaw):
        if len(shape) != 2:
            return None
        counts = {law.gain: min(shape), 0.0: n - min(shape)}
    else:
        counts = {}
        for value, length in zip(law.values, law.lengths, strict=True):
            counts[value] = counts.get(value, 0) + length
    mean = sum(v * c for v, c in counts.items()) / n
    var = sum(c * (v - mean) ** 2 for v, c in counts.items()) / n
    values = [v for v, c in counts.items() if c]
    name = law_name(law)
    return LawStats(name, mean, math.sqrt(var), None, min(values), max(values))


def _constant(law: ConstantLaw) -> LawStats:
    return LawStats("constant", law.value, 0.0, None, law.value, law.value)


def _uniform(law: UniformLaw) -> LawStats:
    mean = law.low / 2 + law.high / 2
    return LawStats("uniform", mean, law.std, UNIFORM_KURTOSIS, law.low, law.high)


def _normal(law: NormalLaw) -> LawStats:
    return LawStats("normal", law.mean, law.std, NORMAL_KURTOSIS)


def _orthogonal(law: OrthogonalLaw) -> LawStats:  # Haar entries: mean 0, nearly normal
    return LawStats("orthogonal", 0.0, law.std, NORMAL_KURTOSIS, -abs(law.gain), abs(law.gain))


def _sparse(law: SparseLaw) -> LawStats:
    kept = (law.rows - law.zeros_per_column) / law.rows if law.rows else 0.0
    return LawStats("sparse", 0.0, law.std, NORMAL_KURTOSIS / kept if kept > 0 else None)


_RANDOM: dict[type, Callable[[Any], LawStats]] = {
    ConstantLaw: _constant,
    UniformLaw: _uniform,
    NormalLaw: _normal,
    TruncatedNormalLaw: _truncated,
    OrthogonalLaw: _orthogonal,
    SparseLaw: _sparse,
}


def law_stats(law: Law, shape: tuple[int, ...]) -> LawStats | None:
    """The statistics of ``law`` on a tensor of ``shape``; None for laws an audit cannot check
    from summary statistics (dirac, delta-orthogonal)."""
    stats = _RANDOM.get(type(law))
    if stats is not None:
        return stats(law)
    if isinstance(law, IdentityLaw | SegmentsLaw):
        return _exact(law, shape)
    if isinstance(law, CounterLaw):  # an int64 zero
        return LawStats("counter", 0.0, 0.0, None, 0.0, 0.0)
    return None
