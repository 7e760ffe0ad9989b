"""float32, float64 and int64 JSON numbers through orjson, byte-identical to the reference.

orjson (``OPT_SERIALIZE_NUMPY``, with the zmij shortest round-trip formatter inside) writes
a tensor's numbers about 25 times faster than ``json.dumps``. Its text is not always that of
:mod:`app.encoders.json_reference`:

* spelling: orjson writes decimal exponents -5 to -9 as ``0.00001``, ``0.000001`` (float32)
  or ``1e-7`` where ``repr`` writes ``1e-05``, ``1e-06``, ``1e-07``, and float32 exponents 13
  to 15 as ``1e+13`` where ``repr`` writes ``10000000000000.0``;
* float32 digits: zmij's are the shortest that a *float32* parse maps back to ``x``, ties
  to even. Ours must survive a *float64 parse, then a float32 cast*, which judges the
  decimals within half a float64 ulp of a midpoint between ``x`` and a neighbour
  differently, and the reference picks between two candidates with a one-rounding test
  (ties, and near ties it misjudges, go to the smaller);
* float64 digits: zmij and ``repr`` (David Gay's dtoa) both give the shortest nearest
  decimal, ties to even, interval ends kept for even significands. They can only part where
  a tie point or an interval end is itself a decimal of at most 18 digits, which needs
  ``x`` to be a multiple of ``2**-25`` below ``1e42``.

So the elements whose text may differ (*suspects*) are found first, orjson writes a sentinel
in their place, and their reference text is spliced in.

Float32 suspects. Let ``x = M * 2**E`` (``M`` the 24-bit significand) lie in a decade whose
9-digit quantum is ``Q = 10**k``. The decimals of at most 9 digits are multiples of ``Q``;
the double-rounding ones lie within half a float64 ulp (``< 1e9 * 2**-53`` in units of
``Q``) of a midpoint ``odd * 2**(E-2) * 10**-k``, and every tie that matters (both
candidates round-trip, so 7 to 9 digits) or near tie the reference can misjudge lies within
``1e9 * 2**-53`` of a multiple of ``Q / 2``, while ``2x / Q = M * 2**(E+1-k) * 5**-k``. In
the *grid binades* ``[2**-9, 2**19)`` these lattices keep every midpoint and every element
far enough from those points (``>= 2**-23`` and ``>= 2**-20``), except the *grid elements*
where ``2x / Q`` is an integer (``M`` divisible by ``2**(k-E-1)``: few significant bits, like
``1.0`` or ``0.5``), which a low-bits test finds. In the *check binades*
``[2**-46, 2**-9)`` the same distances are measured per element in float64. Everything else
(below ``1.4e-14``, where the reference rounds more, subnormals, and ``|x| >= 2**19``, where
most elements are grid elements) is a suspect. The suspects that pass the per-element test
keep orjson's digits and, in the spelling window, get ``repr``'s spelling; the others get
the reference's text. When suspects exceed a quarter of the array, the reference path is the
faster one and writes it all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import numpy as np
import orjson
from numpy.typing import NDArray

from .json_reference import JsonLayout, reference_json, shortest_tokens

try:  # a plain import: `from . import` would make this module import its own package
    import app.encoders._suspects as _suspects
except ImportError:  # built without a C compiler: the numpy filter, the same indices
    _suspects = None  # type: ignore[assignment]

FAST_DTYPES: Final = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))
OPTIONS: Final = orjson.OPT_SERIALIZE_NUMPY
MAX_SUSPECT_SHARE: Final = 0.25  # measured break-even with the reference path: about 1/3

_BAND: Final = Fraction(10**9, 2**53)  # bound on a float64 half ulp, in units of Q
_TOLERANCE: Final = 1e-6  # per-element test: exact distances up to 6.7e-7 (_needs_reference)
_GRID_BINADES: Final = range(-9, 19)  # float32 [2**-9, 2**19)
_CHECK_BINADES: Final = range(-46, -9)  # float32 [2**-46, 2**-9)
_SPELLING_WINDOW: Final = (1e-10, 1e-4)  # |x| whose orjson spelling may not be repr's
_FLOAT64_GRID: Final = 25  # float64 suspects: multiples of 2**-25 ...
_FLOAT64_LARGE: Final = 27  # ... which all |x| >= 2**27 are


def _decade(value: Fraction) -> int:
    """``floor(log10(value))``, exactly."""
    d = math.floor(math.log10(value))
    while Fraction(10) ** d > value:
        d -= 1
    while Fraction(10) ** (d + 1) <= value:
        d += 1
    return d


def _distance(value: Fraction) -> float:
    """Distance from ``value`` to the nearest integer."""
    return float(abs(value - round(value)))


def _grid_bits(binade: int) -> int | None:
    """Low significand bits that are all zero on the grid, or None if the lattices fail.

    Every decade of the binade's elements and of their midpoints (down to ``x - ulp/4``
    below ``2**binade``) must keep both lattice distances above the bounds.
    """
    e = binade - 23
    lowest = Fraction(2) ** binade - Fraction(2) ** (e - 2)
    bits = None
    for d in range(_decade(lowest), _decade(Fraction(2) ** (binade + 1)) + 1):
        k = d - 8
        if k > 0 or e + 1 - k >= 0:  # lattices of 5**-k, or every element on the grid
            return None
        if Fraction(2) ** (e - 2 - k) <= _BAND or Fraction(2) ** (e + 1 - k) <= 2 * _BAND:
            return None
        bits = k - e - 1 if bits is None else min(bits, k - e - 1)
    return bits


@dataclass(frozen=True)
class _Float32Tables:
    """Per biased exponent (``bits >> 23``): the suspect test and the per-element test."""

    mask: NDArray[np.uint32]  # a suspect when bits & mask == 0 (mask 0: all are)
    scale: NDArray[np.float64]  # check binades: 1 / Q, Q the lowest decade's quantum
    midpoint: NDArray[np.float64]  # half an ulp's distance to the integers, in units of Q
    low_midpoint: NDArray[np.float64]  # the same for a quarter ulp (below a power of two)


def _float32_tables() -> _Float32Tables:
    mask = np.zeros(256, np.uint32)
    scale = np.zeros(256, np.float64)
    midpoint = np.zeros(256, np.float64)
    low_midpoint = np.zeros(256, np.float64)
    for binade in _GRID_BINADES:
        bits = _grid_bits(binade)
        if bits is None or bits > 23:  # pragma: no cover - the range is chosen so it holds
            raise AssertionError(f"float32 binade 2**{binade} is not a grid binade")
        mask[binade + 127] = (1 << bits) - 1
    for binade in _CHECK_BINADES:
        lowest = Fraction(2) ** binade - Fraction(2) ** (binade - 25)  # x - ulp/4 below 2**b
        inverse_quantum = Fraction(10) ** (8 - _decade(lowest))
        half_ulp = Fraction(2) ** (binade - 24) * inverse_quantum
        scale[binade + 127] = float(inverse_quantum)
        midpoint[binade + 127] = _distance(half_ulp)
        low_midpoint[binade + 127] = _distance(half_ulp / 2)
    return _Float32Tables(mask, scale, midpoint, low_midpoint)


def _float64_tables() -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """Per biased exponent (``bits >> 52``): a suspect when ``bits & mask == value``.

    Suspects: the spelling window and the multiples of ``2**-25`` (``x = (2**52 + f) *
    2**(b-52)`` is one iff the low ``27 - b`` bits of ``f`` are zero; all ``|x| >= 2**27``).
    Never one: ``|x| < 2**-25``, subnormals and zeros (mask 0, value 1).
    """
    mask = np.zeros(2048, np.uint64)
    value = np.ones(2048, np.uint64)
    low, high = (Fraction(bound) for bound in _SPELLING_WINDOW)
    for biased in range(1, 2047):
        binade = biased - 1023
        spelling = Fraction(2) ** binade <= high and Fraction(2) ** (binade + 1) >= low
        if spelling or binade >= _FLOAT64_LARGE:
            value[biased] = 0
        elif binade >= -_FLOAT64_GRID:
            mask[biased] = (1 << (_FLOAT64_LARGE - binade)) - 1
            value[biased] = 0
    return mask, value


_F32: Final = _float32_tables()
_F64_MASK, _F64_VALUE = _float64_tables()
# Weights mostly lie in the common binades [2**-9, 8), where one mask (the low bits all
# their grids share) finds a superset of the suspects without a table lookup.
_COMMON_BINADES: Final = range(-9, 3)


def _common_range(
    bias: int, mantissa_bits: int, masks: NDArray[Any]
) -> tuple[np.unsignedinteger[Any], np.unsignedinteger[Any], np.unsignedinteger[Any]]:
    """The bit patterns of ``|x|`` in the common binades (start, span) and their grid mask."""
    start, stop = (
        (b + bias) << mantissa_bits for b in (_COMMON_BINADES.start, _COMMON_BINADES.stop)
    )
    dtype = masks.dtype.type
    grid = np.bitwise_and.reduce(masks[start >> mantissa_bits : stop >> mantissa_bits])
    return dtype(start), dtype(stop - start), dtype(grid)


_COMMON32: Final = _common_range(127, 23, _F32.mask)
_COMMON64: Final = _common_range(1023, 52, _F64_MASK)


# Sentinels are suspects themselves, and so is every element whose orjson text has a "+"
# (float32 |x| >= 2**19, float64 |x| >= 2**27): each "+" in the text marks one sentinel.
_SENTINEL32: Final = np.float32(1e38)
_SENTINEL64: Final = np.float64(1e300)


def _sentinel_text(sentinel: np.floating[Any]) -> bytes:
    text = orjson.dumps(np.array([sentinel]), option=OPTIONS)[1:-1]
    if text.count(b"+") != 1:  # pragma: no cover - orjson writes 1e38 as 1e+38
        raise AssertionError(f"orjson writes the sentinel {sentinel} as {text!r}")
    return text


_TEXT32: Final = _sentinel_text(_SENTINEL32)
_TEXT64: Final = _sentinel_text(_SENTINEL64)


def _needs_reference(a: NDArray[np.float64], biased: NDArray[np.uint32]) -> NDArray[np.bool_]:
    """``|x|`` (``a``) near a tie lattice point or its midpoints near one; True outside the
    check binades.

    ``y = a / Q`` takes two roundings (error <= 2e9 * 2**-52 = 4.4e-7, as ``y < 2e9``); the
    midpoint band and the reference's tie error are each <= 2e9 * 2**-53 = 2.2e-7, so an
    exact distance that matters (<= 2.2e-7) measures under 6.7e-7, below the tolerance.
    """
    y = a * _F32.scale[biased]  # 0 outside the check binades: always "near"
    frac = np.abs(y - np.rint(y))  # distance to the integers, in [0, 1/2]
    near = np.minimum(frac, 0.5 - frac)  # to the multiples of Q/2: ties
    np.minimum(near, np.abs(frac - _F32.midpoint[biased]), out=near)  # x +- ulp/2
    np.minimum(near, np.abs(frac - _F32.low_midpoint[biased]), out=near)  # x - ulp/4
    out: NDArray[np.bool_] = near < _TOLERANCE
    return out


def _candidates(
    flat: NDArray[Any],
    start: np.unsignedinteger[Any],
    span: np.unsignedinteger[Any],
    grid: np.unsignedinteger[Any],
) -> NDArray[np.intp]:
    """Indices of ``|x|`` bit patterns outside the common binades or with the grid bits zero.

    ``app/encoders/_suspects.c`` when built (one pass), else :func:`_candidates_numpy`.
    """
    if _suspects is None:
        return _candidates_numpy(flat, start, span, grid)
    found = _suspects.candidates(flat, int(start), int(span), int(grid))
    return np.frombuffer(found, dtype=np.int64).astype(np.intp, copy=False)


def _candidates_numpy(
    flat: NDArray[Any],
    start: np.unsignedinteger[Any],
    span: np.unsignedinteger[Any],
    grid: np.unsignedinteger[Any],
) -> NDArray[np.intp]:
    """:func:`_candidates` by numpy passes (the reference of the compiled filter)."""
    sign_off = ~np.array(1 << (8 * flat.itemsize - 1), dtype=start.dtype)  # |x|: no sign bit
    bits = flat.view(start.dtype) & sign_off
    shifted = bits - start  # unsigned: below the common binades wraps around
    suspect = shifted >= span
    shifted &= grid  # the low bits are bits's: start's are zero
    suspect |= shifted == 0
    out: NDArray[np.intp] = np.flatnonzero(suspect)
    return out


def float32_suspects(flat: NDArray[np.float32]) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """Indices whose orjson text may differ, and which of them need the reference's digits.

    The others keep orjson's digits and need only ``repr``'s spelling. ``_candidates`` keeps
    a superset, the tables decide. ``app/encoders/_suspects.c`` when built (the same
    operations per candidate), else :func:`_float32_suspects_numpy`.
    """
    if _suspects is None:
        return _float32_suspects_numpy(flat)
    start, span, grid = (int(bound) for bound in _COMMON32)
    low, high = _SPELLING_WINDOW
    index, reference = _suspects.float32_suspects(
        flat,
        start,
        span,
        grid,
        _F32.mask,
        _F32.scale,
        _F32.midpoint,
        _F32.low_midpoint,
        low,
        high,
        _TOLERANCE,
    )
    return (
        np.frombuffer(index, dtype=np.int64).astype(np.intp, copy=False),
        np.frombuffer(reference, dtype=np.bool_),
    )


def _float32_suspects_numpy(
    flat: NDArray[np.float32],
) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """:func:`float32_suspects` by numpy passes (the reference of the compiled one)."""
    index = _candidates_numpy(flat, *_COMMON32)
    bits = flat[index].view(np.uint32) & np.uint32(0x7FFFFFFF)
    biased = bits >> np.uint32(23)
    a = bits.view(np.float32).astype(np.float64)
    reference = _needs_reference(a, biased)  # always, outside the check binades
    low, high = _SPELLING_WINDOW
    keep = (bits & _F32.mask[biased]) == 0
    keep &= bits != 0  # zeros are spelt alike
    keep &= reference | ((a >= low) & (a < high))
    return index[keep], reference[keep]


def float64_suspects(flat: NDArray[np.float64]) -> NDArray[np.intp]:
    """Indices whose orjson text may differ from ``repr`` (which ``json.dumps`` writes)."""
    index = _candidates(flat, *_COMMON64)
    bits = flat[index].view(np.uint64) & np.uint64(0x7FFFFFFFFFFFFFFF)
    biased = bits >> np.uint64(52)
    keep: NDArray[np.bool_] = (bits & _F64_MASK[biased]) == _F64_VALUE[biased]
    return index[keep]


def _float32_texts(
    flat: NDArray[np.float32], index: NDArray[np.intp], reference: NDArray[np.bool_]
) -> list[bytes]:
    # orjson's digits are right for the spelling suspects: spell them as repr spells the
    # double they parse to.
    texts = orjson.dumps(flat[index[~reference]], option=OPTIONS)[1:-1]
    respelt = _respelt(texts)
    if not reference.any():
        return respelt
    exact = iter(shortest_tokens(flat[index[reference]]))
    spelt = iter(respelt)
    return [next(exact) if ref else next(spelt) for ref in reference.tolist()]


def _respelt(texts: bytes) -> list[bytes]:
    """Each of the comma-separated orjson numbers as ``repr(float(number))`` spells it.

    ``app/encoders/_suspects.c``'s ``respell`` moves the digits of the spelling-window
    numbers into repr's layout; anything else (or no extension) goes through repr.
    """
    if not texts:
        return []
    spelt = _suspects.respell(texts) if _suspects is not None else None
    if spelt is not None:
        return spelt.split(b",")
    return [repr(float(text)).encode() for text in texts.split(b",")]


def _splice(text: bytes, sentinel: bytes, replacements: list[bytes]) -> bytes:
    """``text`` with its sentinels, found by their ``+``, replaced in order.

    ``bytes.find`` of one byte is a ``memchr``; ``split`` and ``count`` of this text scan
    it ten to twenty times slower, measured.
    """
    before = sentinel.index(b"+")
    after = len(sentinel) - before
    view = memoryview(text)
    pieces: list[bytes | memoryview] = []
    start, at = 0, -1
    for replacement in replacements:
        at = text.find(b"+", at + 1)
        pieces += (view[start : at - before], replacement)
        start = at + after
    if text.find(b"+", at + 1) >= 0:  # pragma: no cover - every "+" is a sentinel's
        raise AssertionError("orjson wrote a '+' outside the sentinels")
    pieces.append(view[start:])
    return b"".join(pieces)


def _float_text(shaped: NDArray[Any]) -> str | None:
    """orjson's text of a float array with its suspects' text spliced in, or None when
    suspects exceed :data:`MAX_SUSPECT_SHARE` (the reference path is faster then)."""
    flat = shaped.reshape(-1)
    sentinel: np.floating[Any]
    if flat.dtype == np.dtype(np.float32):
        index, reference = float32_suspects(flat)
        sentinel, sentinel_text = _SENTINEL32, _TEXT32
    else:
        index = float64_suspects(flat)
        sentinel, sentinel_text = _SENTINEL64, _TEXT64
    if index.size > MAX_SUSPECT_SHARE * flat.size:
        return None
    if not index.size:
        return orjson.dumps(shaped, option=OPTIONS).decode("ascii")
    if flat.dtype == np.dtype(np.float32):
        replacements = _float32_texts(flat, index, reference)
    else:
        replacements = [repr(v).encode() for v in flat[index].tolist()]
    work = shaped.copy()
    work.reshape(-1)[index] = sentinel
    text = orjson.dumps(work, option=OPTIONS)
    if _suspects is not None:  # one copy, straight into the str
        before = sentinel_text.index(b"+")
        after = len(sentinel_text) - before - 1
        spliced = _suspects.splice(text, before, after, replacements)
        if spliced is not None:
            return spliced
    return _splice(text, sentinel_text, replacements).decode("ascii")


def fast_json(array: NDArray[Any], layout: JsonLayout) -> str:
    """The reference text of a non-empty float32, float64 or int64 array, through orjson.

    ``array`` is validated by the caller (little-endian, C-contiguous, finite).
    """
    shaped = array if layout == "nested" and array.ndim else array.reshape(-1)
    if array.dtype == np.dtype(np.int64):  # JSON integers: the same text as json.dumps
        text: str | None = orjson.dumps(shaped, option=OPTIONS).decode("ascii")
    else:
        text = _float_text(shaped)
    if text is None:
        return reference_json(array, layout)
    if layout == "nested" and array.ndim == 0:
        text = text[1:-1]
    return text
