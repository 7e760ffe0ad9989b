"""Standard normal samples from raw PCG64 words, built only from cross-machine-stable operations.

Why
---
weightinit promises the same bytes for the same request on every machine.  numpy's float32 and
float64 ``log``/``exp``/``sin``/``cos`` (and Python's ``math`` ones) return different bits on CPUs
with different features (AVX-512 vs AVX2 vs baseline, FMA), so they never touch a value here.
What is used instead gives the same bits everywhere: integer shifts/masks/adds on the raw words,
``+ - * /`` and ``sqrt`` (correctly rounded by IEEE 754), integer-to-float and float-to-float casts
(one round-to-nearest-even), ``frexp``/``ldexp``, views of float bits as integers, and short
polynomials evaluated one numpy ufunc at a time (numpy never fuses a multiply-add, so there is no
FMA contraction).  No table is gathered (gathers are slow in numpy, and numpy's own ziggurat is
slow for float32).  Every constant is exact or was computed with mpmath and rounded once:
``bench/derive_normal_coefficients.py`` prints them and ``tests/core/test_normal.py`` checks that
the literals below equal its output.  No intermediate of the sampler is ever subnormal, so
flush-to-zero modes cannot change it either.

Algorithm: Box-Muller, no rejection
-----------------------------------
For pair ``k``: ``r = sqrt(-2 ln u1)``, ``theta = 2 pi u2``,

    out[2k] = r * cos(theta),    out[2k + 1] = r * sin(theta);

an odd ``n`` computes its last pair and keeps only the cos element.  Output ``j`` depends only on
the word(s) of pair ``j // 2``, so results are prefix-stable: the first ``m`` values of a request
for ``n > m`` values are the values of a request for ``m``; ``n`` values consume exactly
``raw_words_needed(n, dtype)`` words.

Bit layout (frozen forever as part of the stream algorithm "blocks-v1")
-----------------------------------------------------------------------
Words are the uint64 *values* that ``numpy.random.PCG64().random_raw`` returns; bits are taken
with shifts and masks of those values, so the machine's byte order does not matter.  ``W`` is the
word size used for one uniform:

* float32 (``W = 32``), ONE word per pair, ``w = raw[k]``:
  ``a = w & 0xFFFFFFFF`` (low half) and ``b = w >> 32`` (high half).
* float64 (``W = 64``), TWO words per pair: ``a = raw[2k]``, ``b = raw[2k + 1]``.

Then ``u1 = (a + 1) / 2**W`` in ``[2**-W, 1]`` (never 0, so every value is finite) and
``theta = 2 pi b / 2**W``.  The largest magnitude is ``sqrt(2 W ln 2)``: 6.66 for float32 and
9.42 for float64; ``a = 2**W - 1`` gives ``u1 = 1``, ``r = 0`` and a (signed) zero pair.

The values are those of the exact operation sequence in ``_pairs32`` / ``_pairs64`` (every
rounding is part of the definition); it is summarized here.

Logarithm.  ``x = a + 1``; the float ``x~ = float(a) + 1`` chooses ``e`` with ``x~ / 2**e`` in
``[sqrt(1/2), sqrt(2))`` (the fdlibm bit trick) and ``k = W - e`` in ``[0, W]``.  Then
``D = x - 2**e = a - ((2**W - 1) >> k)`` is computed EXACTLY in wrapping W-bit integers (numpy
defines a shift by ``>= W`` as 0) and converted once, so ``f = D / 2**e = x / 2**e - 1`` is
correctly rounded even when ``u1`` is within ``2**-W`` of 1, where ``ln u1`` is tiny and needs
its relative accuracy.  With ``ln u1 = log1p(f) - k ln 2``, ``s = f/(2 + f)``, ``z = s*s``:

* float32: ``g = 2f = float(D) * 2**(1 - e)``, ``s = g/(4 + g)``,
  ``L = 2 log1p(f) = g - s*(g - z*P(z))`` with ``P`` of degree 2 (``_LOG32``), and
  ``-2 ln u1 = ((k * 2ln2_hi) - L) + k * 2ln2_lo`` (``k * 2ln2_hi`` exact);
* float64: fdlibm's ``ln u1 = (((s*(hfsq + z*T(z)) + (-k)*ln2_lo) - hfsq) + f) + (-k)*ln2_hi``
  with ``hfsq = (0.5 f) f`` and ``T`` of degree 6 (``_LOG64``); then ``-2 ln u1``.

Sine and cosine.  The quadrant is rounded: ``b = q 2**(W-2) + m`` with ``m`` in
``[-2**(W-3), 2**(W-3))``, so ``theta = q pi/2 + x pi/4`` with ``x = m / 2**(W-3)`` in
``[-1, 1)``.  In integers: ``v = b + 2**(W-3)`` (wrapping); bit ``W-1`` of ``v`` is ``q >= 2``,
bit ``W-2`` is ``q`` odd; ``int_W(b << 2) = 2**(W-1) x`` (two's complement), converted once and
scaled by ``2**(1-W)`` (exact).  ``x`` is negated for odd ``q`` (sign bit), then
``S = sin(pi/4 x) = x P_s(x*x)`` and ``C = cos(pi/4 x) = 1 + (x*x) P_c(x*x)`` (Horner; degree 3
and 3 for float32, ``_SIN32``/``_COS32``; 6 and 6 for float64, ``_SIN64``/``_COS64``).  ``(C, S)``
is swapped for odd ``q`` (an XOR bit blend, no branch) and ``r`` takes the sign of ``q >= 2``:

    q = 0: (C, S)    q = 1: (S', C)    q = 2: -(C, S)    q = 3: -(S', C)    (S' = sin(-pi/4 x))

and finally ``out[2k] = r * first``, ``out[2k + 1] = r * second``.

Accuracy (vs mpmath, tests/core/test_normal.py)
-----------------------------------------------
``stable_log`` and ``stable_exp``: at most 1 ulp (observed max 0.78 and 0.86 ulp on 10**5
points).  Box-Muller values vs ``sqrt(-2 ln u1) (cos, sin)(theta)`` of the exact ``u1``,
``theta`` above: observed max 3.8 float32 ulp and 3.7 float64 ulp over 1.8e5 random words each
(``r`` alone: 1.2 and 1.1 ulp); the tests assert <= 4 ulp on fixed word sets with edge cases.

Speed: about 1 GiB/s of float32 and 0.65-0.75 GiB/s of float64 on one core, PCG64 included
(``python bench/bench_normal.py``).  Pairs go in chunks with preallocated scratch, in-place
ufuncs, positional ``out`` and 0-d array constants (which roughly halve numpy's per-call cost).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidParameterError

__all__ = ["raw_words_needed", "stable_exp", "stable_log", "standard_normal_from_raw"]

FloatDType = type[np.float32] | type[np.float64]

# ---------------------------------------------------------------------------------------------
# Frozen constants.  Printed by bench/derive_normal_coefficients.py (mpmath Chebyshev fits,
# rounded once to float32 / float64); tests/core/test_normal.py asserts they are equal.
# Coefficients are in ascending powers.
# ---------------------------------------------------------------------------------------------
# (4 atanh(sqrt z)/sqrt z - 4)/z on [0, 0.02944], float32
_LOG32 = (1.3333337306976318, 0.7997755408287048, 0.5916008949279785)
# sin(pi/4 sqrt y)/sqrt y on [0, 1], float32
_SIN32 = (0.7853981852531433, -0.08074543625116348, 0.0024900068528950214, -3.595429006963968e-05)
# (cos(pi/4 sqrt y) - 1)/y on [0, 1], float32
_COS32 = (-0.3084251284599304, 0.01585433818399906, -0.00032596138771623373, 3.541952764862799e-06)
# (2 atanh(sqrt z)/sqrt z - 2)/z on [0, 0.02944], float64
_LOG64 = (
    0.666666666666667,
    0.3999999999989945,
    0.28571428626001427,
    0.22222211130560726,
    0.18182889433757515,
    0.15331711346672997,
    0.14616576421644387,
)
# sin(pi/4 sqrt y)/sqrt y on [0, 1], float64
_SIN64 = (
    0.7853981633974483,
    -0.08074551218828054,
    0.002490394570188844,
    -3.657620415891387e-05,
    3.133616225433416e-07,
    -1.7571500746983935e-09,
    6.877360573166326e-12,
)
# (cos(pi/4 sqrt y) - 1)/y on [0, 1], float64
_COS64 = (
    -0.30842513753404244,
    0.015854344243815488,
    -0.0003259918869271996,
    3.590860447448612e-06,
    -2.4611366238309744e-08,
    1.1500679700940496e-10,
    -3.863156948832656e-13,
)
# (r coth(r/2) - 2)/r**2 as a polynomial in z = r**2 on [0, 0.1202], float64
_EXP64 = (
    0.1666666666666666,
    -0.0027777777777563957,
    6.613756471400626e-05,
    -1.653405968872539e-06,
    4.143749871385379e-08,
)
_LN2_HI = 0.6931471806019545  # ln 2 rounded to 32 bits
_LN2_LO = -4.2009150726810846e-11  # ln 2 - _LN2_HI rounded to 53 bits
_LN2X2_HI32 = 1.38629150390625  # 2 ln 2 rounded to 16 bits
_LN2X2_LO32 = 2.857213530660374e-06  # 2 ln 2 - _LN2X2_HI32 rounded to 24 bits

_INV_LN2 = 1.4426950408889634  # 1/ln 2 rounded to 53 bits (only chooses k in stable_exp)
_SQRT_HALF = 0.7071067811865476  # sqrt(1/2) rounded to 53 bits (only chooses the reduction)
_EXP_MAX = 709.782712893384  # ln(largest float64) rounded: the largest x with exp(x) finite

# Exact constants.
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52: (t + M) - M rounds t to an integer, ties even
_EXP_MIN = -746.0  # exp(x) < 2**-1075 below this: the correctly rounded result is +0.0

# Integer magic for the exponent of x = a + 1, see _pairs32/_pairs64.
_SQRTH32_BITS = 0x3F3504F3  # float32 sqrt(1/2)
_SQRTH64_BITS = 0x3FE6A09E667F3BCD  # float64 sqrt(1/2)
_K32_MAGIC = 33 * 2**23 - 1 + _SQRTH32_BITS  # (magic - bits(xf)) >> 23 == 32 - e
_K64_MAGIC = 65 * 2**52 - 1 + _SQRTH64_BITS  # (magic - bits(xf)) >> 52 == 64 - e

# Pairs per chunk (8 float32 / 9 float64 scratch rows of this length).  Larger chunks amortize
# numpy's per-call overhead (about 0.2 us per ufunc call); these measured fastest.
_CHUNK32 = 32768
_CHUNK64 = 16384

_U32 = np.uint32
_I32 = np.int32
_U64 = np.uint64
_I64 = np.int64


def _dtype_of(dtype: object) -> np.dtype[Any]:
    dt: np.dtype[Any] | None = None
    if dtype is not None:  # np.dtype(None) would mean float64
        try:
            dt = np.dtype(dtype)  # type: ignore[call-overload]
        except TypeError:
            dt = None
    if dt is None or dt.isbuiltin != 1 or dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidParameterError(
            f"dtype must be numpy.float32 or numpy.float64, not {dtype!r}.", field="dtype"
        )
    return dt


def _count_of(n: object) -> int:
    if isinstance(n, bool | np.bool_):
        raise InvalidParameterError("n must be an integer, not a bool.", field="n")
    try:
        value = operator.index(n)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidParameterError(f"n must be an integer, not {n!r}.", field="n") from None
    if value < 0:
        raise InvalidParameterError(f"n must be >= 0, not {value}.", field="n")
    return value


def raw_words_needed(n: int, dtype: FloatDType) -> int:
    """How many uint64 words ``standard_normal_from_raw(raw, n, dtype)`` consumes.

    ``ceil(n/2)`` for float32 (one word per pair), ``2*ceil(n/2)`` for float64.
    """
    count = _count_of(n)
    dt = _dtype_of(dtype)
    pairs = (count + 1) // 2
    return pairs if dt == np.dtype(np.float32) else 2 * pairs


def standard_normal_from_raw(
    raw: NDArray[np.uint64], n: int, dtype: FloatDType
) -> NDArray[np.floating[Any]]:
    """``n`` standard normal values of ``dtype`` from raw uint64 words (see module docstring).

    A pure function of ``raw[:raw_words_needed(n, dtype)]`` (later words are ignored); the
    result is a new C-contiguous array of length ``n``.
    """
    count = _count_of(n)
    dt = _dtype_of(dtype)
    if not isinstance(raw, np.ndarray) or raw.dtype.kind != "u" or raw.dtype.itemsize != 8:
        raise InvalidParameterError("raw must be a numpy array of uint64 words.", field="raw")
    if raw.ndim != 1:
        raise InvalidParameterError(
            f"raw must be one-dimensional, not of shape {raw.shape}.", field="raw"
        )
    needed = raw_words_needed(count, dt.type)
    if raw.shape[0] < needed:
        raise InvalidParameterError(
            f"{count} {dt.name} values need {needed} raw words, got {raw.shape[0]}.", field="raw"
        )
    # Native-order contiguous uint64 values (a copy only if the input is not already that).
    words = np.ascontiguousarray(raw[:needed], dtype=np.uint64)
    out = np.empty(count, dtype=dt)
    if dt == np.dtype(np.float32):
        _fill(words, out, 1, _CHUNK32, 8, np.float32, _pairs32)
    else:
        _fill(words, out, 2, _CHUNK64, 9, np.float64, _pairs64)
    return out


def _fill(
    words: NDArray[np.uint64],
    out: NDArray[Any],
    words_per_pair: int,
    chunk: int,
    rows: int,
    ftype: FloatDType,
    kernel: Callable[[NDArray[np.uint64], NDArray[Any], NDArray[Any]], None],
) -> None:
    count = out.shape[0]
    pairs = (count + 1) // 2
    if pairs == 0:
        return
    size = min(chunk, pairs)
    scratch = np.empty((rows, size), dtype=ftype)
    for p0 in range(0, pairs, size):
        p1 = min(p0 + size, pairs)
        w = words[p0 * words_per_pair : p1 * words_per_pair]
        if 2 * p1 <= count:
            kernel(w, out[2 * p0 : 2 * p1], scratch[:, : p1 - p0])
        else:  # the last pair of an odd n: compute it whole, keep the cos element
            tmp = np.empty(2 * (p1 - p0), dtype=ftype)
            kernel(w, tmp, scratch[:, : p1 - p0])
            out[2 * p0 :] = tmp[: count - 2 * p0]


def _k32(value: float | int, dtype: Any = np.float32) -> NDArray[Any]:
    """A 0-d array constant: ufuncs take these faster than Python or numpy scalars."""
    return np.array(value, dtype=dtype)


def _k64(value: float | int, dtype: Any = np.float64) -> NDArray[Any]:
    return np.array(value, dtype=dtype)


_C_LOG32 = tuple(_k32(c) for c in _LOG32)
_C_SIN32 = tuple(_k32(c) for c in _SIN32)
_C_COS32 = tuple(_k32(c) for c in _COS32)
_C_LOG64 = tuple(_k64(c) for c in _LOG64)
_C_SIN64 = tuple(_k64(c) for c in _SIN64)
_C_COS64 = tuple(_k64(c) for c in _COS64)
_C_EXP64 = tuple(_k64(c) for c in _EXP64)
_F32_ONE, _F32_FOUR = _k32(1.0), _k32(4.0)
_F32_2LN2_HI, _F32_2LN2_LO = _k32(_LN2X2_HI32), _k32(_LN2X2_LO32)
_F32_2M31 = _k32(2.0**-31)
_I32_KMAGIC, _I32_23, _I32_31, _I32_96 = (_k32(v, np.int32) for v in (_K32_MAGIC, 23, 31, 96))
_U32_ONES, _U32_SIGN, _U32_EIGHTH = (_k32(v, np.uint32) for v in (0xFFFFFFFF, 1 << 31, 1 << 29))
_U32_1, _U32_2 = _k32(1, np.uint32), _k32(2, np.uint32)
_U64_32 = _k64(32, np.uint64)
_F64_ONE, _F64_TWO, _F64_HALF, _F64_M2 = _k64(1.0), _k64(2.0), _k64(0.5), _k64(-2.0)
_F64_2M63 = _k64(2.0**-63)
_F64_LN2_HI, _F64_LN2_LO = _k64(_LN2_HI), _k64(_LN2_LO)
_I64_KMAGIC, _I64_52, _I64_63, _I64_959 = (_k64(v, np.int64) for v in (_K64_MAGIC, 52, 63, 959))
_U64_ONES, _U64_SIGN, _U64_EIGHTH = (_k64(v, np.uint64) for v in (2**64 - 1, 1 << 63, 1 << 61))
_U64_1, _U64_2 = _k64(1, np.uint64), _k64(2, np.uint64)


def _pairs32(w: NDArray[np.uint64], out: NDArray[np.float32], s: NDArray[np.float32]) -> None:
    """float32 Box-Muller for len(w) pairs; out gets 2*len(w) values; s is (8, len(w)) scratch.

    Ufuncs take their output positionally and 0-d array constants: both save call overhead.
    """
    a_u, b_u, t1, t2, t3, t4, t5, rr = s
    a, b = a_u.view(_U32), b_u.view(_U32)
    t1u, t1i = t1.view(_U32), t1.view(_I32)
    t2u, t2i = t2.view(_U32), t2.view(_I32)
    t3u, t4u, t5u, rru = t3.view(_U32), t4.view(_U32), t5.view(_U32), rr.view(_U32)
    mul, add, sub = np.multiply, np.add, np.subtract
    np.copyto(a, w, casting="unsafe")  # a = low halves (uint64 -> uint32 keeps the low bits)
    np.right_shift(w, _U64_32, b, casting="unsafe")  # b = high halves

    # ---- r = sqrt(-2 ln u1), u1 = (a + 1) / 2**32 ----
    np.copyto(t1, a, casting="unsafe")  # float32(a), one rounding
    add(t1, _F32_ONE, t1)  # ~ x = a + 1, only to choose the exponent
    sub(_I32_KMAGIC, t1i, t1i)
    np.right_shift(t1i, _I32_23, t1i)  # k = 32 - e, in [0, 32]
    np.right_shift(_U32_ONES, t1u, t2u)  # 2**e - 1 (numpy: a shift by >= 32 gives 0)
    sub(a, t2u, t2u)  # D = a + 1 - 2**e, exact (wrapping uint32, read as int32)
    np.copyto(t3, t2i, casting="unsafe")  # float32(D), one rounding
    add(t1i, _I32_96, t2i)
    np.left_shift(t2i, _I32_23, t2i)  # float32 2**(1 - e)
    mul(t3, t2, t3)  # g = 2f = 2 (x / 2**e - 1), correctly rounded
    add(t3, _F32_FOUR, t2)
    np.divide(t3, t2, t2)  # s = g / (4 + g) = f / (2 + f)
    mul(t2, t2, t4)  # z = s*s
    c0, c1, c2 = _C_LOG32
    mul(t4, c2, t5)
    add(t5, c1, t5)
    mul(t5, t4, t5)
    add(t5, c0, t5)
    mul(t5, t4, t5)  # R = z P(z) = 4 atanh(s)/s - 4
    sub(t3, t5, t5)
    mul(t5, t2, t5)
    sub(t3, t5, t4)  # 2 log1p(f) = g - s (g - R)
    np.copyto(t3, t1i, casting="unsafe")  # float(k), exact
    mul(t3, _F32_2LN2_HI, rr)  # exact
    sub(rr, t4, rr)
    mul(t3, _F32_2LN2_LO, t3)
    add(rr, t3, rr)  # -2 ln u1 = 2 k ln 2 - 2 log1p(f)
    np.sqrt(rr, rr)

    # ---- theta = 2 pi b / 2**32 = q pi/2 + x pi/4 ----
    add(b, _U32_EIGHTH, t1u)  # v: bit 31 = (q >= 2), bit 30 = (q odd)
    np.left_shift(t1u, _U32_1, t2u)  # bit 31 = (q odd)
    np.bitwise_and(t1u, _U32_SIGN, t1u)
    np.bitwise_xor(rru, t1u, rru)  # r takes the sign of (q >= 2)
    np.left_shift(b, _U32_2, a)  # int32(b << 2) = 2**31 x
    np.right_shift(t2i, _I32_31, b.view(_I32))  # blend mask: all ones for odd q
    np.bitwise_and(t2u, _U32_SIGN, t2u)
    np.copyto(t1, a.view(_I32), casting="unsafe")  # one rounding
    mul(t1, _F32_2M31, t1)
    np.bitwise_xor(t1u, t2u, t1u)  # x, negated for odd q
    mul(t1, t1, t2)  # y = x*x
    s0, s1, s2, s3 = _C_SIN32
    mul(t2, s3, t3)
    add(t3, s2, t3)
    mul(t3, t2, t3)
    add(t3, s1, t3)
    mul(t3, t2, t3)
    add(t3, s0, t3)
    mul(t3, t1, t3)  # S = sin(pi/4 x)
    k0, k1, k2, k3 = _C_COS32
    mul(t2, k3, t4)
    add(t4, k2, t4)
    mul(t4, t2, t4)
    add(t4, k1, t4)
    mul(t4, t2, t4)
    add(t4, k0, t4)
    mul(t4, t2, t4)
    add(t4, _F32_ONE, t4)  # C = cos(pi/4 x)
    np.bitwise_xor(t3u, t4u, t5u)
    np.bitwise_and(t5u, b, t5u)
    np.bitwise_xor(t4u, t5u, t4u)  # cos output: C, or S' for odd q
    np.bitwise_xor(t3u, t5u, t3u)  # sin output: S, or C for odd q
    mul(rr, t4, out[0::2])
    mul(rr, t3, out[1::2])


def _pairs64(w: NDArray[np.uint64], out: NDArray[np.float64], s: NDArray[np.float64]) -> None:
    """float64 Box-Muller: w has 2 words per pair, out 2 values per pair; s is (9, pairs)."""
    a_f, b_f, t1, t2, t3, t4, t5, t6, rr = s
    a, b = a_f.view(_U64), b_f.view(_U64)
    t1u, t1i = t1.view(_U64), t1.view(_I64)
    t2u, t2i = t2.view(_U64), t2.view(_I64)
    t3u, t4u, t5u, rru = t3.view(_U64), t4.view(_U64), t5.view(_U64), rr.view(_U64)
    mul, add, sub = np.multiply, np.add, np.subtract
    np.copyto(a, w[0::2])
    np.copyto(b, w[1::2])

    # ---- r = sqrt(-2 ln u1), u1 = (a + 1) / 2**64 ----
    np.copyto(t1, a, casting="unsafe")  # float64(a), one rounding
    add(t1, _F64_ONE, t1)  # ~ x = a + 1, only to choose the exponent
    sub(_I64_KMAGIC, t1i, t1i)
    np.right_shift(t1i, _I64_52, t1i)  # k = 64 - e, in [0, 64]
    np.right_shift(_U64_ONES, t1u, t2u)  # 2**e - 1 (numpy: a shift by >= 64 gives 0)
    sub(a, t2u, t2u)  # D = a + 1 - 2**e, exact (wrapping uint64, read as int64)
    np.copyto(t3, t2i, casting="unsafe")  # float64(D), one rounding
    add(t1i, _I64_959, t2i)
    np.left_shift(t2i, _I64_52, t2i)  # float64 2**-e
    mul(t3, t2, t3)  # f = x / 2**e - 1
    np.copyto(t2, t1i, casting="unsafe")  # float(k), exact
    np.negative(t2, t2)
    _ln_reduced(t3, t2, rr, t1, t4, t5, t6)  # ln u1 = log1p(f) - k ln 2
    mul(rr, _F64_M2, rr)
    np.sqrt(rr, rr)

    # ---- theta = 2 pi b / 2**64 = q pi/2 + x pi/4 ----
    add(b, _U64_EIGHTH, t1u)  # v: bit 63 = (q >= 2), bit 62 = (q odd)
    np.left_shift(t1u, _U64_1, t2u)  # bit 63 = (q odd)
    np.bitwise_and(t1u, _U64_SIGN, t1u)
    np.bitwise_xor(rru, t1u, rru)  # r takes the sign of (q >= 2)
    np.left_shift(b, _U64_2, a)  # int64(b << 2) = 2**63 x
    np.right_shift(t2i, _I64_63, b.view(_I64))  # blend mask: all ones for odd q
    np.bitwise_and(t2u, _U64_SIGN, t2u)
    np.copyto(t1, a.view(_I64), casting="unsafe")  # one rounding
    mul(t1, _F64_2M63, t1)
    np.bitwise_xor(t1u, t2u, t1u)  # x, negated for odd q
    mul(t1, t1, t2)  # y = x*x
    _horner(t2, _C_SIN64, t3)
    mul(t3, t1, t3)  # S = sin(pi/4 x)
    _horner(t2, _C_COS64, t4)
    mul(t4, t2, t4)
    add(t4, _F64_ONE, t4)  # C = cos(pi/4 x)
    np.bitwise_xor(t3u, t4u, t5u)
    np.bitwise_and(t5u, b, t5u)
    np.bitwise_xor(t4u, t5u, t4u)  # cos output: C, or S' for odd q
    np.bitwise_xor(t3u, t5u, t3u)  # sin output: S, or C for odd q
    mul(rr, t4, out[0::2])
    mul(rr, t3, out[1::2])


def _horner(
    y: NDArray[np.float64], coeffs: tuple[NDArray[Any], ...], out: NDArray[np.float64]
) -> None:
    """out = sum(coeffs[i] * y**i), Horner's rule, one rounding per ufunc."""
    np.multiply(y, coeffs[-1], out)
    for c in coeffs[-2:0:-1]:
        np.add(out, c, out)
        np.multiply(out, y, out)
    np.add(out, coeffs[0], out)


def _ln_reduced(
    f: NDArray[np.float64],
    k: NDArray[np.float64],
    out: NDArray[np.float64],
    t1: NDArray[np.float64],
    t2: NDArray[np.float64],
    t3: NDArray[np.float64],
    t4: NDArray[np.float64],
) -> None:
    """out = k ln 2 + log1p(f) for f in [sqrt(1/2) - 1, sqrt(2) - 1] and integer-valued k.

    fdlibm's arrangement: ``s = f/(2+f)``, ``z = s*s``, ``hfsq = f*f/2``, ``R = z*T(z)``,
    ``((s*(hfsq + R) + k*ln2_lo) - hfsq + f) + k*ln2_hi``.  t1..t4 are scratch.
    """
    mul, add = np.multiply, np.add
    add(f, _F64_TWO, t1)
    np.divide(f, t1, t1)  # s
    mul(t1, t1, t2)  # z
    _horner(t2, _C_LOG64, t3)
    mul(t3, t2, t3)  # R
    mul(f, _F64_HALF, t4)
    mul(t4, f, t4)  # hfsq
    add(t3, t4, t3)
    mul(t3, t1, t3)  # s*(hfsq + R)
    mul(k, _F64_LN2_LO, t1)
    add(t3, t1, t3)
    np.subtract(t3, t4, t3)
    add(t3, f, t3)
    mul(k, _F64_LN2_HI, t1)  # exact
    add(t3, t1, out)


def stable_log(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Natural log of positive finite float64 values (subnormals included), within 1 ulp.

    Built from frexp (exact), ``+ - * /`` and a polynomial, so it gives the same bits on every
    machine.  Raises :class:`InvalidParameterError` for zero, negative, infinite or NaN input.
    """
    arr = np.asarray(x, dtype=np.float64)
    if not np.all((arr > 0.0) & (arr <= np.finfo(np.float64).max)):
        raise InvalidParameterError("stable_log needs positive finite values.", field="x")
    flat = arr.reshape(-1)
    m, e = np.frexp(flat)  # flat = m * 2**e, m in [1/2, 1), exact (subnormals too)
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)  # exact
    k = e.astype(np.float64) - low  # exact
    f = m - 1.0  # exact: m in [sqrt(1/2), sqrt(2))
    out = np.empty_like(flat)
    scratch = np.empty((4, flat.shape[0]), dtype=np.float64)
    _ln_reduced(f, k, out, *scratch)
    return out.reshape(arr.shape)


def stable_exp(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """exp of float64 values, within 1 ulp, the same bits on every machine.

    The domain is ``x <= 709.78`` (``exp(x)`` finite); results that underflow follow IEEE
    gradual underflow down to ``+0.0`` (every ``x < -745.14`` gives ``+0.0``).  Raises
    :class:`InvalidParameterError` for NaN or ``x > 709.78``.  fdlibm's method: ``x = k ln 2 +
    r``, ``|r| <= ln(2)/2``, ``exp(r) = 1 + r + r c/(2 - c)`` with ``c = r - r*r P(r*r)``, then
    ``ldexp`` (exact, or one correct rounding into the subnormals).
    """
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(arr <= _EXP_MAX):  # also catches NaN
        raise InvalidParameterError(
            f"stable_exp needs values <= {_EXP_MAX} (finite results), not NaN.", field="x"
        )
    t = np.maximum(arr.reshape(-1), _EXP_MIN)
    kf = t * _INV_LN2
    kf += _ROUND_MAGIC
    kf -= _ROUND_MAGIC  # k = round(x / ln 2), ties to even
    hi = kf * _LN2_HI  # exact
    hi = t - hi  # exact (Sterbenz-like; fdlibm)
    lo = kf * _LN2_LO
    r = hi - lo
    z = r * r
    p = np.empty_like(z)
    _horner(z, _C_EXP64, p)
    p *= z
    c = r - p
    num = r * c
    den = 2.0 - c
    num /= den
    y = lo - num
    y -= hi
    y = 1.0 - y
    out = np.ldexp(y, kf.astype(np.int32))
    return out.reshape(arr.shape)
