"""torch's CPU kernel arithmetic in numpy: single-rounding multiply-adds, and ``log256_ps`` /
``sincos256_ps`` of avx_mathfun.h in float32, op for op.

torch 2.13's ``normal_`` on a float32 tensor of >= 16 elements runs ``NormalFill16<float>``'s
AVX2 specialisation on x86 CPUs with AVX2 or AVX-512 (aten/src/ATen/native/cpu/
DistributionTemplates.h); its log and sine/cosine are the Cephes polynomials of
aten/src/ATen/native/cpu/avx_mathfun.h (Julien Pommier's port), made only of float32
multiplies, adds, compares and bit masks. Each numpy operation below is one IEEE float32
operation of that code, in its order (numpy never fuses a multiply and an add), so the values
are the same bits on every machine. The constants are the header's, rounded to float32 as
``_mm256_set1_ps`` does. torch's x86 kernels are compiled with FMA and GCC contracts a
multiply feeding an add into one fused multiply-add (``-ffp-contract=fast``): the Horner steps,
``y * z + e * q1``, ``c * z - z / 2`` and ``s * x + x`` are fused (found by matching torch
bit for bit on 10**5 draws; an unfused variant differs on 0.01-1 % of them), which
:func:`app.core.fma.fma32` computes exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import cephes
from .fma import fma32

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I32 = NDArray[np.int32]

_f = np.float32

SQRTHF = _f(cephes.SQRTHF)
LOG_P = tuple(_f(c) for c in cephes.LOGF_P)
LOG_Q1 = _f(cephes.LOGF_Q1)
LOG_Q2 = _f(cephes.LOGF_Q2)
MINUS_DP1 = _f(-0.78515625)
MINUS_DP2 = _f(-2.4187564849853515625e-4)
MINUS_DP3 = _f(-3.77489497744594108e-8)
SINCOF = (_f(-1.9515295891e-4), _f(8.3321608736e-3), _f(-1.6666654611e-1))
COSCOF = (_f(2.443315711809948e-005), _f(-1.388731625493765e-003), _f(4.166664568298827e-002))
FOPI = _f(1.27323954473516)  # 4 / pi
MIN_NORM_POS = np.array([0x00800000], dtype=np.int32).view(np.float32)[0]
ONE, HALF = _f(1.0), _f(0.5)


def _bits(x: F32) -> I32:
    return x.view(np.int32)


def _float(i: I32) -> F32:
    return i.view(np.float32)


def log256_ps(x: F32) -> F32:
    """avx_mathfun.h ``log256_ps`` for positive inputs (torch only passes 1 - u > 0)."""
    x = np.maximum(x, MIN_NORM_POS)
    imm0 = (_bits(x).view(np.uint32) >> np.uint32(23)).astype(np.int32)
    x = _float((_bits(x) & np.int32(~0x7F800000)) | np.int32(0x3F000000))  # | 0.5f
    e = (imm0 - np.int32(0x7F)).astype(np.float32)
    e = e + ONE
    mask = x < SQRTHF
    tmp = np.where(mask, x, _f(0.0))
    x = x - ONE
    e = e - np.where(mask, ONE, _f(0.0))
    x = x + tmp
    z = x * x
    y = np.full_like(x, LOG_P[0])
    for p in LOG_P[1:]:
        y = fma32(y, x, p)  # y = y * x; y = y + p
    y = y * x
    y = fma32(y, z, e * LOG_Q1)  # y = y * z; y = y + e * q1
    y = y - z * HALF
    tmp = e * LOG_Q2
    x = x + y
    return x + tmp


def sincos256_ps(x: F32) -> tuple[F32, F32]:
    """avx_mathfun.h ``sincos256_ps``: (sin x, cos x)."""
    sign_sin = _bits(x) & np.int32(-0x80000000)
    x = np.abs(x)
    y = x * FOPI
    j = y.astype(np.int32)  # cvttps: truncation
    j = (j + np.int32(1)) & np.int32(~1)
    y = j.astype(np.float32)
    swap_sign_sin = (j & np.int32(4)) << np.int32(29)
    poly_mask = (j & np.int32(2)) == 0
    x = fma32(y, MINUS_DP1, x)
    x = fma32(y, MINUS_DP2, x)
    x = fma32(y, MINUS_DP3, x)
    sign_cos = (~(j - np.int32(2)) & np.int32(4)) << np.int32(29)
    sign_sin = sign_sin ^ swap_sign_sin
    z = x * x
    c = fma32(COSCOF[0], z, COSCOF[1])
    c = fma32(c, z, COSCOF[2])
    c = c * z
    c = fma32(c, z, -(z * HALF))  # y = y * z; y = y - z * 0.5
    c = c + ONE
    s = fma32(SINCOF[0], z, SINCOF[1])
    s = fma32(s, z, SINCOF[2])
    s = s * z
    s = fma32(s, x, x)  # y2 = y2 * x; y2 = y2 + x
    zero = _f(0.0)
    ysin2 = np.where(poly_mask, s, zero)
    ysin1 = np.where(poly_mask, zero, c)
    s = s - ysin2
    c = c - ysin1
    sin = ysin1 + ysin2
    cos = c + s
    return _float(_bits(sin) ^ sign_sin), _float(_bits(cos) ^ sign_cos)


TWO_PI_F32 = _f(2.0 * np.pi)  # _mm256_set1_ps(2.0f * c10::pi<double>)


def normal_fill_16_avx2(d: F32, mean: float, std: float) -> F32:
    """``NormalFill16<float>`` (AVX2) on (k, 16) uniforms: ``u1 = 1 - d[:8]``,
    ``r = sqrt(-2 log256_ps(u1))``, ``theta = 2pi_f * d[8:]``, ``fmadd(r cos, std, mean)`` and
    ``fmadd(r sin, std, mean)``."""
    u1 = ONE - d[:, :8]
    radius = np.sqrt(_f(-2) * log256_ps(u1))
    sin, cos = sincos256_ps(TWO_PI_F32 * d[:, 8:])
    out = np.empty_like(d)
    out[:, :8] = fma32(radius * cos, std, mean)
    out[:, 8:] = fma32(radius * sin, std, mean)
    return out
