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


def finite_bit_patterns(dtype: np.dtype[Any], n: int, seed: int) -> NDArray[Any]:
    """About ``n`` values whose bit patterns are uniform over all finite values of ``dtype``.

    Uniform bits cover every binade evenly: subnormals, the largest finite values and every
    decimal exponent turn up in proportion to how many values they hold.
    """
    rng = np.random.default_rng(seed)
    width = dtype.itemsize * 8
    bits = rng.integers(0, 1 << width, n, dtype=np.uint64, endpoint=False)
    values = bits.astype(f"<u{dtype.itemsize}").view(dtype)
    with np.errstate(invalid="ignore"):  # NaN bit patterns
        finite: NDArray[Any] = values[np.isfinite(values.astype(np.float64))]
    return finite


def golden_json_input(dtype: np.dtype[Any]) -> NDArray[Any]:
    """The fixed rank-3 input of the JSON goldens: edge values, uniform bits, scaled normals.

    The normals at scales 1e-6 .. 1e15 hit both of repr's spelling switches (``1e-05``,
    ``1e+16``) and the decades where float32 values lie exactly between two shortest
    candidates (``382.171875``).
    """
    if dtype == np.dtype(np.int64):
        info = np.iinfo(np.int64)
        rng = np.random.default_rng(11)
        ints = [rng.integers(info.min, info.max, 3000, dtype=np.int64, endpoint=True)]
        parts: list[NDArray[Any]] = [np.array([0, 1, -1, info.min, info.max], np.int64), *ints]
    else:
        rng = np.random.default_rng(12)
        with np.errstate(over="ignore"):  # float16 overflows at the large scales
            normals = [
                (rng.standard_normal(500) * scale).astype(dtype)
                for scale in (1e-6, 1e-4, 0.02, 1.0, 1e3, 1e6, 1e15)
            ]
        normals = [v[np.isfinite(v.astype(np.float64))] for v in normals]
        parts = [special_values(dtype), finite_bit_patterns(dtype, 4096, 13), *normals]
    values = np.concatenate(parts)
    values = values[: values.size - values.size % 12]
    return values.reshape(-1, 3, 4)


def mixed_json_input(dtype: np.dtype[Any], seed: int, size: int = 1 << 17) -> NDArray[Any]:
    """Mostly weight-like values with the hard cases mixed in, shuffled.

    An eighth are uniform bit patterns, the edge values are all there, and the rest are
    normals at scales from 1e-12 to 1e16 (weights, values near repr's spelling switches,
    decades with exact ties) and values with few significant bits (``0.75``, ``-96.0``).
    Few enough are hard that the orjson path splices instead of handing the whole array to
    the reference path.
    """
    rng = np.random.default_rng(seed)
    if dtype == np.dtype(np.int64):
        return rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size, np.int64)
    parts = [finite_bit_patterns(dtype, size // 8, seed), special_values(dtype)]
    scales = rng.uniform(0.01, 0.1, 64)  # most are weights
    scales[:8] = 10.0 ** rng.uniform(-12, 16, 8)
    with np.errstate(over="ignore"):
        parts += [(rng.standard_normal(size // 64) * s).astype(dtype) for s in scales]
        few_bits = rng.integers(-64, 64, size // 32) * np.exp2(rng.integers(-20, 20, size // 32))
        parts.append(few_bits.astype(dtype))
    values = np.concatenate(parts)
    values = values[np.isfinite(values.astype(np.float64))]
    rng.shuffle(values)
    return values
