"""``jax.random`` samplers in numpy float32: uniform, normal and truncated normal.

Reproduces jax 0.10.2 on CPU (XLA from jaxlib 0.10.2), ``jax_enable_x64=False``, from the
Threefry bits of :mod:`app.core.threefry`; every function takes the flat element range
``[start, stop)`` of a tensor, because element ``i`` depends on ``(key, i)`` only.

* ``uniform(key, shape, float32, minval, maxval)`` (jax/_src/random/core.py ``_uniform``):
  ``f = bitcast((bits >> 9) | 0x3F800000) - 1`` in [0, 1), then
  ``max(minval, f * (maxval - minval) + minval)`` in float32, the multiply-add fused as XLA
  CPU fuses it. Bit-exact.
* ``normal`` (``_normal_real``): ``sqrt(2) * erf_inv(u)``, ``u = uniform(nextafter(-1, 0),
  1)``. ``erf_inv`` is XLA's float32 Giles approximation (xla/hlo/builder/lib/math.cc
  ``ErfInv32``): ``w = -log1p(-u * u)``; ``w < 5``: degree-8 polynomial in ``w - 2.5``,
  else in ``sqrt(w) - 3``; result ``p * u``. On CPU the Horner steps are fused multiply-adds
  (without FMA 392 025 of the 2**23 inputs differ). XLA's ``log1p`` takes, for
  ``|x| < sqrt(2) - 1``, a Cephes rational approximation (xla/service/elemental_ir_emitter.cc
  ``EmitLog1p``) and above it ``log(1 + x)`` through XLA CPU's vectorised Cephes ``logf``
  (Eigen's ``plog`` order, ``y * x**3 + e * q1`` fused); both are reproduced operation for
  operation. Measured against jax 0.10.2 on every one of the 2**23 possible uniform inputs:
  identical, so ``normal`` is bit-exact.
* ``truncated_normal(lower, upper)`` (``_truncated_normal``): ``a = erf(lower / sqrt(2))``,
  ``b = erf(upper / sqrt(2))`` in float32, ``u = uniform(a, b)``, ``sqrt(2) * erf_inv(u)``
  clipped to ``[nextafter(lower, inf), nextafter(upper, -inf)]``. ``erf`` here is the
  correctly rounded float32 value (mpmath); XLA's float32 ``erf`` agrees with it for the
  bounds in :data:`ERF_VERIFIED` (+-0.5, +-1, +-2, +-2.5, +-3, 0) and not for every bound
  (the job refuses others). ``u = f * (b - a) + a`` is one fused multiply-add on CPU.
  (-2, 2), every variance-scaling preset's, was compared on all 2**23 inputs: identical.

Only integer bit operations, IEEE ``+ - * / sqrt`` and fused multiply-adds emulated in float64
(a float32 product is exact in float64; the one rounding to float32 after the add is the
FMA's, except in double-rounding ties, which the exhaustive comparison did not meet) are used,
so the bytes are the same on every machine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import cephes
from .fma import fma32
from .precision import exact
from .threefry import Key, random_bits32

F32 = np.float32
F32Array = NDArray[np.float32]

# Truncation bounds whose float32 erf(bound / sqrt(2)) XLA computes correctly rounded
# (measured with jax 0.10.2); others may differ from XLA's erf by an ulp.
ERF_VERIFIED = frozenset({0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 2.5, -2.5, 3.0, -3.0})
SQRT2_F32 = F32(np.sqrt(2))  # 1.4142135 (np.sqrt(2) rounded to float32, as JAX writes it)

# XLA ErfInv32 (Giles 2010), highest degree first, for w < 5 and w >= 5.
_ERFINV_LT5 = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_ERFINV_GE5 = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)
# XLA EmitLog1p for |x| < sqrt(2) - 1 (Cephes log1p), highest degree first.
_LOG1P_SMALL = F32(0.41421356237309504880)
_LOG1P_DEN = (
    1.0,
    1.5062909083469192043167e1,
    8.3047565967967209469434e1,
    2.2176239823732856465394e2,
    3.0909872225312059774938e2,
    2.1642788614495947685003e2,
    6.0118660497603843919306e1,
)
_LOG1P_NUM = (
    4.5270000862445199635215e-5,
    4.9854102823193375972212e-1,
    6.5787325942061044846969e0,
    2.9911919328553073277375e1,
    6.0949667980987787057556e1,
    5.7112963590585538103336e1,
    2.0039553499201281259648e1,
)
# Cephes logf (XLA CPU's vectorised log): p0..p8, q1, q2.
_LOGF_P = cephes.LOGF_P
_LOGF_Q1 = F32(cephes.LOGF_Q1)
_LOGF_Q2 = F32(cephes.LOGF_Q2)
_SQRTHF = F32(cephes.SQRTHF)


def _horner(x: F32Array, coefficients: tuple[float, ...]) -> F32Array:
    p = np.full_like(x, F32(coefficients[0]))
    for c in coefficients[1:]:
        p = fma32(p, x, F32(c))
    return p


def _logf(y: F32Array) -> F32Array:
    """Cephes ``logf`` as XLA CPU vectorises it, for positive normal ``y``."""
    bits = y.view(np.uint32)
    e = ((bits >> np.uint32(23)).astype(np.int32) - 126).astype(F32)
    m = ((bits & np.uint32(0x807FFFFF)) | np.uint32(0x3F000000)).view(F32)
    below = m < _SQRTHF
    m = (m - F32(1)) + np.where(below, m, F32(0)).astype(F32)
    e = e - below.astype(F32)
    x2 = m * m
    x3 = x2 * m
    p = fma32(m, F32(_LOGF_P[0]), F32(_LOGF_P[1]))
    p1 = fma32(m, F32(_LOGF_P[3]), F32(_LOGF_P[4]))
    p2 = fma32(m, F32(_LOGF_P[6]), F32(_LOGF_P[7]))
    p = fma32(p, m, F32(_LOGF_P[2]))
    p1 = fma32(p1, m, F32(_LOGF_P[5]))
    p2 = fma32(p2, m, F32(_LOGF_P[8]))
    p = fma32(p, x3, p1)
    p = fma32(p, x3, p2)
    p = fma32(p, x3, e * _LOGF_Q1)
    r = fma32(x2, F32(-0.5), m) + p
    return fma32(e, _LOGF_Q2, r)


def _log1p(x: F32Array) -> F32Array:
    """XLA's float32 ``log1p`` for x in (-1, 0] (the only inputs erf_inv gives it here)."""
    x2 = x * x
    small = (x * x2) * (_horner(x, _LOG1P_NUM) / _horner(x, _LOG1P_DEN))
    small = x + (F32(-0.5) * x2 + small)
    with np.errstate(divide="ignore"):
        large = _logf(np.maximum(x + F32(1), F32(np.finfo(F32).tiny)))
    out: F32Array = np.where(np.abs(x) < _LOG1P_SMALL, small, large).astype(F32)
    return out


def erf_inv(u: F32Array) -> F32Array:
    """XLA's float32 ``erf_inv`` (ErfInv32) for u in (-1, 1); +-inf at +-1."""
    w = -_log1p(u * -u)
    lt = w < F32(5)
    with np.errstate(invalid="ignore"):
        t = np.where(lt, w - F32(2.5), np.sqrt(w) - F32(3)).astype(F32)
    p = np.where(lt, F32(_ERFINV_LT5[0]), F32(_ERFINV_GE5[0])).astype(F32)
    for c_lt, c_ge in zip(_ERFINV_LT5[1:], _ERFINV_GE5[1:], strict=True):
        p = fma32(p, t, np.where(lt, F32(c_lt), F32(c_ge)))
    with np.errstate(invalid="ignore"):
        out: F32Array = np.where(np.abs(u) == F32(1), u * F32(np.inf), p * u).astype(F32)
    return out


def _unit_floats(k: Key, start: int, stop: int) -> F32Array:
    """``bitcast((bits >> 9) | 0x3F800000) - 1``: floats in [0, 1) with 23 random bits."""
    bits = random_bits32(k, start, stop)
    out: F32Array = ((bits >> np.uint32(9)) | np.uint32(0x3F800000)).view(F32) - F32(1)
    return out


def uniform(k: Key, start: int, stop: int, minval: float = 0.0, maxval: float = 1.0) -> F32Array:
    """Elements ``[start, stop)`` of ``jax.random.uniform(key, shape, float32, minval,
    maxval)``."""
    lo, hi = F32(minval), F32(maxval)
    out: F32Array = np.maximum(lo, fma32(_unit_floats(k, start, stop), hi - lo, lo))
    return out


def normal(k: Key, start: int, stop: int) -> F32Array:
    """Elements ``[start, stop)`` of ``jax.random.normal(key, shape, float32)``."""
    u = uniform(k, start, stop, float(np.nextafter(F32(-1), F32(0))), 1.0)
    out: F32Array = SQRT2_F32 * erf_inv(u)
    return out


def erf_f32(x: float) -> np.float32:
    """``erf(float32(x) / float32(sqrt 2))`` correctly rounded to float32 (mpmath)."""
    arg = F32(x) / SQRT2_F32
    with exact(40) as mp:
        return F32(float(mp.erf(mp.mpf(float(arg)))))


def truncated_normal(k: Key, start: int, stop: int, lower: float, upper: float) -> F32Array:
    """Elements ``[start, stop)`` of ``jax.random.truncated_normal(key, lower, upper, shape,
    float32)``."""
    lo, hi = F32(lower), F32(upper)
    a, b = erf_f32(lower), erf_f32(upper)
    u = np.maximum(a, fma32(_unit_floats(k, start, stop), b - a, a))
    out = SQRT2_F32 * erf_inv(u)
    floor = np.nextafter(lo, F32(np.inf))
    ceiling = np.nextafter(hi, F32(-np.inf))
    clipped: F32Array = np.clip(out, floor, ceiling).astype(F32)
    return clipped
