"""Shortest round-trip decimals of float32, float16 and bfloat16 arrays, vectorised.

For a value ``x`` of a binary dtype ``T`` we look for the decimal ``d = m * 10**k`` with the
fewest significant digits such that ``T(double(d)) == x``: ``double`` is the correctly
rounded decimal-to-float64 conversion every JSON reader performs (RFC 8259 numbers read as
IEEE doubles), ``T`` the round-to-nearest-even cast the client then applies (numpy's for
float32/float16, ml_dtypes' for bfloat16). Among the shortest candidates the one nearest
to ``x`` wins (ties: the smaller).

Method, for every element at once with numpy:

* ``e = floor(log10(|x|))`` by a binary search in a table of the doubles nearest to
  ``10**e`` (exact: no such double is representable in these dtypes for ``e < 0``);
* at ``p`` significant digits, ``k = e - p + 1`` and the two candidates are ``floor`` and
  ``ceil`` of ``|x| / 10**k`` times ``10**k``. If any ``p``-digit decimal round-trips, one of
  these two does, and if ``p`` digits round-trip so do ``p + 1`` (the round-trip set is an
  interval containing ``x``), so per element we start at ``P - 1`` digits and walk down
  while candidates round-trip, or up until one does (``P``: digits that always suffice);
* ``double(m * 10**k)`` is computed exactly as one correctly rounded IEEE multiplication or
  division of two exact doubles when ``|k| <= 22`` (Clinger's fast path; ``m < 2**53``).
  Elements whose ``k`` can leave that range (``|x|`` below ~1e-14 or above ~1e22) take a
  *wide* path: a chain of exact powers with at most 1.5 ulp error, and any candidate whose
  cast is not the same for the whole +-4 ulp neighbourhood is settled exactly with Python's
  correctly rounded ``float(str)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
from numpy.typing import NDArray

from app.core.dtypes import finfo

Float64Array = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_FAST = 22  # 10**k is an exact double for 0 <= k <= 22
_K_MIN, _K_MAX = -3 * _FAST, 2 * _FAST  # the k whose 10**k the factor tables get right
_E_MIN, _E_MAX = -60, 45  # decade table


def _exact_pow10(k: NDArray[np.int64]) -> Float64Array:
    powers: Float64Array = np.array([10.0**i for i in range(_FAST + 1)])
    return powers[np.clip(k, 0, _FAST)]


_KS: IntArray = np.arange(_K_MIN, _K_MAX + 1, dtype=np.int64)
_UP = np.maximum(_KS, 0)
_DOWN = np.maximum(-_KS, 0)
# 10**k == MUL1 * MUL2 / (DIV1 * DIV2 * DIV3), each factor an exact double; for |k| <= 22
# all but one factor are 1, so m * 10**k costs exactly one rounding.
_MUL1 = _exact_pow10(_UP)
_MUL2 = _exact_pow10(_UP - _FAST)
_DIV1 = _exact_pow10(_DOWN)
_DIV2 = _exact_pow10(_DOWN - _FAST)
_DIV3 = _exact_pow10(_DOWN - 2 * _FAST)
_DECADES: Float64Array = np.array([float(f"1e{e}") for e in range(_E_MIN, _E_MAX + 1)])
_POW10_U64: NDArray[np.uint64] = np.array([10**i for i in range(20)], dtype=np.uint64)


@dataclass(frozen=True)
class FloatSpec:
    """What the search needs to know about one binary floating-point dtype."""

    dtype: np.dtype[Any]
    uint: np.dtype[Any]  # unsigned integer dtype of the same width, for bit views
    sign_bit: int
    max_digits: int  # P: significant digits that always round-trip
    min_exponent: int  # decimal exponent of the smallest subnormal
    max_exponent: int  # decimal exponent of the largest finite value


@functools.cache
def float_spec(dtype: np.dtype[Any]) -> FloatSpec:
    """The :class:`FloatSpec` of float32, float16 or bfloat16 (others: ``TypeError``)."""
    if dtype not in (np.dtype(np.float32), np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)):
        raise TypeError(f"shortest decimals need float32, float16 or bfloat16, not {dtype}")
    info = finfo(dtype)
    bits = dtype.itemsize * 8
    # (nmant + 1) * log10(2) digits distinguish neighbours; one more always round-trips.
    max_digits = int(np.ceil((int(info.nmant) + 1) * np.log10(2.0))) + 1
    return FloatSpec(
        dtype=dtype,
        uint=np.dtype(f"<u{dtype.itemsize}"),
        sign_bit=1 << (bits - 1),
        max_digits=max_digits,
        min_exponent=int(np.floor(np.log10(float(info.smallest_subnormal)))),
        max_exponent=int(np.floor(np.log10(float(info.max)))),
    )


@dataclass(frozen=True)
class Decimals:
    """``(-1)**negative * 0.d1d2...dn * 10**(exponent + 1)`` for each element.

    ``digits`` holds the integer ``d1...dn`` without trailing zeros (0 for a zero, with
    ``ndigits`` 1 and ``exponent`` 0), ``exponent`` the scientific exponent ``E`` of
    ``d1.d2...dn * 10**E``.
    """

    negative: BoolArray
    digits: NDArray[np.uint64]
    ndigits: IntArray
    exponent: IntArray


def decade(a: Float64Array) -> IntArray:
    """``floor(log10(a))`` for positive doubles exactly representable in the dtypes here."""
    index: IntArray = np.searchsorted(_DECADES, a, side="right").astype(np.int64)
    return index - 1 + _E_MIN


def _times_pow10(m: Float64Array, i: IntArray, wide: bool) -> Float64Array:
    """``m * 10**k`` (``i = k - _K_MIN``): exact rounding unless ``wide``."""
    if not wide:
        out: Float64Array = m * _MUL1[i] / _DIV1[i]
        return out
    out = m * _MUL1[i] * _MUL2[i] / _DIV1[i] / _DIV2[i] / _DIV3[i]
    return out


def _cast_bits(values: Float64Array, spec: FloatSpec) -> NDArray[Any]:
    with np.errstate(over="ignore"):
        return values.astype(spec.dtype).view(spec.uint)


def _exact_roundtrip(m: float, k: int, target: int, spec: FloatSpec) -> bool:
    value = float(f"{int(m)}e{int(k)}")  # correctly rounded, like a JSON reader
    with np.errstate(over="ignore"):
        cast = np.array(value).astype(spec.dtype).view(spec.uint)
    return int(cast) == target


def _roundtrips(
    m: Float64Array, k: IntArray, abits: NDArray[Any], spec: FloatSpec, wide: bool
) -> BoolArray:
    """Whether ``T(double(m * 10**k))`` has the bits ``abits``."""
    i = k - _K_MIN
    value = _times_pow10(m, i, wide)
    ok: BoolArray = _cast_bits(value, spec) == abits
    if wide:
        below = _cast_bits(value * (1.0 - 2.0**-50), spec)
        above = _cast_bits(value * (1.0 + 2.0**-50), spec)
        near = np.flatnonzero(below != above)  # within ~4 ulp of a rounding boundary
        if near.size:  # rare; deduplicated so a constant tensor costs one exact check
            keys = np.stack([m[near], k[near], abits[near]], axis=1).astype(np.float64)
            unique, inverse = np.unique(keys, axis=0, return_inverse=True)
            exact = [_exact_roundtrip(float(u[0]), int(u[1]), int(u[2]), spec) for u in unique]
            ok[near] = np.array(exact, np.bool_)[inverse.reshape(-1)]
    return ok


def _evaluate(
    a: Float64Array,
    abits: NDArray[Any],
    e: IntArray,
    p: IntArray,
    *,
    spec: FloatSpec,
    wide: bool,
) -> tuple[BoolArray, Float64Array, IntArray]:
    """Try ``p`` significant digits: (some candidate round-trips, its mantissa, its ``k``)."""
    k = e - p + 1
    i = k - _K_MIN
    if wide:
        scaled = a * (_DIV1[i] * _DIV2[i] * _DIV3[i]) / (_MUL1[i] * _MUL2[i])
    else:
        scaled = a * _DIV1[i] / _MUL1[i]
    lo = np.floor(scaled)
    hi = lo + 1.0
    ok_lo = _roundtrips(lo, k, abits, spec, wide)
    ok_hi = _roundtrips(hi, k, abits, spec, wide)
    # Both round-trip: keep the nearer (scaled distance; the tie goes to lo).
    use_lo = ok_lo & ~(ok_hi & (hi - scaled < scaled - lo))
    m: Float64Array = np.where(use_lo, lo, hi)
    return ok_lo | ok_hi, m, k


def _search(
    a: Float64Array,
    abits: NDArray[Any],
    e: IntArray,
    spec: FloatSpec,
    wide: bool,
) -> tuple[Float64Array, IntArray]:
    """Per element, the shortest round-tripping ``(m, k)`` (galloping from ``P - 1``)."""
    n = a.size
    best_m = np.zeros(n, np.float64)
    best_k = np.zeros(n, np.int64)
    p = np.full(n, spec.max_digits - 1, np.int64)
    down = np.zeros(n, np.bool_)
    active = np.arange(n)
    first = True
    while active.size:
        ok, m, k = _evaluate(a[active], abits[active], e[active], p[active], spec=spec, wide=wide)
        best_m[active[ok]] = m[ok]
        best_k[active[ok]] = k[ok]
        if first:
            down = ok.copy()  # round-trips at P - 1: look for fewer digits, else more
            first = False
        going_down = down[active]
        stuck = ~going_down & ~ok & (p[active] >= spec.max_digits)
        if stuck.any():  # pragma: no cover - P digits always round-trip
            raise AssertionError(f"no {spec.max_digits}-digit decimal round-trips")
        keep = np.where(going_down, ok & (p[active] > 1), ~ok)
        p[active] += np.where(going_down, -1, 1)
        active = active[keep]
    return best_m, best_k


# An array whose sample shows at most this many distinct bit patterns (a constant init, a norm's
# ones, a few repeated values) is searched once per distinct pattern, then gathered.
FEW_VALUES_SAMPLE = 256
FEW_VALUES_MAX = 64
FEW_VALUES_MIN_SIZE = 1024


def shortest_decimals(values: NDArray[Any]) -> Decimals:
    """Shortest round-trip decimals of a 1-d float32/float16/bfloat16 array (finite only).

    Each element's decimals depend on its bits alone, so an array of few distinct bit
    patterns is searched once per pattern and gathered: the same result, without the search
    per element (a constant 256 x 256 float32 array: 29 ms -> about 1 ms).
    """
    if values.size >= FEW_VALUES_MIN_SIZE:
        bits = np.ascontiguousarray(values).view(float_spec(values.dtype).uint)
        step = values.size // FEW_VALUES_SAMPLE
        if np.unique(bits[::step]).size <= FEW_VALUES_MAX:
            patterns, first, inverse = np.unique(bits, return_index=True, return_inverse=True)
            if patterns.size <= FEW_VALUES_MAX:
                once = _shortest_decimals(np.ascontiguousarray(values)[first])
                return Decimals(
                    once.negative[inverse],
                    once.digits[inverse],
                    once.ndigits[inverse],
                    once.exponent[inverse],
                )
    return _shortest_decimals(values)


def _shortest_decimals(values: NDArray[Any]) -> Decimals:
    spec = float_spec(values.dtype)
    bits = np.ascontiguousarray(values).view(spec.uint)
    negative: BoolArray = (bits & spec.sign_bit) != 0
    abits = bits & (spec.sign_bit - 1)
    a = np.abs(values.astype(np.float64))
    if not np.isfinite(a).all():
        raise ValueError("non-finite values (NaN or infinity) cannot be written as JSON numbers")

    m = np.zeros(a.size, np.float64)
    k = np.zeros(a.size, np.int64)
    nonzero = np.flatnonzero(abits)
    e = decade(a[nonzero])
    fast = (e - (spec.max_digits - 1) >= -_FAST) & (e <= _FAST)
    for wide in (False, True):
        idx = nonzero[fast != wide]
        if idx.size:
            m[idx], k[idx] = _search(a[idx], abits[idx], e[fast != wide], spec, wide)

    digits = m.astype(np.uint64)
    # A ceil candidate can end in zeros (e.g. 9.99 -> 10.0): strip them.
    todo = np.flatnonzero(digits % 10 == 0)
    todo = todo[digits[todo] != 0]
    while todo.size:
        digits[todo] //= np.uint64(10)
        k[todo] += 1
        todo = todo[digits[todo] % 10 == 0]
    ndigits = np.maximum(np.searchsorted(_POW10_U64, digits, side="right"), 1).astype(np.int64)
    exponent = np.where(digits == 0, 0, k + ndigits - 1)
    return Decimals(negative, digits, ndigits, exponent)
