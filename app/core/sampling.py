"""blocks-v1 samplers: a law and a block's bit generator in, working-precision values out.

Frozen with ``blocks-v1`` (changing any line that shapes values needs a new algorithm name):

* uniform: ``u = Generator(bitgen).random(n, dtype=W)`` (numpy's documented map of raw bits:
  float32 ``(next_uint32 >> 8) * 2**-24``, float64 ``(next_uint64 >> 11) * 2**-53``);
  symmetric ``U[-b, b)`` is ``(2u - 1) * b`` (``2u - 1`` is exact, so one rounding);
  otherwise ``low + (high - low) * u``, clamped below ``high``.
* normal: ``z = standard_normal_from_raw(bitgen.random_raw(k), n, W)`` (normal.py, a
  Box-Muller built from cross-machine-stable operations), then ``z * std + mean``.
* truncated normal on [alpha, beta] (units of sigma), chosen by the mass Z inside:
  Z >= 1/4: rejection from the normal sampler, redrawing the rejected positions in order;
  a one-sided interval wide compared to its tail scale (``(beta - alpha) * alpha > 1``):
  Robert's (1995) exponential proposal; otherwise a uniform proposal on the interval with
  acceptance ``exp((m**2 - z**2) / 2)``, m the point of the interval nearest 0. The last two
  run in float64 with normal.py's stable log/exp. Finally ``mean + sigma * z``, clipped to
  the interval rounded to the working precision, so no value ever leaves it.

Constants reach the samples only after one rounding to the working precision ``W``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .laws import ConstantLaw, NormalLaw, SegmentsLaw, TruncatedNormalLaw, UniformLaw
from .normal import raw_words_needed, stable_exp, stable_log, standard_normal_from_raw

Working = type[np.float32] | type[np.float64]
FloatArray = NDArray[np.floating[Any]]

# Above this mass, plain rejection from the normal wastes at most 3 draws in 4.
NORMAL_REJECTION_MIN_MASS = 0.25
# A safety net: every loop below accepts a fixed positive fraction per round.
MAX_REJECTION_ROUNDS = 100_000


def standard_normal(bitgen: np.random.PCG64, n: int, working: Working) -> FloatArray:
    """n standard normal values in the working precision from the block's stream."""
    raw = bitgen.random_raw(raw_words_needed(n, working))
    return standard_normal_from_raw(np.asarray(raw, dtype=np.uint64), n, working)


def uniform01(bitgen: np.random.PCG64, n: int, working: Working) -> FloatArray:
    """n values of U[0, 1) in the working precision (numpy's Generator.random map)."""
    return np.random.Generator(bitgen).random(n, dtype=working)


def sample_uniform(
    law: UniformLaw, bitgen: np.random.PCG64, n: int, working: Working
) -> FloatArray:
    u = uniform01(bitgen, n, working)
    if law.symmetric:
        u *= working(2)
        u -= working(1)
        u *= working(law.high)
        return u
    low, high = working(law.low), working(law.high)
    u *= working(law.high - law.low)
    u += low
    np.minimum(u, np.nextafter(high, low), out=u)
    return u


def sample_normal(law: NormalLaw, bitgen: np.random.PCG64, n: int, working: Working) -> FloatArray:
    z = standard_normal(bitgen, n, working)
    z *= working(law.std)
    if law.mean != 0.0:
        z += working(law.mean)
    return z


def _truncated_by_rejection(
    bitgen: np.random.PCG64, n: int, alpha: float, beta: float, working: Working
) -> FloatArray:
    lo, hi = working(alpha), working(beta)
    z = standard_normal(bitgen, n, working)
    pending = np.flatnonzero((z < lo) | (z > hi))
    for _ in range(MAX_REJECTION_ROUNDS):
        if pending.size == 0:
            return z
        fresh = standard_normal(bitgen, pending.size, working)
        z[pending] = fresh
        pending = pending[(fresh < lo) | (fresh > hi)]
    raise RuntimeError("truncated normal rejection did not converge")  # pragma: no cover


def _truncated_one_sided_exponential(
    bitgen: np.random.PCG64, n: int, alpha: float, beta: float
) -> NDArray[np.float64]:
    """Robert (1995), Statistics and Computing 5:121: N(0,1) on [alpha, beta], alpha >= 0."""
    rate = (alpha + math.sqrt(alpha * alpha + 4.0)) / 2.0
    gen = np.random.Generator(bitgen)
    out = np.empty(n, dtype=np.float64)
    pending = np.arange(n)
    for _ in range(MAX_REJECTION_ROUNDS):
        if pending.size == 0:
            return out
        u = gen.random(pending.size)
        v = gen.random(pending.size)
        z = alpha - stable_log(1.0 - u) / rate
        d = z - rate
        ok = (v < stable_exp(-0.5 * d * d)) & (z <= beta)
        out[pending[ok]] = z[ok]
        pending = pending[~ok]
    raise RuntimeError("truncated normal rejection did not converge")  # pragma: no cover


def _truncated_uniform_proposal(
    bitgen: np.random.PCG64, n: int, alpha: float, beta: float
) -> NDArray[np.float64]:
    """N(0,1) on a narrow [alpha, beta]: uniform proposal, accept with exp((m^2 - z^2)/2)."""
    m = min(max(0.0, alpha), beta)
    gen = np.random.Generator(bitgen)
    out = np.empty(n, dtype=np.float64)
    pending = np.arange(n)
    for _ in range(MAX_REJECTION_ROUNDS):
        if pending.size == 0:
            return out
        u = gen.random(pending.size)
        v = gen.random(pending.size)
        z = alpha + (beta - alpha) * u
        ok = v < stable_exp(0.5 * (m * m - z * z))
        out[pending[ok]] = z[ok]
        pending = pending[~ok]
    raise RuntimeError("truncated normal rejection did not converge")  # pragma: no cover


def sample_truncated_standard(
    bitgen: np.random.PCG64, n: int, alpha: float, beta: float, mass: float, working: Working
) -> FloatArray:
    """n draws of N(0, 1) restricted to [alpha, beta] (see the module docstring)."""
    if mass >= NORMAL_REJECTION_MIN_MASS:
        return _truncated_by_rejection(bitgen, n, alpha, beta, working)
    mirrored = beta <= 0.0
    lo, hi = (-beta, -alpha) if mirrored else (alpha, beta)
    if lo >= 0.0 and (hi - lo) * lo > 1.0:
        z64 = _truncated_one_sided_exponential(bitgen, n, lo, hi)
    else:
        z64 = _truncated_uniform_proposal(bitgen, n, lo, hi)
    if mirrored:
        np.negative(z64, out=z64)
    return z64.astype(working)


def sample_truncated_normal(
    law: TruncatedNormalLaw, bitgen: np.random.PCG64, n: int, working: Working
) -> FloatArray:
    z = sample_truncated_standard(bitgen, n, law.alpha, law.beta, law.mass, working)
    z *= working(law.sigma)
    if law.mean != 0.0:
        z += working(law.mean)
    np.clip(z, working(law.low), working(law.high), out=z)
    return z


def segments_slice(law: SegmentsLaw, start: int, stop: int, working: Working) -> FloatArray:
    """Elements [start, stop) of a piecewise-constant law."""
    full = np.repeat(np.asarray(law.values, dtype=working), law.lengths)
    return np.ascontiguousarray(full[start:stop])


def sample_block(
    law: ConstantLaw | UniformLaw | NormalLaw | TruncatedNormalLaw,
    bitgen: np.random.PCG64,
    n: int,
    working: Working,
) -> FloatArray:
    """The n values of one block of an element-wise law."""
    if isinstance(law, UniformLaw):
        return sample_uniform(law, bitgen, n, working)
    if isinstance(law, NormalLaw):
        return sample_normal(law, bitgen, n, working)
    if isinstance(law, TruncatedNormalLaw):
        return sample_truncated_normal(law, bitgen, n, working)
    return np.full(n, law.value, dtype=working)
