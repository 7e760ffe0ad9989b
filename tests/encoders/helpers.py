"""Arrays shared by the encoder tests: every dtype the core emits, shapes of rank 0 to 4."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
from numpy.typing import NDArray

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
FLOAT_DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BFLOAT16]
ALL_DTYPES = [*FLOAT_DTYPES, np.dtype(np.int64)]
NPY_DTYPES = [d for d in ALL_DTYPES if d != BFLOAT16]
SHAPES: list[tuple[int, ...]] = [(), (7,), (3, 5), (2, 3, 1, 4)]


def sample(dtype: np.dtype[Any], shape: tuple[int, ...], seed: int = 0) -> NDArray[Any]:
    """A reproducible array of ``dtype`` and ``shape`` (a zero for a 0-d int64, like torch)."""
    size = int(np.prod(shape, dtype=np.int64))
    if dtype == np.dtype(np.int64):
        return (np.arange(size, dtype=np.int64) * 7 - 3).reshape(shape)
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(size) * 0.05
    if size > 1:
        values[1] = -0.0
    return values.astype(dtype).reshape(shape)


def same_bytes(left: NDArray[Any], right: NDArray[Any]) -> bool:
    """Same dtype, shape and little-endian bytes (so -0.0 differs from 0.0)."""
    return (
        left.dtype == right.dtype
        and left.shape == right.shape
        and np.ascontiguousarray(left).tobytes() == np.ascontiguousarray(right).tobytes()
    )


def special_values(dtype: np.dtype[Any]) -> NDArray[Any]:
    """Edge values of a float dtype: zeros, subnormals, extremes, binade and decade edges."""
    info = ml_dtypes.finfo(dtype)  # type: ignore[no-untyped-call]
    base = [
        0.0,
        -0.0,
        float(info.smallest_subnormal),
        float(info.smallest_normal) - float(info.smallest_subnormal),  # largest subnormal
        float(info.smallest_normal),
        float(info.max),
        -float(info.max),
        1.0,
        -1.0,
        0.1,
        1 / 3,
        2 / 3,
        1e-4,
        1e-5,
        9.999e-5,
        123.456,
        65504.0,
        1e16 if float(info.max) > 1e17 else 1e4,
    ]
    values = np.array(base, np.float64).astype(dtype)
    # Powers of two and of ten with their neighbours (asymmetric and decade boundaries).
    lo, hi = int(info.minexp) - int(info.nmant), int(info.maxexp) - 1
    powers = [2.0**e for e in range(lo, hi + 1)]
    powers += [10.0**e for e in range(-320, 309) if float(info.smallest_subnormal) <= 10.0**e]
    with np.errstate(over="ignore"):
        edges = np.array(powers).astype(dtype)
    edges = edges[np.isfinite(edges.astype(np.float64)) & (edges.astype(np.float64) > 0)]
    bits = edges.view(f"<u{dtype.itemsize}")
    neighbours = np.concatenate([bits - 1, bits, bits + 1]).view(dtype)
    finite = neighbours[np.isfinite(neighbours.astype(np.float64))]
    out: NDArray[Any] = np.concatenate([values, finite, -finite])
    return out
