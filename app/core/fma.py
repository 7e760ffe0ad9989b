"""Multiply-adds rounded once (``std::fma``, ``vfmadd``), from IEEE float64 operations only.

Compiled framework kernels fuse ``a * b + c`` into one instruction (GCC contracts a multiply
feeding an add; XLA emits fused multiply-adds), and numpy never does: these give the fused
results exactly, on every machine. :func:`fma32` for float32 operands, :func:`fma64` for
doubles (Dekker's product and Knuth's TwoSum, then the tie rule). Shared by the torch-cpu and
jax-threefry algorithms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitter for doubles


def fma32(a: Any, b: Any, c: Any) -> F32:
    """``a * b + c`` for float32 operands with one rounding (``std::fma``, ``vfmadd``).

    The product of two float32 is exact in float64, so ``s = p + c`` in float64 is the exact
    sum rounded once, and rounding ``s`` to float32 is the correct rounding of ``p + c``
    unless ``s`` is exactly halfway between two float32 values (no other float32 rounding
    boundary can lie between the exact sum and ``s``): only there, and below float32's normal
    range where the halfway points have more bits, :func:`_fma32_ties` uses the sum's exact
    error to break the tie.
    """
    a64 = np.asarray(a, dtype=np.float32).astype(np.float64)
    b64 = np.asarray(b, dtype=np.float32).astype(np.float64)
    c64 = np.asarray(c, dtype=np.float32).astype(np.float64)
    p = a64 * b64
    s = np.asarray(p + c64)
    out = np.asarray(s.astype(np.float32))
    low = s.view(np.uint64) & np.uint64(_LOW29)
    suspect = (low == np.uint64(_HALF29)) | (np.abs(s) < _MIN_NORMAL32)
    if suspect.any():
        p, c64 = np.broadcast_to(p, s.shape), np.broadcast_to(c64, s.shape)
        out = out.copy()
        out[suspect] = _fma32_ties(p[suspect], c64[suspect], s[suspect])
    return out


# A float64 holds 29 more mantissa bits than a float32: a float32 halfway point has them
# 1000...0; below float32's smallest normal the halfway points have more bits.
_LOW29 = (1 << 29) - 1
_HALF29 = 1 << 28
_MIN_NORMAL32 = 2.0**-126


def _fma32_ties(p: F64, c64: F64, s: F64) -> F32:
    """Correct float32 rounding of ``p + c64`` (``s`` its float64 rounding): TwoSum gives the
    error ``e`` exactly, which breaks a float32 tie at ``s``."""
    bb = s - p
    e = (p - (s - bb)) + (c64 - bb)
    out = s.astype(np.float32)
    other = np.nextafter(out, np.where(s > out, np.float32(np.inf), np.float32(-np.inf)))
    tie = (e != 0) & (s != out) & (2 * np.abs(s - out) == np.abs(other.astype(np.float64) - out))
    if tie.any():
        # one float64 step from s toward the exact sum (s + e itself rounds back to s)
        toward = np.nextafter(s, np.where(e > 0, np.inf, -np.inf))
        out = np.where(tie, toward.astype(np.float32), out)
    return np.asarray(out)


def two_sum(a: Any, b: Any) -> tuple[F64, F64]:
    """Knuth's TwoSum: ``a + b = s + e`` exactly, ``s`` the rounded sum."""
    s = np.asarray(a + b, dtype=np.float64)
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def two_prod(a: F64, b: float) -> tuple[F64, F64]:
    """Dekker's product: ``a * b = p + e`` exactly (IEEE operations only; no overflow)."""
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    tb = _SPLIT * b
    bh = tb - (tb - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def fma64(a: F64, b: float, c: float) -> F64:
    """``a * b + c`` in double with one rounding, from IEEE operations only.

    ``a * b = p + ep`` (Dekker), ``p + c = s + es`` (TwoSum), ``es + ep = t + et``; ``s + t``
    rounded is the answer unless ``s + t`` is exactly a tie, which ``et`` then breaks (any
    other rounding boundary is farther from ``s + t`` than ``|et|``)."""
    p, ep = two_prod(a, b)
    s, es = two_sum(p, np.float64(c))
    t, et = two_sum(es, ep)
    r, er = two_sum(s, t)
    toward = np.nextafter(r, np.where(er > 0, np.inf, -np.inf))  # r + er may round back to r
    tie = (er != 0) & (et != 0) & (2 * np.abs(er) == np.abs(toward - r))
    if tie.any():
        r = np.where(tie & (np.sign(et) == np.sign(er)), toward, r)
    return r
