"""PyTorch's CPU generator and its ``uniform_`` / ``normal_`` kernels, in numpy (torch 2.13).

The generator (aten/src/ATen/CPUGeneratorImpl.cpp) is MT19937 seeded from the low 32 bits of
``torch.manual_seed``'s value; numpy's ``MT19937`` with its legacy seeding reproduces the
32-bit word stream bit for bit. ``torch.manual_seed`` accepts -2**63..2**64-1 and wraps a
negative seed modulo 2**64 (torch 2.13, measured), so the service's seeds 0..2**64-1 are
exactly torch's seeds and ``s + 2**64`` is torch's negative ``s``. Besides the words, the
generator holds one cached double from the scalar Box-Muller (``next_double_normal_sample``),
cleared only by ``manual_seed``.

Transforms (aten/src/ATen/core/TransformationHelper.h ``uniform_real``,
aten/src/ATen/core/DistributionsHelper.h ``uniform_real_distribution``):

* float32 (and float16/bfloat16, whose kernels work in float): ``u = (w & 0xFFFFFF) * 2**-24``
  from one word ``w``; the value is ``u * (to - from) + from`` in float, one rounding (the
  CPU kernels are compiled with FMA contraction; :func:`fma32` computes it exactly), then
  cast to the tensor's dtype, and a value that rounded up to ``to`` becomes ``from``
  (native/cpu/DistributionTemplates.h ``uniform_kernel``).
* float64: ``u = (w64 & (2**53 - 1)) * 2**-53`` with ``w64 = w1 << 32 | w2`` (two words,
  ``random64``); ``u * (to - from) + from`` in double (:func:`fma64`).

``normal_`` (native/cpu/DistributionTemplates.h ``normal_kernel``):

* numel >= 16 (``normal_fill``): one uniform per element into the buffer, then per 16 values
  ``u1 = 1 - d[j]``, ``u2 = d[j + 8]``, ``r = sqrt(-2 log u1)``, ``theta = 2 pi u2``,
  ``d[j] = fma(r cos theta, std, mean)``, ``d[j + 8] = fma(r sin theta, std, mean)``
  (``NormalFill16``); a size that is not a multiple of 16 draws 16 more uniforms and
  recomputes the last 16 values. Consumes numel (+16) uniforms. float32 runs the AVX2
  specialisation on x86 with AVX2 or AVX-512 (avx_mathfun.h polynomials, reproduced op for op
  in ``torch_mathfun.py``); float64 runs the scalar template with libm's log/cos/sin.
  float16/bfloat16 draw differently (``_normal_fill_blocks``): 16 fresh float uniforms per
  block into a float buffer, the same float ``NormalFill16``, a cast; the tail is one more
  block of 16 fresh uniforms written over the last 16 values.
* numel < 16: ``at::normal_distribution<double>`` per element: with no cached value, two
  doubles ``u1, u2``, ``r = sqrt(-2 log1p(-u2))``, ``theta = 2 pi u1``, caches ``r sin theta``
  and returns ``r cos theta``; with one, returns it and clears the cache; then
  ``value * std + mean``, cast to the dtype.

Exactness (against torch 2.13 on x86-64 with AVX2 or AVX-512): the words, the uniform
transforms and the float32 16-wide normal path are integer and IEEE float32 operations, so
they are bit-exact. Where torch calls libm (the float64 16-wide path; the scalar path below 16
elements) this module calls the same libm functions through Python's math module: identical
with the same glibc (measured), within an ulp of another libm's, not claimed bit-exact
(``torch_init.EXACTNESS`` has the bounds). The *number* of words each call
consumes never depends on those values, so draws after an approximate normal_ still start at
the same word.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidParameterError
from .fma import fma32, fma64
from .torch_mathfun import normal_fill_16_avx2

TORCH_MAX_SEED = (1 << 64) - 1
NORMAL_FILL_MIN = 16  # normal_kernel: the 16-wide path from 16 elements (contiguous)
_MASK24 = np.uint32((1 << 24) - 1)
_MASK53 = np.uint64((1 << 53) - 1)
_TWO_PI = 2.0 * math.pi  # c10::pi<double> doubled: 6.283185307179586 (2.0f * pi<double>)

Floats = NDArray[np.floating[Any]]


class TorchGenerator:
    """torch's default CPU generator after ``torch.manual_seed(seed)``: MT19937 words plus the
    cached double of the scalar Box-Muller."""

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= TORCH_MAX_SEED:
            raise InvalidParameterError(
                f"seed must be an integer from 0 to {TORCH_MAX_SEED} with algorithm torch-cpu "
                f"(torch.manual_seed's range; a negative torch seed s is s + 2**64); got {seed!r}.",
                field="seed",
            )
        self._bits = np.random.MT19937(0)
        self._bits._legacy_seeding(seed & 0xFFFFFFFF)  # torch's mt19937(seed) uses 32 bits
        self.cached_normal: float | None = None
        self.words_used = 0

    def words(self, n: int) -> NDArray[np.uint32]:
        """The next ``n`` 32-bit words (``CPUGeneratorImpl::random``)."""
        self.words_used += n
        if n == 0:
            return np.empty(0, dtype=np.uint32)
        return self._bits.random_raw(n).astype(np.uint32)

    def words64(self, n: int) -> NDArray[np.uint64]:
        """The next ``n`` 64-bit values (``random64``: first word high, second low)."""
        w = self.words(2 * n).astype(np.uint64).reshape(n, 2)
        return (w[:, 0] << np.uint64(32)) | w[:, 1]


def unit_float32(gen: TorchGenerator, n: int) -> NDArray[np.float32]:
    """``n`` float32 U[0, 1): the low 24 bits of a word times 2**-24 (exact)."""
    return (gen.words(n) & _MASK24).astype(np.float32) * np.float32(2.0**-24)


def unit_float64(gen: TorchGenerator, n: int) -> NDArray[np.float64]:
    """``n`` float64 U[0, 1): the low 53 bits of ``random64`` times 2**-53 (exact)."""
    return (gen.words64(n) & _MASK53).astype(np.float64) * 2.0**-53


def uniform_(gen: TorchGenerator, n: int, low: float, high: float, double: bool) -> Floats:
    """torch ``uniform_(t, low, high)`` on ``n`` elements in float (or double): the values in
    the kernel's precision, before the cast to a narrower dtype (:func:`clamp_upper`)."""
    if double:
        return fma64(unit_float64(gen, n), high - low, low)
    lo, hi = np.float32(low), np.float32(high)
    span = np.float32(hi - lo)  # (to - from) in float, rounded
    return fma32(unit_float32(gen, n), float(span), float(lo))


def clamp_upper(values: NDArray[Any], low: float, high: float) -> NDArray[Any]:
    """``value == to_scalar ? from_scalar : value`` after the cast to the tensor's dtype."""
    dtype = values.dtype
    top, bottom = np.asarray(high).astype(dtype), np.asarray(low).astype(dtype)
    hit = values == top
    if hit.any():
        values = values.copy()
        values[hit] = bottom
    return values


# glibc's scalar log/cos/sin through Python's math module: the functions torch's scalar
# NormalFill16<double> calls (numpy's own vectorised float64 log/sin/cos differ by an ulp or
# two). Element by element (about 0.4 us per value), in chunks to bound the object arrays.
_CHUNK_ROWS = 1 << 14


def _libm(fn: Callable[[float], float]) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    ufunc = np.frompyfunc(fn, 1, 1)
    return lambda x: np.asarray(ufunc(x)).astype(np.float64)


_LOG, _COS, _SIN = _libm(math.log), _libm(math.cos), _libm(math.sin)


def _normal_fill_16_double(d: NDArray[np.float64], mean: float, std: float) -> NDArray[np.float64]:
    """``NormalFill16<double>`` (the scalar template) on (k, 16) uniforms: ``radius =
    sqrt(-2 log(1 - u1))``, ``theta = 2 pi u2``, ``fma(radius cos, std, mean)``,
    ``fma(radius sin, std, mean)``, with libm's log/cos/sin (torch 2.13's bytes with the same
    glibc: 0 differences in 2**16 values measured)."""
    out = np.empty_like(d)
    for start in range(0, d.shape[0], _CHUNK_ROWS):
        part = d[start : start + _CHUNK_ROWS]
        radius = np.sqrt(-2.0 * _LOG(1.0 - part[:, :8]))
        theta = _TWO_PI * part[:, 8:]
        rows = slice(start, start + part.shape[0])
        out[rows, :8] = fma64(radius * _COS(theta), std, mean)
        out[rows, 8:] = fma64(radius * _SIN(theta), std, mean)
    return out


def normal_(
    gen: TorchGenerator, n: int, mean: float, std: float, double: bool, *, reduced: bool = False
) -> Floats:
    """torch ``normal_(t, mean, std)`` on a contiguous tensor of ``n`` elements, in the
    kernel's precision (float, or double for float64 tensors); both paths (module docstring).
    ``reduced``: a float16/bfloat16 tensor, whose 16-wide path draws block by block."""
    if n < NORMAL_FILL_MIN:
        out = np.array([_scalar_normal(gen, mean, std) for _ in range(n)], dtype=np.float64)
        return out if double else out.astype(np.float32)
    if reduced and not double:
        return _normal_fill_blocks(gen, n, mean, std)
    unit: Callable[[TorchGenerator, int], Floats] = unit_float64 if double else unit_float32
    fill: Callable[[Any, float, float], Floats] = (
        _normal_fill_16_double if double else normal_fill_16_avx2
    )
    data = unit(gen, n)
    whole = n - n % 16
    data[:whole] = fill(data[:whole].reshape(-1, 16), mean, std).ravel()
    if n % 16:  # 16 fresh uniforms; the last 16 values are recomputed from them
        data[n - 16 :] = fill(unit(gen, 16).reshape(1, 16), mean, std).ravel()
    return data


def _normal_fill_blocks(gen: TorchGenerator, n: int, mean: float, std: float) -> Floats:
    """``normal_fill`` for float16/bfloat16 (torch 2.13): 16 fresh float uniforms per block
    into a float buffer, ``NormalFill16<float>`` on it, cast; a size that is not a multiple of
    16 draws one more block for the last 16 values. Consumes ``16 * ceil(n / 16)`` words
    (float32 consumes ``n`` (+16)), measured against torch 2.13."""
    whole = n - n % 16
    blocks = whole // 16 + (1 if n % 16 else 0)
    filled = normal_fill_16_avx2(unit_float32(gen, 16 * blocks).reshape(-1, 16), mean, std)
    flat = filled.ravel()
    out = np.empty(n, dtype=np.float32)
    out[:whole] = flat[:whole]
    if n % 16:
        out[n - 16 :] = flat[whole:]
    return out


def _scalar_normal(gen: TorchGenerator, mean: float, std: float) -> float:
    """``at::normal_distribution<double>(mean, std)(gen)``, with the generator's cache.

    libm's scalar log1p/sin/cos through Python's math module (the same functions torch's
    kernel calls on glibc); ``ret * std + mean`` as torch's ``transformation::normal``."""
    cached = gen.cached_normal
    if cached is not None:
        gen.cached_normal = None
        ret = cached
    else:
        u1, u2 = (float(x) for x in unit_float64(gen, 2))
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = _TWO_PI * u1
        gen.cached_normal = r * math.sin(theta)
        ret = r * math.cos(theta)
    return float(fma64(np.array([ret]), std, mean)[0]) if mean != 0.0 else ret * std


RANDPERM_SMALL = (1 << 32) // 20  # randperm_cpu: below it, Fisher-Yates on 32-bit words


def randperm_columns(gen: TorchGenerator, n: int, count: int) -> NDArray[np.int64]:
    """``count`` successive ``torch.randperm(n)`` (aten/src/ATen/native/TensorFactories.cpp
    ``randperm_cpu`` for n < 2**32 / 20): start from 0..n-1 and for i in 0..n-2 swap entry i
    with entry ``i + random() % (n - i)``; n - 1 words each (verified against torch 2.13)."""
    if n >= RANDPERM_SMALL:  # pragma: no cover - far above the torch-cpu element limit
        raise InvalidParameterError(f"randperm({n}) uses torch's 64-bit path, not reproduced")
    perms = np.tile(np.arange(n, dtype=np.int64), (count, 1))
    if n < 2 or count == 0:
        gen.words(max(n - 1, 0) * count)
        return perms
    words = gen.words((n - 1) * count).astype(np.int64).reshape(count, n - 1)
    rows = np.arange(count)
    for i in range(n - 1):
        j = i + words[:, i] % (n - i)
        held = perms[rows, i].copy()
        perms[rows, i] = perms[rows, j]
        perms[rows, j] = held
    return perms
