"""Turn tensor plans (``plans.py``) into arrays: blocks-v1 (parallel, random access), and
numpy-legacy by dispatch to ``legacy.py``.

``generate_tensor`` fills element-wise
laws block by block (any thread count, identical bytes); whole-matrix laws (orthogonal,
delta-orthogonal, sparse) are the documented exception and are built in one piece, from the
same block streams for their Gaussian draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import legacy, torch_modules
from .cancel import checkpoint
from .deterministic import deterministic_values
from .dtypes import cast_output, working_dtype
from .laws import (
    WHOLE_MATRIX_LAWS,
    ConstantLaw,
    CounterLaw,
    DeltaOrthogonalLaw,
    Law,
    NormalLaw,
    OrthogonalLaw,
    SparseLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from .linalg import orthogonal_q
from .plans import TensorPlan, check_size
from .sampling import BLOCKS_PER_TASK, magnitude_bound, sample_blocks
from .streams import BLOCK_SIZE, block_bitgen, check_seed, run_blocks, whole_bitgen
from .types import Algorithm, DType

ElementwiseLaw = ConstantLaw | UniformLaw | NormalLaw | TruncatedNormalLaw


def _block_length(numel: int, index: int) -> int:
    return min(BLOCK_SIZE, numel - index * BLOCK_SIZE)


def elementwise_range(
    plan: TensorPlan,
    law: ElementwiseLaw,
    seed: int,
    start: int,
    stop: int,
    *,
    threads: int,
    out: NDArray[Any] | None = None,
) -> NDArray[np.floating[Any]]:
    """Elements ``[start, stop)`` in the working precision, from the blocks that cover them.

    Blocks go to the sampler :data:`~app.core.sampling.BLOCKS_PER_TASK` at a time (one batched
    kernel pass each: fewer, longer numpy calls, so threads rarely wait for the GIL); groups are
    spread over ``threads`` threads. The values never depend on either. ``out`` (a 1-D array
    of the working dtype and length ``stop - start``), when given and the range starts on a
    block, receives them directly (returned); otherwise a new array does.
    """
    working = working_dtype(plan.dtype)
    if isinstance(law, ConstantLaw):
        return np.full(stop - start, working(law.value), dtype=working)
    first = start // BLOCK_SIZE
    last = (stop - 1) // BLOCK_SIZE
    size = min(plan.numel, (last + 1) * BLOCK_SIZE) - first * BLOCK_SIZE
    span: NDArray[Any]
    if out is not None and out.dtype == np.dtype(working) and out.shape == (size,):
        span = out if start == first * BLOCK_SIZE else np.empty(size, working)
    else:
        span = np.empty(size, working)

    def fill(group: int) -> None:
        checkpoint()  # a stopped job draws no more blocks
        blocks = range(group, min(group + BLOCKS_PER_TASK, last + 1))
        lengths = [_block_length(plan.numel, index) for index in blocks]
        lo = (group - first) * BLOCK_SIZE
        sample_blocks(
            law,
            [block_bitgen(seed, plan.name, index) for index in blocks],
            lengths,
            working,
            span[lo : lo + sum(lengths)],
        )

    run_blocks(list(range(first, last + 1, BLOCKS_PER_TASK)), fill, threads)
    offset = start - first * BLOCK_SIZE
    if offset == 0 and span.size == stop - start:
        return span
    return np.array(span[offset : offset + stop - start])


def _gaussian_matrix(
    seed: int, name: str, rows: int, cols: int, threads: int
) -> NDArray[np.float64]:
    """A float64 N(0, 1) (rows, cols) matrix from the tensor's own block streams."""
    plan = TensorPlan(name, (rows, cols), DType.FLOAT64, NormalLaw(0.0, 1.0))
    flat = elementwise_range(plan, NormalLaw(0.0, 1.0), seed, 0, rows * cols, threads=threads)
    return np.asarray(flat, dtype=np.float64).reshape(rows, cols)


def _orthogonal(seed: int, name: str, rows: int, cols: int, threads: int) -> NDArray[np.float64]:
    """Haar (rows, cols): orthonormal columns if rows >= cols, else orthonormal rows."""
    a = _gaussian_matrix(seed, name, rows, cols, threads)
    if rows < cols:
        return np.ascontiguousarray(orthogonal_q(np.ascontiguousarray(a.T)).T)
    return orthogonal_q(a)


def _whole_matrix(plan: TensorPlan, law: Law, seed: int, threads: int) -> NDArray[np.floating[Any]]:
    working = working_dtype(plan.dtype)
    if isinstance(law, OrthogonalLaw):
        q = _orthogonal(seed, plan.name, law.rows, law.cols, threads)
        q *= law.gain
        return q.reshape(plan.shape).astype(working)
    if isinstance(law, DeltaOrthogonalLaw):
        m = _orthogonal(seed, plan.name, law.in_channels, law.out_channels, threads)
        m *= law.gain
        out = np.zeros(plan.shape, dtype=working)
        if law.channels_last:  # (*kernel, in, out)
            centre = tuple((k - 1) // 2 for k in plan.shape[:-2])
            out[centre] = m
        else:  # (out, in, *kernel)
            centre = tuple((k - 1) // 2 for k in plan.shape[2:])
            taps: tuple[Any, ...] = (slice(None), slice(None), *centre)
            out[taps] = m.T
        return out
    if isinstance(law, SparseLaw):
        rows, cols = plan.shape
        values = elementwise_range(
            plan, NormalLaw(0.0, law.value_std), seed, 0, plan.numel, threads=threads
        ).reshape(rows, cols)
        k = law.zeros_per_column
        if k:
            keys = whole_bitgen(seed, plan.name).random_raw(rows * cols)
            keys = np.asarray(keys, dtype=np.uint64).reshape(cols, rows)
            zero_rows = np.argsort(keys, axis=1, kind="stable")[:, :k]
            values[zero_rows, np.arange(cols)[:, None]] = 0
        return values
    raise TypeError(f"not a whole-matrix law: {law!r}")  # pragma: no cover


def generate_tensor(plan: TensorPlan, seed: int, *, threads: int = 1) -> NDArray[np.generic]:
    """The whole tensor under blocks-v1, in its output dtype and shape."""
    check_seed(seed)
    check_size(plan)
    if isinstance(plan.law, CounterLaw):
        return np.zeros(plan.shape, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        values, bound = _values(plan, seed, threads)
    return cast_output(values, plan.dtype, bound=bound)


def _values(plan: TensorPlan, seed: int, threads: int) -> tuple[NDArray[Any], float | None]:
    """The working-precision values and, for the samplers' laws, a bound on their size."""
    law = plan.law
    working = working_dtype(plan.dtype)
    bound = None
    values = deterministic_values(plan.shape, law, working)
    if values is None:
        if isinstance(law, WHOLE_MATRIX_LAWS):
            values = _whole_matrix(plan, law, seed, threads)
        else:
            assert isinstance(law, ElementwiseLaw)
            flat = elementwise_range(plan, law, seed, 0, plan.numel, threads=threads)
            values = flat.reshape(plan.shape)
            bound = magnitude_bound(law, working)
    if plan.zero_row is not None:
        values[plan.zero_row] = 0
    return values, bound


def generate_all(
    plans: list[TensorPlan],
    seed: int,
    algorithm: Algorithm = Algorithm.BLOCKS_V1,
    *,
    threads: int = 1,
) -> list[NDArray[np.generic]]:
    """Every tensor of a request, in order."""
    if algorithm is Algorithm.NUMPY_LEGACY:
        return legacy.generate_sequential(plans, seed)
    if algorithm is Algorithm.TORCH_CPU:
        return torch_modules.generate_sequential(plans, seed)
    return [generate_tensor(plan, seed, threads=threads) for plan in plans]
