"""JAX's Threefry-2x32 PRNG in numpy: keys, ``split``, ``fold_in`` and ``random_bits``.

Reproduces jax 0.10.2 (jaxlib 0.10.2) with its default ``jax_threefry_partitionable=True``
and ``jax_enable_x64=False``, bit for bit (``jax/_src/random/threefry2x32.py``,
``jax/_src/random/prng.py``):

* ``threefry_2x32(k1, k2, x0, x1)``: Threefry-2x32 with 20 rounds, rotations
  (13, 15, 26, 6) / (17, 29, 16, 24), key schedule ``k3 = k1 ^ k2 ^ 0x1BD11BDA`` and a key
  injection after every 4 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2,
  3", SC 2011), on uint32 words (numpy's uint32 arithmetic wraps mod 2**32, like XLA's).
* ``key(seed)``: ``jax.random.key`` converts the Python int to a 64-bit integer
  (``OverflowError`` at and above 2**63 and below -2**63) and, with x64 disabled, to 32 bits:
  the key words are ``(0, seed mod 2**32)`` (``threefry_seed``: ``(seed >> 32, seed &
  0xFFFFFFFF)`` of the 32-bit value). So seeds 5 and 2**32 + 5 give the same key.
* ``fold_in(key, d)``: ``threefry_2x32(key, [0, d])`` (``threefry_seed(uint32(d))`` is
  ``(0, d)``; the pair is hashed as the block (x0, x1) = (0, d)).
* ``split(key, n)[i]`` (partitionable): the key ``threefry_2x32(key, (i >> 32, i & mask))``.
* ``random_bits(key, 32, shape)`` (partitionable): element ``i`` of the flattened array is
  ``b0 ^ b1`` of ``threefry_2x32(key, (i >> 32, i & mask))``; element ``i`` depends on
  ``(key, i)`` only, so any element range is computed without the elements before it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

U32 = NDArray[np.uint32]
Key = tuple[int, int]  # the two uint32 key words (k1, k2)

MASK32 = 0xFFFFFFFF
KEY_PARITY = 0x1BD11BDA  # Threefry's key-schedule parity constant
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
# jax.random.key converts the seed to int64 first (numpy's conversion overflows outside it).
JAX_MIN_SEED = -(1 << 63)
JAX_MAX_SEED = (1 << 63) - 1


def key(seed: int) -> Key:
    """``jax.random.key(seed)``'s key words with x64 disabled: ``(0, seed mod 2**32)``.

    Raises ValueError outside -2**63..2**63-1, where jax raises OverflowError.
    """
    if not JAX_MIN_SEED <= seed <= JAX_MAX_SEED:
        raise ValueError(f"jax.random.key takes seeds in {JAX_MIN_SEED}..{JAX_MAX_SEED}")
    return (0, seed & MASK32)


def _rotl(v: U32, r: int) -> U32:
    return (v << np.uint32(r)) | (v >> np.uint32(32 - r))


def threefry_2x32(k: Key, x0: U32, x1: U32) -> tuple[U32, U32]:
    """The Threefry-2x32 block function on counter words ``(x0, x1)`` (arrays of uint32)."""
    k1, k2 = np.uint32(k[0]), np.uint32(k[1])
    ks = (k1, k2, np.uint32(k[0] ^ k[1] ^ KEY_PARITY))
    a = x0 + ks[0]
    b = x1 + ks[1]
    for block in range(5):
        for r in ROTATIONS[block % 2]:
            a = a + b
            b = _rotl(b, r)
            b = a ^ b
        a = a + ks[(block + 1) % 3]
        b = b + ks[(block + 2) % 3] + np.uint32(block + 1)
    return a, b


def _counters(start: int, stop: int) -> tuple[U32, U32]:
    """The flat indices ``start..stop-1`` as (hi, lo) uint32 words (jax's iota_2x32_shape)."""
    if stop <= 1 << 32 and start >= 0:
        lo = np.arange(start, stop, dtype=np.uint64).astype(np.uint32)
        return np.zeros(stop - start, dtype=np.uint32), lo
    idx = np.arange(start, stop, dtype=np.uint64)
    return (idx >> np.uint64(32)).astype(np.uint32), (idx & np.uint64(MASK32)).astype(np.uint32)


def fold_in(k: Key, data: int) -> Key:
    """``jax.random.fold_in(key, data)`` for a uint32 ``data``."""
    a, b = threefry_2x32(k, np.array([0], np.uint32), np.array([data & MASK32], np.uint32))
    return (int(a[0]), int(b[0]))


def split(k: Key, num: int = 2) -> list[Key]:
    """``jax.random.split(key, num)`` (partitionable: key i hashes the counter i)."""
    a, b = threefry_2x32(k, *_counters(0, num))
    return [(int(x), int(y)) for x, y in zip(a.tolist(), b.tolist(), strict=True)]


def random_bits32(k: Key, start: int, stop: int) -> U32:
    """Elements ``start..stop-1`` of ``jax.random.bits(key, (n,), uint32)`` for any n >= stop."""
    a, b = threefry_2x32(k, *_counters(start, stop))
    out: U32 = a ^ b
    return out
