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

Compiled float32: with the extensions built, float32 uniform blocks (``app/core/_uniform.c``)
and the float32 normal's ``z * std + mean`` (``app/core/_normal.c``, through
:func:`~app.core.normal.standard_normal_from_streams`) run in C, every block of a call in
one GIL-free call, drawing through each bit generator's capsule: the same operations, so the
same bits (``tests/core/test_uniform_kernel.py``, the golden hashes).

Batches of blocks
-----------------
:func:`sample_blocks` produces several blocks in one call, bit for bit the concatenation of
their :func:`sample_block` results: every element-wise step runs once over the whole batch,
each block's draws still come from its own stream in the same order (the rejection rounds
too: round ``r`` redraws every block's still-rejected positions from that block's stream).
Few long numpy calls instead of many short ones is what lets threads scale: each call
releases the GIL and takes it back, and a thread that finds it taken sleeps until woken,
which costs far more than the call. Give each thread task :data:`BLOCKS_PER_TASK` blocks
(``bench/bench_threads.py``, 2-core VM, 64 Mi float32 normals, best runs: 4 blocks 1.63x,
8 blocks 1.72x, 16 blocks 1.72x over one thread), submit all the tasks and wait for them
once (``concurrent.futures.wait``: ``pool.map`` wakes the caller for every result).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidParameterError
from .laws import ConstantLaw, NormalLaw, SegmentsLaw, TruncatedNormalLaw, UniformLaw
from .normal import stable_exp, stable_log, standard_normal_from_streams
from .streams import holding_locks

try:
    from . import _uniform
except ImportError:  # built without a C compiler: numpy's Generator.random, the same bits
    _uniform = None  # type: ignore[assignment]

Working = type[np.float32] | type[np.float64]
FloatArray = NDArray[np.floating[Any]]
ElementwiseLaw = ConstantLaw | UniformLaw | NormalLaw | TruncatedNormalLaw
Bitgens = Sequence[np.random.PCG64]

# Above this mass, plain rejection from the normal wastes at most 3 draws in 4.
NORMAL_REJECTION_MIN_MASS = 0.25
# A safety net: every loop below accepts a fixed positive fraction per round.
MAX_REJECTION_ROUNDS = 100_000
# Blocks per thread task recommended for callers that spread a tensor over threads: two
# float32 kernel chunks (normal._CHUNK32 pairs each), four float64 ones (module docstring);
# any grouping gives the same bytes.
BLOCKS_PER_TASK = 8


# Largest |z| normal.py's Box-Muller gives: sqrt(2 W ln 2) = 6.6604 (float32), 9.4193
# (float64), rounded up with room for the roundings of z * std + mean.
_NORMAL_MAX_Z = {np.dtype(np.float32): 6.67, np.dtype(np.float64): 9.43}


def magnitude_bound(law: ElementwiseLaw, working: Working) -> float:
    """An upper bound on ``|x|`` of every value :func:`sample_blocks` gives for ``law``.

    It bounds the intermediate results too, so that a bound under the dtype's range means
    nothing overflowed on the way (1.001 covers the roundings): uniform values are
    ``u * (high - low) + low`` or ``(2u - 1) * high``; normal ones ``z * std + mean`` with
    ``|z|`` at most the sampler's maximum; truncated ones ``mean + sigma * z`` from normal
    draws or proposals, clipped to ``[low, high]``.
    """
    z_max = _NORMAL_MAX_Z[np.dtype(working)]
    if isinstance(law, ConstantLaw):
        return abs(law.value)
    if isinstance(law, UniformLaw):
        return (abs(law.low) + abs(law.high)) * 1.001
    if isinstance(law, TruncatedNormalLaw):
        reach = abs(law.low) + abs(law.high) + abs(law.mean)
        return (reach + z_max * law.sigma) * 1.001
    return (z_max * law.std + abs(law.mean)) * 1.001


def standard_normal(bitgen: np.random.PCG64, n: int, working: Working) -> FloatArray:
    """n standard normal values in the working precision from the block's stream."""
    return standard_normal_from_streams([bitgen], [n], working)


def _offsets(lengths: Sequence[int]) -> NDArray[np.int64]:
    """Start of every block in the batch, and the total at the end."""
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return starts


def _uniform01_blocks(bitgens: Bitgens, lengths: Sequence[int], out: FloatArray) -> None:
    """out = the blocks' U[0, 1) values, drawn straight into it (no copy)."""
    at = 0
    for bitgen, n in zip(bitgens, lengths, strict=True):
        if n:
            np.random.Generator(bitgen).random(dtype=out.dtype.type, out=out[at : at + n])
        at += n


def sample_uniform(
    law: UniformLaw, bitgens: Bitgens, lengths: Sequence[int], working: Working, out: FloatArray
) -> None:
    if working is np.float32 and _uniform is not None:
        _uniform_compiled32(_uniform, law, bitgens, lengths, out)
        return
    u = out
    _uniform01_blocks(bitgens, lengths, u)
    if law.symmetric:
        u *= working(2)
        u -= working(1)
        u *= working(law.high)
        return
    low, high = working(law.low), working(law.high)
    u *= working(law.high - law.low)
    u += low
    np.minimum(u, np.nextafter(high, low), out=u)


def _uniform_compiled32(
    kernels: Any, law: UniformLaw, bitgens: Bitgens, lengths: Sequence[int], out: FloatArray
) -> None:
    """sample_uniform in float32 by ``app/core/_uniform.c``: the same draws (each block's
    ``Generator.random``, under its generator's lock) and the same float32 operations, for
    all the blocks in one GIL-free call."""
    f32 = np.float32
    if law.symmetric:
        mode, a, b, c = 1, float(f32(law.high)), 0.0, 0.0
    else:
        low, high = f32(law.low), f32(law.high)
        mode, a, b, c = (
            2,
            float(f32(law.high - law.low)),
            float(low),
            float(np.nextafter(high, low)),
        )
    with holding_locks(bitgens):
        capsules = [g.capsule for g in bitgens]
        spares = _spare_halves(bitgens)
        kernels.uniform32_streams(capsules, spares, list(lengths), out, mode, a, b, c)


def _spare_halves(bitgens: Bitgens) -> list[int]:
    """Each PCG64's ``has_uint32`` (whether its next 32-bit draw is a kept half), read before
    the call; -1 (draw value by value) for other generators and for a generator's later
    appearances in the list, whose flag the earlier ones change."""
    seen: set[int] = set()
    spares = []
    for bitgen in bitgens:
        first = id(bitgen) not in seen
        seen.add(id(bitgen))
        pcg = type(bitgen) is np.random.PCG64
        spares.append(int(bitgen.state["has_uint32"]) if pcg and first else -1)
    return spares


def sample_normal(
    law: NormalLaw, bitgens: Bitgens, lengths: Sequence[int], working: Working, out: FloatArray
) -> None:
    standard_normal_from_streams(bitgens, lengths, working, out, std=law.std, mean=law.mean)


def _pending_counts(pending: NDArray[np.intp], starts: NDArray[np.int64]) -> list[int]:
    """How many of the (sorted) pending positions fall in each block."""
    counts: list[int] = np.diff(np.searchsorted(pending, starts)).tolist()
    return counts


def _truncated_by_rejection(
    law: TruncatedNormalLaw,
    bitgens: Bitgens,
    lengths: Sequence[int],
    working: Working,
    out: FloatArray,
) -> None:
    lo, hi = working(law.alpha), working(law.beta)
    starts = _offsets(lengths)
    z = standard_normal_from_streams(bitgens, lengths, working, out)
    pending = np.flatnonzero((z < lo) | (z > hi))
    for _ in range(MAX_REJECTION_ROUNDS):
        if pending.size == 0:
            return
        fresh = standard_normal_from_streams(bitgens, _pending_counts(pending, starts), working)
        z[pending] = fresh
        pending = pending[(fresh < lo) | (fresh > hi)]
    raise RuntimeError("truncated normal rejection did not converge")  # pragma: no cover


def _draw_uv(
    bitgens: Bitgens, counts: Sequence[int]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each block's ``u = gen.random(m)`` then ``v = gen.random(m)``, concatenated."""
    total = sum(counts)
    u = np.empty(total, dtype=np.float64)
    v = np.empty(total, dtype=np.float64)
    at = 0
    for bitgen, m in zip(bitgens, counts, strict=True):
        if m:
            gen = np.random.Generator(bitgen)
            gen.random(out=u[at : at + m])
            gen.random(out=v[at : at + m])
        at += m
    return u, v


Proposal = Callable[[NDArray[np.float64], NDArray[np.float64]], tuple[NDArray[np.float64], Any]]


def _rejection(bitgens: Bitgens, lengths: Sequence[int], propose: Proposal) -> NDArray[np.float64]:
    """Rejection sampling, element by element in block order: each pending element draws its
    (u, v) pair from its own block's stream; ``propose(u, v)`` gives candidates and which are
    accepted; the rejected ones draw again, for at most MAX_REJECTION_ROUNDS rounds."""
    starts = _offsets(lengths)
    out = np.empty(int(starts[-1]), dtype=np.float64)
    pending = np.arange(out.size)
    for _ in range(MAX_REJECTION_ROUNDS):
        if pending.size == 0:
            return out
        u, v = _draw_uv(bitgens, _pending_counts(pending, starts))
        z, ok = propose(u, v)
        out[pending[ok]] = z[ok]
        pending = pending[~ok]
    raise RuntimeError("truncated normal rejection did not converge")  # pragma: no cover


def _truncated_one_sided_exponential(
    bitgens: Bitgens, lengths: Sequence[int], alpha: float, beta: float
) -> NDArray[np.float64]:
    """Robert (1995), Statistics and Computing 5:121: N(0,1) on [alpha, beta], alpha >= 0."""
    rate = (alpha + math.sqrt(alpha * alpha + 4.0)) / 2.0

    def propose(u: NDArray[np.float64], v: NDArray[np.float64]) -> tuple[NDArray[np.float64], Any]:
        z = alpha - stable_log(1.0 - u) / rate
        d = z - rate
        return z, (v < stable_exp(-0.5 * d * d)) & (z <= beta)

    return _rejection(bitgens, lengths, propose)


def _truncated_uniform_proposal(
    bitgens: Bitgens, lengths: Sequence[int], alpha: float, beta: float
) -> NDArray[np.float64]:
    """N(0,1) on a narrow [alpha, beta]: uniform proposal, accept with exp((m^2 - z^2)/2)."""
    m = min(max(0.0, alpha), beta)

    def propose(u: NDArray[np.float64], v: NDArray[np.float64]) -> tuple[NDArray[np.float64], Any]:
        z = alpha + (beta - alpha) * u
        return z, v < stable_exp(0.5 * (m * m - z * z))

    return _rejection(bitgens, lengths, propose)


def sample_truncated_standard(
    law: TruncatedNormalLaw,
    bitgens: Bitgens,
    lengths: Sequence[int],
    working: Working,
    out: FloatArray,
) -> None:
    """out = the blocks' draws of N(0, 1) restricted to the law's standardised bounds
    [alpha, beta] (module docstring)."""
    if law.mass >= NORMAL_REJECTION_MIN_MASS:
        _truncated_by_rejection(law, bitgens, lengths, working, out)
        return
    alpha, beta = law.alpha, law.beta
    mirrored = beta <= 0.0
    lo, hi = (-beta, -alpha) if mirrored else (alpha, beta)
    if lo >= 0.0 and (hi - lo) * lo > 1.0:
        z64 = _truncated_one_sided_exponential(bitgens, lengths, lo, hi)
    else:
        z64 = _truncated_uniform_proposal(bitgens, lengths, lo, hi)
    if mirrored:
        np.negative(z64, out=z64)
    np.copyto(out, z64, casting="same_kind")


def sample_truncated_normal(
    law: TruncatedNormalLaw,
    bitgens: Bitgens,
    lengths: Sequence[int],
    working: Working,
    out: FloatArray,
) -> None:
    z = out
    sample_truncated_standard(law, bitgens, lengths, working, z)
    z *= working(law.sigma)
    if law.mean != 0.0:
        z += working(law.mean)
    np.clip(z, working(law.low), working(law.high), out=z)


def segments_slice(law: SegmentsLaw, start: int, stop: int, working: Working) -> FloatArray:
    """Elements [start, stop) of a piecewise-constant law."""
    full = np.repeat(np.asarray(law.values, dtype=working), law.lengths)
    return np.ascontiguousarray(full[start:stop])


def sample_blocks(
    law: ElementwiseLaw,
    bitgens: Sequence[np.random.PCG64],
    lengths: Sequence[int],
    working: Working,
    out: FloatArray | None = None,
) -> FloatArray:
    """The values of several blocks of an element-wise law, concatenated, in one pass.

    Bit for bit ``np.concatenate([sample_block(law, g, n, working) for g, n in
    zip(bitgens, lengths)])``, and every stream advances exactly as it would there. Written
    into ``out`` (a C-contiguous 1-D array of ``working`` and length ``sum(lengths)``) when
    given, which is also returned; else into a new array. Thread-safe for distinct bit
    generators and non-overlapping ``out`` ranges; threads should get
    :data:`BLOCKS_PER_TASK` consecutive blocks per call (module docstring).
    """
    sizes = _block_lengths(bitgens, lengths)
    target = _output(out, sum(sizes), working)
    if isinstance(law, UniformLaw):
        sample_uniform(law, bitgens, sizes, working, target)
    elif isinstance(law, NormalLaw):
        sample_normal(law, bitgens, sizes, working, target)
    elif isinstance(law, TruncatedNormalLaw):
        sample_truncated_normal(law, bitgens, sizes, working, target)
    else:
        target.fill(working(law.value))
    return target


def sample_block(
    law: ElementwiseLaw,
    bitgen: np.random.PCG64,
    n: int,
    working: Working,
) -> FloatArray:
    """The n values of one block of an element-wise law."""
    return sample_blocks(law, [bitgen], [n], working)


def _block_lengths(bitgens: Sequence[np.random.PCG64], lengths: Sequence[int]) -> list[int]:
    if len(bitgens) != len(lengths):
        raise InvalidParameterError(
            f"{len(bitgens)} bit generators but {len(lengths)} block lengths.", field="lengths"
        )
    sizes = [int(n) for n in lengths]
    if any(n < 0 for n in sizes):
        raise InvalidParameterError("block lengths must be >= 0.", field="lengths")
    return sizes


def _output(out: FloatArray | None, size: int, working: Working) -> FloatArray:
    if out is None:
        return np.empty(size, dtype=working)
    if (
        not isinstance(out, np.ndarray)
        or out.dtype != np.dtype(working)
        or out.shape != (size,)
        or not out.flags.c_contiguous
        or not out.flags.writeable
    ):
        raise InvalidParameterError(
            f"out must be a writeable C-contiguous 1-D array of {np.dtype(working).name} "
            f"and length {size}.",
            field="out",
        )
    return out
