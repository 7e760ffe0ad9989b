"""Laws: what a scheme resolves to for one tensor, with its constants and theoretical stats.

A scheme (schemes/) turns its parameters and a tensor's shape and fans into one of these
frozen dataclasses; the samplers (sampling.py, legacy.py) turn a law into values. Constants
are float64 numbers that were computed with exact operations (or mpmath through precision.py,
rounded once, or in a framework's own operation order); the samplers round them once to the
working precision.

Every law reports the standard deviation of the distribution it samples (``std``), and the
uniform laws their half-width (``bound``); truncated laws also report the underlying normal's
scale (``sigma``) and the absolute truncation interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from .errors import InvalidParameterError
from .precision import exact, round_once

Shape = tuple[int, ...]

_MP_DPS = 50


@lru_cache(maxsize=4096)
def truncated_standard_normal_moments(alpha: float, beta: float) -> tuple[float, float, float]:
    """(mass, mean, std) of N(0, 1) restricted to [alpha, beta], by mpmath, each rounded once.

    mass Z = Phi(beta) - Phi(alpha); mean = (phi(alpha) - phi(beta)) / Z;
    var = 1 + (alpha phi(alpha) - beta phi(beta)) / Z - mean**2  (Johnson, Kotz & Balakrishnan,
    Continuous Univariate Distributions vol. 1, §10.1). A narrow or far interval makes these
    differences cancel, so the working precision grows with -log10(width) and the distance.
    """
    width = beta - alpha
    far = max(abs(alpha), abs(beta))
    return _moments_at(alpha, beta, _MP_DPS + _narrow_digits(width) + _far_digits(far))


def _narrow_digits(width: float) -> int:
    """Extra digits for an interval narrower than 1 sigma: the differences cancel."""
    digits = max(0, math.ceil(-math.log10(width)))
    # Below 1e-30 sigmas the variance (~width**2 / 12) cancels against 1 as well: three digits
    # per decade. (Two per decade above keeps every earlier constant's working precision.)
    return 3 * digits if width < _NARROW else 2 * digits


def _far_digits(far: float) -> int:
    """Extra digits for an interval far from the mean (the tail masses are tiny)."""
    if far < _FAR:
        return math.ceil(math.log10(1 + far * far))
    return math.ceil(2 * math.log10(far)) + 1  # far * far would overflow a float


_NARROW = 1e-30
_FAR = 1e154  # far * far stays finite below


def _moments_at(alpha: float, beta: float, dps: int) -> tuple[float, float, float]:
    with exact(dps) as ctx:
        a, b = ctx.mpf(alpha), ctx.mpf(beta)
        # In the upper tail Phi(b) - Phi(a) cancels to 0; use the symmetric form there.
        z = ctx.ncdf(-a) - ctx.ncdf(-b) if a > 0 else ctx.ncdf(b) - ctx.ncdf(a)
        pa, pb = ctx.npdf(a), ctx.npdf(b)
        mean = (pa - pb) / z
        var = 1 + (a * pa - b * pb) / z - mean**2
        return round_once(z), round_once(mean), round_once(ctx.sqrt(var))


@dataclass(frozen=True)
class ConstantLaw:
    """Every element equals ``value``."""

    value: float

    @property
    def std(self) -> float:
        return 0.0


@dataclass(frozen=True)
class UniformLaw:
    """U[low, high): std = (high - low) / sqrt(12); symmetric ones report ``bound`` = high."""

    low: float
    high: float

    @property
    def symmetric(self) -> bool:
        return self.low == -self.high

    @property
    def bound(self) -> float | None:
        return self.high if self.symmetric else None

    @property
    def std(self) -> float:
        with exact(_MP_DPS) as ctx:
            return round_once((ctx.mpf(self.high) - ctx.mpf(self.low)) / ctx.sqrt(12))


@dataclass(frozen=True)
class NormalLaw:
    """N(mean, std**2)."""

    mean: float
    std: float


@dataclass(frozen=True)
class TruncatedNormalLaw:
    """N(mean, sigma**2) restricted to the absolute interval [low, high].

    ``std`` is the standard deviation after truncation, which is what is sampled.
    """

    mean: float
    sigma: float
    low: float
    high: float

    @property
    def alpha(self) -> float:
        """Lower bound in units of sigma (float64 arithmetic, frozen for blocks-v1)."""
        return (self.low - self.mean) / self.sigma

    @property
    def beta(self) -> float:
        """Upper bound in units of sigma."""
        return (self.high - self.mean) / self.sigma

    @property
    def mass(self) -> float:
        return truncated_standard_normal_moments(self.alpha, self.beta)[0]

    @property
    def std(self) -> float:
        return self.sigma * truncated_standard_normal_moments(self.alpha, self.beta)[2]

    @property
    def truncation(self) -> tuple[float, float]:
        return (self.low, self.high)


# Farther than this from the mean (in sigmas) an interval is refused: the samplers' float64
# arithmetic (alpha**2, exp(-(z - rate)**2 / 2)) stays exact-enough well inside it.
MAX_TRUNCATION_SIGMAS = 1e6


def truncated_law(mean: float, sigma: float, low: float, high: float) -> TruncatedNormalLaw:
    """A validated TruncatedNormalLaw (every truncated scheme builds its law here)."""
    if not (math.isfinite(sigma) and sigma > 0.0):
        raise InvalidParameterError(
            f"The std before truncation is {sigma!r}: it must be a positive finite number "
            "(a scale or gain this small rounds it to zero in the weight's dtype); raise the "
            "scale or use a constant."
        )
    law = TruncatedNormalLaw(mean, sigma, low, high)
    alpha, beta = law.alpha, law.beta
    if not (math.isfinite(low) and math.isfinite(high)):  # bounds in stds of a huge std
        raise InvalidParameterError(
            f"The truncation bounds come to [{low!r}, {high!r}], beyond float64's range (bounds "
            f"given in units of a std of {sigma!r}); lower the std or the bounds."
        )
    if not (math.isfinite(alpha) and math.isfinite(beta)):  # finite bounds, a tiny std
        raise InvalidParameterError(
            f"The truncation bounds [{low!r}, {high!r}] lie more standard deviations from the "
            f"mean than float64 can hold (the std is {sigma!r}); raise the std."
        )
    if not alpha < beta:
        raise InvalidParameterError(
            f"The truncation interval [{low!r}, {high!r}] is empty or narrower than float64 "
            f"can resolve in units of the std {sigma!r}; widen it or use a constant."
        )
    nearest = 0.0 if alpha <= 0.0 <= beta else min(abs(alpha), abs(beta))
    if nearest > MAX_TRUNCATION_SIGMAS:
        raise InvalidParameterError(
            f"The truncation interval lies {nearest:.3g} standard deviations from the mean "
            f"(at most {MAX_TRUNCATION_SIGMAS:g} are supported); move it closer or raise std."
        )
    return law


@dataclass(frozen=True)
class OrthogonalLaw:
    """gain * Q, Q Haar-orthogonal of the flattened (rows, cols) matrix.

    Orthonormal rows when rows < cols, orthonormal columns otherwise; the (rows, cols)
    matrix is reshaped row-major into the tensor (torch flattens ``rows = shape[0]``,
    Keras/JAX ``cols = shape[-1]``). Every entry has E[q^2] = 1/max(rows, cols).
    """

    gain: float
    rows: int
    cols: int

    @property
    def std(self) -> float:
        with exact(_MP_DPS) as ctx:
            return round_once(abs(ctx.mpf(self.gain)) / ctx.sqrt(max(self.rows, self.cols)))


@dataclass(frozen=True)
class IdentityLaw:
    """gain on the main diagonal of a 2-D tensor, zeros elsewhere (deterministic)."""

    gain: float

    @property
    def std(self) -> float | None:
        return None


@dataclass(frozen=True)
class DiracLaw:
    """torch.nn.init.dirac_: ones at the kernel centre k//2 of each (group, d) pair.

    ``channels_last``: the tensor is stored (*kernel, in, out) (Keras/Flax) instead of torch's
    (out, in, *kernel); the same kernel is written in that layout.
    """

    groups: int
    channels_last: bool = False

    @property
    def std(self) -> float | None:
        return None


@dataclass(frozen=True)
class DeltaOrthogonalLaw:
    """Zeros except the centre tap (k-1)//2, an orthogonal (in, out) matrix times gain."""

    gain: float
    in_channels: int
    out_channels: int
    channels_last: bool

    @property
    def std(self) -> float | None:
        return None


@dataclass(frozen=True)
class SparseLaw:
    """N(0, std**2) values with exactly ``zeros_per_column`` zeros in every column (2-D)."""

    value_std: float
    zeros_per_column: int
    rows: int

    @property
    def std(self) -> float:
        kept = self.rows - self.zeros_per_column
        with exact(_MP_DPS) as ctx:
            return round_once(ctx.mpf(self.value_std) * ctx.sqrt(ctx.mpf(kept) / self.rows))


@dataclass(frozen=True)
class SegmentsLaw:
    """Piecewise constant along the flat tensor: ``values[i]`` repeated ``lengths[i]`` times.

    Used for Keras' unit forget bias: [0]*u + [1]*u + [0]*2u.
    """

    values: tuple[float, ...]
    lengths: tuple[int, ...]

    @property
    def std(self) -> float | None:
        return None


@dataclass(frozen=True)
class CounterLaw:
    """An int64 zero (torch's ``num_batches_tracked``)."""

    @property
    def std(self) -> float | None:
        return None


Law = (
    ConstantLaw
    | UniformLaw
    | NormalLaw
    | TruncatedNormalLaw
    | OrthogonalLaw
    | IdentityLaw
    | DiracLaw
    | DeltaOrthogonalLaw
    | SparseLaw
    | SegmentsLaw
    | CounterLaw
)

WHOLE_MATRIX_LAWS = (OrthogonalLaw, DeltaOrthogonalLaw, SparseLaw)


def law_bound(law: Law) -> float | None:
    """Half-width of a symmetric uniform law, else None."""
    return law.bound if isinstance(law, UniformLaw) else None
