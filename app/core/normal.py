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

Compiled float32
----------------
float32 runs in C when the package was installed with a C compiler: ``app/core/_normal.c``
does ``_pairs32`` + ``_store`` for one pair at a time, the same operations in the same
order (no FMA: ``-ffp-contract=off``; integer-to-float casts rounded to nearest even as
numpy's), vectorised across pairs, one copy per instruction set chosen at run time (AVX-512,
AVX2, baseline). Every copy gives the numpy path's bits (``tests/core/test_normal_kernels.py``
compares them on edge-case and random words; the golden hashes run through it).
:func:`standard_normal_from_streams` hands all its streams to one GIL-free call, which draws
each stream's words from its bit generator's capsule (``next_raw``, what ``random_raw``
calls) into a small reused buffer: no memory is allocated per block (fresh pages are
faulted in one thread at a time) and the GIL changes hands once per call, so threads scale
(``bench/bench_threads.py``: 2.2 GiB/s on one core, 1.95x on two). float64, and float32
without the extension (or with ``kernel_set="numpy"``), take the numpy path below.

Speed (numpy path): about 1 GiB/s of float32 and 0.65-0.75 GiB/s of float64 on one core,
PCG64 included (``python bench/bench_normal.py``; the compiled float32 is several times
faster and then PCG64's ``random_raw`` dominates).  Pairs go in chunks with preallocated
scratch, in-place ufuncs, positional ``out`` and 0-d array constants (which roughly halve
numpy's per-call cost).

Threads (numpy path): :func:`standard_normal_from_streams` runs the pairs of many streams
(blocks) through one chunk of the kernel, so a thread makes few, long, GIL-free ufunc calls
(about 45 per chunk of 131072 float32 pairs; steps that apply one ufunc to two rows run as
one call on a (2, n) view).  Each thread keeps its scratch between calls
(``threading.local``): fresh memory would be page-faulted in on every call.
``bench/bench_threads.py`` measures it.
"""

from __future__ import annotations

import operator
import sys
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, SupportsIndex, cast

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .errors import InvalidParameterError
from .streams import holding_locks

try:
    from . import _normal
except ImportError:  # built without a C compiler: the numpy path, the same bits
    _normal = None  # type: ignore[assignment]

__all__ = [
    "compiled_kernel_sets",
    "raw_words_needed",
    "stable_exp",
    "stable_log",
    "standard_normal_from_raw",
    "standard_normal_from_streams",
]

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

# Pairs per chunk: 8 float32 / 9 float64 scratch rows of this length (4 / 4.5 MiB per thread).
# Chosen for threads (bench/bench_threads.py, 2-core VM): every ufunc call releases the GIL
# and takes it back, and a thread that finds it taken sleeps and is woken tens of
# microseconds later, so few, long calls scale; much larger chunks lose to cache misses.
# Measured, float32 normal, 2 threads / 1 thread: 32768 pairs 1.1-1.3x, 65536 about 1.45x,
# 131072 1.65-1.75x, 262144 about 1.5x; float64 16384 1.4x, 32768 1.6x, 65536 1.8x (131072
# 1.9x but slower on one thread).  Single-thread speed barely changes from 32768 up.
_CHUNK32 = 131072
_CHUNK64 = 65536

# Columns (low half, high half) of a uint64 word viewed as two uint32s.
_LOW_HIGH = slice(None) if sys.byteorder == "little" else slice(None, None, -1)
_U32 = np.uint32
_I32 = np.int32
_U64 = np.uint64
_I64 = np.int64


def _dtype_of(dtype: DTypeLike) -> np.dtype[Any]:
    dt: np.dtype[Any] | None = None
    if dtype is not None:  # np.dtype(None) would mean float64
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
    if dt is None or dt.isbuiltin != 1 or dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidParameterError(
            f"dtype must be numpy.float32 or numpy.float64, not {dtype!r}.", field="dtype"
        )
    return dt


def _count_of(n: SupportsIndex) -> int:
    if isinstance(n, bool | np.bool_):
        raise InvalidParameterError("n must be an integer, not a bool.", field="n")
    try:
        value = operator.index(n)
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
    raw: NDArray[np.uint64], n: int, dtype: FloatDType, *, kernel_set: str | None = None
) -> NDArray[np.floating[Any]]:
    """``n`` standard normal values of ``dtype`` from raw uint64 words (see module docstring).

    A pure function of ``raw[:raw_words_needed(n, dtype)]`` (later words are ignored); the
    result is a new C-contiguous array of length ``n``. ``kernel_set`` (tests, benchmarks)
    picks the implementation: see :func:`compiled_kernel_sets`; every one gives the same bits.
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
    _fill_parts([(lambda: words, count)], out, kernel_set)
    return out


def standard_normal_from_streams(
    bitgens: Sequence[np.random.BitGenerator],
    counts: Sequence[int],
    dtype: FloatDType,
    out: NDArray[np.floating[Any]] | None = None,
    *,
    kernel_set: str | None = None,
    std: float | None = None,
    mean: float = 0.0,
) -> NDArray[np.floating[Any]]:
    """Standard normal values from several streams at once, in one pass of the kernel.

    Bit for bit the concatenation, over ``(g, n)`` in ``zip(bitgens, counts)``, of
    ``standard_normal_from_raw(g.random_raw(raw_words_needed(n, dtype)), n, dtype)``: each
    stream advances by exactly those words, drawn just before they are used (so at most one
    stream's words are held at a time).  The pairs of all the streams go through the kernel
    in chunks of ``_CHUNK32`` / ``_CHUNK64`` pairs, which is what makes many short streams
    cheap and lets threads scale (few, long, GIL-free ufunc calls).  Written into ``out`` (a
    1-D array of ``dtype`` and length ``sum(counts)``) when given, else into a new array.
    ``kernel_set`` as in :func:`standard_normal_from_raw`. With ``std``, the values are then
    multiplied by ``dtype(std)`` and, when ``mean`` is not 0, ``dtype(mean)`` is added (in
    ``dtype``, as ``z *= std; z += mean`` would): the compiled float32 path does it while the
    values are still in cache.
    """
    dt = _dtype_of(dtype)
    if len(bitgens) != len(counts):
        raise InvalidParameterError(
            f"{len(bitgens)} bit generators but {len(counts)} counts.", field="counts"
        )
    sizes = [_count_of(n) for n in counts]
    target = _output_of(out, sum(sizes), dt)
    if dt == np.dtype(np.float32) and kernel_set != "numpy" and _normal is not None:
        affine = (1.0, 0.0, False) if std is None else (_f32(std), _f32(mean), mean != 0.0)
        _streams_compiled32(_normal, bitgens, sizes, target, kernel_set=kernel_set, affine=affine)
        return target
    per_pair = 1 if dt == np.dtype(np.float32) else 2  # raw_words_needed, inlined
    parts = [
        (_words_from(g, per_pair * ((n + 1) // 2)), n) for g, n in zip(bitgens, sizes, strict=True)
    ]
    _fill_parts(parts, target, kernel_set)
    if std is not None:
        target *= dt.type(std)
        if mean != 0.0:
            target += dt.type(mean)
    return target


def _f32(value: float) -> float:
    """``value`` rounded once to float32, as a Python float."""
    return float(np.float32(value))


def compiled_kernel_sets() -> tuple[str, ...]:
    """Copies of the compiled float32 sampler (``app/core/_normal.c``) this CPU runs, fastest
    first; ``()`` when it was not built. ``kernel_set="numpy"`` forces the numpy path, which
    float64 always takes; ``None`` means the fastest available."""
    return () if _normal is None else _normal.kernel_sets()


def _streams_compiled32(
    kernels: Any,
    bitgens: Sequence[np.random.BitGenerator],
    sizes: Sequence[int],
    out: NDArray[np.float32],
    *,
    kernel_set: str | None,
    affine: tuple[float, float, bool],
) -> None:
    """float32 streams by ``app/core/_normal.c`` in one GIL-free call: each stream draws its
    words from its bit generator's capsule, in order, under the generators' locks (as
    ``random_raw`` does): the same words, no per-block allocation, and one hand-over of
    the GIL per call instead of about 45 per chunk."""
    with holding_locks(bitgens):
        capsules = [g.capsule for g in bitgens]
        kernels.normal32_streams(capsules, list(sizes), out, kernel_set, *affine)


def _words_from(bitgen: np.random.BitGenerator, count: int) -> Callable[[], NDArray[np.uint64]]:
    """Draws ``count`` raw words from ``bitgen`` when called (an ndarray of uint64)."""
    return cast(Callable[[], NDArray[np.uint64]], partial(bitgen.random_raw, count))


def _output_of(out: object, size: int, dt: np.dtype[Any]) -> NDArray[Any]:
    """``out`` checked to be a writeable 1-D array of ``dt`` and ``size`` (new one if None)."""
    if out is None:
        return np.empty(size, dtype=dt)
    if not isinstance(out, np.ndarray) or out.dtype != dt or out.shape != (size,):
        raise InvalidParameterError(
            f"out must be a 1-D numpy array of {dt.name} and length {size}.", field="out"
        )
    if not out.flags.writeable or not out.flags.c_contiguous:
        raise InvalidParameterError("out must be writeable and C-contiguous.", field="out")
    return out


class _Scratch(threading.local):
    """One thread's kernel scratch, kept between calls and grown on demand.

    Reusing it matters for threads: fresh memory is page-faulted in on first touch, and page
    faults of threads of one process serialize on the kernel's memory-map lock.  A thread
    keeps at most ``max(8 * 4 * _CHUNK32, 9 * 8 * _CHUNK64)`` bytes.
    """

    def __init__(self) -> None:
        self.buffer: NDArray[np.uint8] = np.empty(0, dtype=np.uint8)

    def rows(self, count: int, length: int, dtype: FloatDType) -> NDArray[Any]:
        need = count * length * np.dtype(dtype).itemsize
        if self.buffer.shape[0] < need:
            self.buffer = np.empty(need, dtype=np.uint8)
        return self.buffer[:need].view(dtype).reshape(count, length)


_SCRATCH = _Scratch()

# (draw the part's raw words, values wanted from them)
_Part = tuple[Callable[[], NDArray[np.uint64]], int]


def _fill_parts(parts: Sequence[_Part], out: NDArray[Any], kernel_set: str | None) -> None:
    """out = the concatenation of ``standard_normal_from_raw(draw(), n)`` over the parts.

    float32 goes through the compiled sampler when it is built (one GIL-free call per part)
    unless ``kernel_set`` is ``"numpy"``; otherwise :func:`_fill_parts_numpy`.
    """
    if out.dtype == np.dtype(np.float32) and kernel_set != "numpy":
        if _normal is not None:
            _fill_parts_compiled32(_normal, parts, out, kernel_set)
            return
        if kernel_set is not None:
            raise InvalidParameterError(
                f"kernel set {kernel_set!r}: app.core._normal was not built.", field=None
            )
    _fill_parts_numpy(parts, out)


def _fill_parts_compiled32(
    kernels: Any, parts: Sequence[_Part], out: NDArray[np.float32], kernel_set: str | None
) -> None:
    """_fill_parts for float32 by ``app/core/_normal.c``: each part's words, then its values."""
    pos = 0
    for draw, n in parts:
        if n:
            kernels.normal32(draw(), out[pos : pos + n], kernel_set)
            pos += n


def _fill_parts_numpy(parts: Sequence[_Part], out: NDArray[Any]) -> None:
    """_fill_parts by numpy ufuncs, in chunks.

    The parts' pairs are packed into chunks of scratch rows: each chunk loads its words
    (split into the two uniforms' integers), runs the kernel once, then multiplies ``r`` into
    the two outputs of every pair, which are written straight into ``out`` (the second value
    of a part's last pair is dropped when its count is odd).  ``draw`` is called once per
    part, in order; it must not use this module's scratch (it is only drawing words).
    """
    f32 = out.dtype == np.dtype(np.float32)
    chunk, rows, ftype = (_CHUNK32, 8, np.float32) if f32 else (_CHUNK64, 9, np.float64)
    kernel, load = (_pairs32, _load32) if f32 else (_pairs64, _load64)
    per_pair = 1 if f32 else 2
    counts = [n for _, n in parts]
    pair_counts = [(n + 1) // 2 for n in counts]
    total = sum(pair_counts)
    part, used, pos, done = 0, 0, 0, 0
    words: NDArray[np.uint64] | None = None
    while done < total:
        size = min(chunk, total - done)
        s = _SCRATCH.rows(rows, size, ftype)
        runs: list[list[int]] = []  # [first pair, pairs, values, output position]
        filled = 0
        while filled < size:
            if words is None:
                while pair_counts[part] == 0:
                    part += 1
                words, used = parts[part][0](), 0
            take = min(pair_counts[part] - used, size - filled)
            load(words[used * per_pair : (used + take) * per_pair], s, filled, filled + take)
            values = min(2 * take, counts[part] - 2 * used)
            if runs and runs[-1][2] == 2 * runs[-1][1]:  # the previous run ends on a pair
                runs[-1][1] += take
                runs[-1][2] += values
            else:
                runs.append([filled, take, values, pos])
            filled, used, pos = filled + take, used + take, pos + values
            if used == pair_counts[part]:
                words, part = None, part + 1
        kernel(s)
        for first, _, values, at in runs:
            _store(s, first, out[at : at + values])
        done += size


def _store(s: NDArray[Any], first: int, out: NDArray[Any]) -> None:
    """out[2j] = r * cos-output, out[2j + 1] = r * sin-output for pairs first.. of the chunk.

    One call for the whole pairs, through the (2, pairs) view of ``out`` (C-contiguous) whose
    rows are its even and odd elements; an odd length adds the last pair's cos element.
    """
    n = out.shape[0]
    pairs, stop = n // 2, first + n // 2
    if pairs:
        # rows 5, 4 = (cos, sin) outputs; the view's inner axis stays the pairs, as in C order
        np.multiply(s[-1, first:stop], s[5:3:-1, first:stop], out[: 2 * pairs].reshape(-1, 2).T)
    if n % 2:
        np.multiply(s[-1, stop : stop + 1], s[5, stop : stop + 1], out[n - 1 :])


def _load32(w: NDArray[np.uint64], s: NDArray[np.float32], lo: int, hi: int) -> None:
    """Rows a, b [lo, hi) = the low and high 32-bit halves of one word per pair (one copy
    through a uint32 view of the words, whose column order follows the machine's byte order)."""
    np.copyto(s[0:2, lo:hi].view(_U32), w.view(_U32).reshape(-1, 2)[:, _LOW_HIGH].T)


def _load64(w: NDArray[np.uint64], s: NDArray[np.float64], lo: int, hi: int) -> None:
    """Rows a, b [lo, hi) = the even and odd words (two words per pair), in one copy."""
    np.copyto(s[0:2, lo:hi].view(_U64), w.reshape(-1, 2).T)


def _k32(value: float | int, dtype: Any = np.float32) -> NDArray[Any]:
    """A 0-d array constant: ufuncs take these faster than Python or numpy scalars."""
    return np.array(value, dtype=dtype)


def _k64(value: float | int, dtype: Any = np.float64) -> NDArray[Any]:
    return np.array(value, dtype=dtype)


_C_LOG32 = tuple(_k32(c) for c in _LOG32)
_C_LOG64 = tuple(_k64(c) for c in _LOG64)
_C_EXP64 = tuple(_k64(c) for c in _EXP64)
# (2, 1) columns (sine coefficient, cosine coefficient) for _horner2, ascending powers.
_C_SINCOS32 = tuple(
    np.array([[s], [c]], dtype=np.float32) for s, c in zip(_SIN32, _COS32, strict=True)
)
_C_SINCOS64 = tuple(
    np.array([[s], [c]], dtype=np.float64) for s, c in zip(_SIN64, _COS64, strict=True)
)
_F32_ONE, _F32_FOUR = _k32(1.0), _k32(4.0)
_F32_2M31 = _k32(2.0**-31)
_I32_KMAGIC, _I32_23, _I32_31, _I32_96 = (_k32(v, np.int32) for v in (_K32_MAGIC, 23, 31, 96))
_U32_ONES, _U32_SIGN, _U32_EIGHTH = (_k32(v, np.uint32) for v in (0xFFFFFFFF, 1 << 31, 1 << 29))
_C_2LN2_LO_HI32 = np.array([[_LN2X2_LO32], [_LN2X2_HI32]], dtype=np.float32)
_C_SHIFTS_1_2_32 = np.array([[1], [2]], dtype=np.uint32)
_F64_ONE, _F64_TWO, _F64_HALF, _F64_M2 = _k64(1.0), _k64(2.0), _k64(0.5), _k64(-2.0)
_F64_2M63 = _k64(2.0**-63)
_C_LN2_LO_HI64 = np.array([[_LN2_LO], [_LN2_HI]], dtype=np.float64)
_C_MINUS_LN2_LO_HI64 = -_C_LN2_LO_HI64  # exact
_C_SHIFTS_1_2_64 = np.array([[1], [2]], dtype=np.uint64)
_I64_KMAGIC, _I64_52, _I64_63, _I64_959 = (_k64(v, np.int64) for v in (_K64_MAGIC, 52, 63, 959))
_U64_ONES, _U64_SIGN, _U64_EIGHTH = (_k64(v, np.uint64) for v in (2**64 - 1, 1 << 63, 1 << 61))


def _pairs32(s: NDArray[np.float32]) -> None:
    """float32 Box-Muller on one chunk of ``p`` pairs; ``s`` is (8, p) scratch.

    In: rows 0, 1 = ``a``, ``b`` (_load32).  Out: rows 4, 5 = the sin and cos outputs before
    the factor ``r``, row 7 = ``r``.  Ufuncs take their output positionally and 0-d array
    constants (both save call overhead); independent steps that apply one ufunc to two rows
    run as one call on a (2, p) view with a (2, 1) column of constants, and two casts are
    fused into the arithmetic that follows them: numpy's casts inside a ufunc are the same
    correctly rounded conversions as ``copyto``, so no value changes.
    """
    u, i = _U32, _I32
    a, b, r2, r3, r4, r5, r6, rr = s
    au, bu, bi = a.view(u), b.view(u), b.view(i)
    r2u, r2i, r3u, r3i, r4i = r2.view(u), r2.view(i), r3.view(u), r3.view(i), r4.view(i)
    r4u, r5u, r6u, rru = r4.view(u), r5.view(u), r6.view(u), rr.view(u)
    mul, add, sub = np.multiply, np.add, np.subtract

    # ---- r = sqrt(-2 ln u1), u1 = (a + 1) / 2**32 ----
    add(au, _F32_ONE, r2, dtype=np.float32, casting="unsafe")  # ~ x = float32(a) + 1, only
    sub(_I32_KMAGIC, r2i, r2i)  # to choose the exponent
    np.right_shift(r2i, _I32_23, r2i)  # k = 32 - e, in [0, 32]
    np.right_shift(_U32_ONES, r2u, r3u)  # 2**e - 1 (numpy: a shift by >= 32 gives 0)
    sub(au, r3u, r3u)  # D = a + 1 - 2**e, exact (wrapping uint32, read as int32)
    np.copyto(r4, r3i, casting="unsafe")  # float32(D), one rounding
    add(r2i, _I32_96, r3i)
    np.left_shift(r3i, _I32_23, r3i)  # float32 2**(1 - e)
    mul(r4, r3, r4)  # g = 2f = 2 (x / 2**e - 1), correctly rounded
    add(r4, _F32_FOUR, r3)
    np.divide(r4, r3, r3)  # s = g / (4 + g) = f / (2 + f)
    mul(r3, r3, r5)  # z = s*s
    c0, c1, c2 = _C_LOG32
    mul(r5, c2, r6)
    add(r6, c1, r6)
    mul(r6, r5, r6)
    add(r6, c0, r6)
    mul(r6, r5, r6)  # R = z P(z) = 4 atanh(s)/s - 4
    sub(r4, r6, r6)
    mul(r6, r3, r6)
    sub(r4, r6, r5)  # 2 log1p(f) = g - s (g - R)
    np.copyto(r4, r2i, casting="unsafe")  # float(k), exact
    mul(r4, _C_2LN2_LO_HI32, s[6:8])  # (k * 2ln2_lo, k * 2ln2_hi), the second exact
    sub(rr, r5, rr)
    add(rr, r6, rr)  # -2 ln u1 = 2 k ln 2 - 2 log1p(f)
    np.sqrt(rr, rr)

    # ---- theta = 2 pi b / 2**32 = q pi/2 + x pi/4 ----
    add(bu, _U32_EIGHTH, au)  # v: bit 31 = (q >= 2), bit 30 = (q odd)
    np.left_shift(s[0:2].view(u), _C_SHIFTS_1_2_32, s[3:5].view(u))  # (v << 1, b << 2):
    # bit 31 of v << 1 = (q odd); int32(b << 2) = 2**31 x
    np.right_shift(r3i, _I32_31, bi)  # blend mask: all ones for odd q
    np.bitwise_and(s[0:2].view(u), _U32_SIGN, s[5:7].view(u))  # (q >= 2, q odd) sign bits
    np.bitwise_xor(rru, r5u, rru)  # r takes the sign of (q >= 2)
    np.copyto(r2, r4i, casting="unsafe")  # one rounding
    mul(r2, _F32_2M31, r2)
    np.bitwise_xor(r2u, r6u, r2u)  # x, negated for odd q
    mul(r2, r2, r3)  # y = x*x
    sc, scu = s[4:6], s[4:6].view(u)
    _horner2(r3, _C_SINCOS32, sc)  # (P_s(y), P_c(y))
    mul(sc, s[2:4], sc)  # (S, C - 1) = (x P_s(y), y P_c(y)): rows 2, 3 are (x, y)
    add(r5, _F32_ONE, r5)  # C = cos(pi/4 x); row 4 is S = sin(pi/4 x)
    np.bitwise_xor(r4u, r5u, r6u)
    np.bitwise_and(r6u, bu, r6u)
    np.bitwise_xor(scu, r6u, scu)  # (S, C) or, for odd q, (C, S'): (sin, cos) outputs


def _pairs64(s: NDArray[np.float64]) -> None:
    """float64 Box-Muller on one chunk of ``p`` pairs (see _pairs32); ``s`` is (9, p) scratch.

    In: rows 0, 1 = ``a``, ``b`` (_load64).  Out: rows 4, 5 = the sin and cos outputs before
    the factor ``r``, row 8 = ``r``.
    """
    u, i = _U64, _I64
    a, b, r2, r3, r4, r5, _, _, rr = s
    au, bu, bi = a.view(u), b.view(u), b.view(i)
    r2u, r2i, r3u, r3i, r4i = r2.view(u), r2.view(i), r3.view(u), r3.view(i), r4.view(i)
    r4u, r5u, r6u, rru = r4.view(u), r5.view(u), s[6].view(u), rr.view(u)
    mul, add, sub = np.multiply, np.add, np.subtract

    # ---- r = sqrt(-2 ln u1), u1 = (a + 1) / 2**64 ----
    add(au, _F64_ONE, r2, dtype=np.float64, casting="unsafe")  # ~ x = float64(a) + 1, only
    sub(_I64_KMAGIC, r2i, r2i)  # to choose the exponent
    np.right_shift(r2i, _I64_52, r2i)  # k = 64 - e, in [0, 64]
    np.right_shift(_U64_ONES, r2u, r3u)  # 2**e - 1 (numpy: a shift by >= 64 gives 0)
    sub(au, r3u, r3u)  # D = a + 1 - 2**e, exact (wrapping uint64, read as int64)
    np.copyto(r4, r3i, casting="unsafe")  # float64(D), one rounding
    add(r2i, _I64_959, r3i)
    np.left_shift(r3i, _I64_52, r3i)  # float64 2**-e
    mul(r4, r3, r4)  # f = x / 2**e - 1
    np.copyto(r3, r2i, casting="unsafe")  # float(k), exact
    mul(r3, _C_MINUS_LN2_LO_HI64, s[6:8])  # ((-k) ln2_lo, (-k) ln2_hi): k (-c) == (-k) c
    _ln_reduced(r4, s[6:8], rr, (r2, r3, r5, a))  # ln u1 = log1p(f) - k ln 2
    mul(rr, _F64_M2, rr)
    np.sqrt(rr, rr)

    # ---- theta = 2 pi b / 2**64 = q pi/2 + x pi/4 ----
    add(bu, _U64_EIGHTH, au)  # v: bit 63 = (q >= 2), bit 62 = (q odd)
    np.left_shift(s[0:2].view(u), _C_SHIFTS_1_2_64, s[3:5].view(u))  # (v << 1, b << 2):
    # bit 63 of v << 1 = (q odd); int64(b << 2) = 2**63 x
    np.right_shift(r3i, _I64_63, bi)  # blend mask: all ones for odd q
    np.bitwise_and(s[0:2].view(u), _U64_SIGN, s[5:7].view(u))  # (q >= 2, q odd) sign bits
    np.bitwise_xor(rru, r5u, rru)  # r takes the sign of (q >= 2)
    np.copyto(r2, r4i, casting="unsafe")  # one rounding
    mul(r2, _F64_2M63, r2)
    np.bitwise_xor(r2u, r6u, r2u)  # x, negated for odd q
    mul(r2, r2, r3)  # y = x*x
    sc, scu = s[4:6], s[4:6].view(u)
    _horner2(r3, _C_SINCOS64, sc)  # (P_s(y), P_c(y))
    mul(sc, s[2:4], sc)  # (S, C - 1) = (x P_s(y), y P_c(y)): rows 2, 3 are (x, y)
    add(r5, _F64_ONE, r5)  # C = cos(pi/4 x); row 4 is S = sin(pi/4 x)
    np.bitwise_xor(r4u, r5u, r6u)
    np.bitwise_and(r6u, bu, r6u)
    np.bitwise_xor(scu, r6u, scu)  # (S, C) or, for odd q, (C, S'): (sin, cos) outputs


def _horner2(y: NDArray[Any], coeffs: tuple[NDArray[Any], ...], out: NDArray[Any]) -> None:
    """Two polynomials in y at once: out[i] = sum(coeffs[j][i, 0] * y**j), as _horner.

    ``coeffs[j]`` is a (2, 1) column, ``out`` (2, len(y)): each row gets exactly the ufunc
    sequence of _horner (same roundings), in half the calls.
    """
    np.multiply(y, coeffs[-1], out)
    for c in coeffs[-2:0:-1]:
        np.add(out, c, out)
        np.multiply(out, y, out)
    np.add(out, coeffs[0], out)


def _horner(
    y: NDArray[np.float64], coeffs: tuple[NDArray[Any], ...], out: NDArray[np.float64]
) -> None:
    """out = sum(coeffs[i] * y**i), Horner's rule, one rounding per ufunc."""
    np.multiply(y, coeffs[-1], out)
    for c in coeffs[-2:0:-1]:
        np.add(out, c, out)
        np.multiply(out, y, out)
    np.add(out, coeffs[0], out)


_Rows4 = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def _ln_reduced(
    f: NDArray[np.float64], kk: NDArray[np.float64], out: NDArray[np.float64], scratch: _Rows4
) -> None:
    """out = k ln 2 + log1p(f) for f in [sqrt(1/2) - 1, sqrt(2) - 1] and integer-valued k.

    ``kk`` holds the rows ``(k * ln2_lo, k * ln2_hi)`` (the second exact).  fdlibm's
    arrangement: ``s = f/(2+f)``, ``z = s*s``, ``hfsq = f*f/2``, ``R = z*T(z)``,
    ``((s*(hfsq + R) + k*ln2_lo) - hfsq + f) + k*ln2_hi``.  ``scratch`` is four rows.
    """
    t1, t2, t3, t4 = scratch
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
    add(t3, kk[0], t3)
    np.subtract(t3, t4, t3)
    add(t3, f, t3)
    add(t3, kk[1], out)


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
    scratch = np.empty((6, flat.shape[0]), dtype=np.float64)
    np.multiply(k, _C_LN2_LO_HI64, scratch[4:6])  # (k ln2_lo, k ln2_hi)
    _ln_reduced(f, scratch[4:6], out, (scratch[0], scratch[1], scratch[2], scratch[3]))
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
