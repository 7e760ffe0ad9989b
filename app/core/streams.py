"""Seeded block streams of the ``blocks-v1`` algorithm.

A tensor's random values depend only on (seed, the tensor's name within the request) and,
through the sampler, on its scheme, shape and dtype. The flat (row-major) tensor is cut into
blocks of :data:`BLOCK_SIZE` elements. The tensor's stream is the PCG64 generator seeded by

    SeedSequence(entropy=seed, spawn_key=(BLOCKS_DOMAIN, *name_key(name)))

and block ``i`` draws from that stream advanced by ``i * 2**64`` steps (``PCG64.advance``, a
jump computed in O(log) 128-bit integer operations), a stretch no block can exhaust. So any
block can be produced without producing the ones before it, and blocks can be filled by any
number of threads with identical output. ``name_key`` is the 8 little-endian 32-bit words
of SHA-256 of the UTF-8 name, so any name (of any length) maps to a fixed-size key.
Whole-matrix schemes (the sparse mask) use one extra stream per tensor,
``spawn_key=(WHOLE_DOMAIN, *name_key(name))``. Everything here is integer arithmetic
(SeedSequence hashing, PCG64), identical on every machine. The constants are frozen with
``blocks-v1``: changing any of them changes output bytes and needs a new algorithm name.

The block size (2**16) and the jump-ahead were chosen by measurement (bench/bench_streams.py):
setting up a block's generator this way costs about 5 microseconds here (a fresh SeedSequence
per block cost 22), 2-3 % of filling 65 536 float32 values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import lru_cache

import numpy as np

from .errors import InvalidParameterError

BLOCK_SIZE = 1 << 16
BLOCKS_DOMAIN = 0x626C6B31  # ASCII "blk1"
WHOLE_DOMAIN = 0x77686C31  # ASCII "whl1"
MAX_SEED = (1 << 64) - 1


def check_seed(seed: int, maximum: int = MAX_SEED) -> int:
    """Validate a seed: an integer in 0..maximum (bool refused)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidParameterError(f"seed must be an integer, got {seed!r}.", field="seed")
    if not 0 <= seed <= maximum:
        raise InvalidParameterError(
            f"seed must be between 0 and {maximum}, got {seed}.", field="seed"
        )
    return seed


def name_key(name: str) -> tuple[int, ...]:
    """Frozen map from a tensor name to 8 stream-key words (SHA-256 of UTF-8, little-endian)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4))


BLOCK_STRIDE = 1 << 64  # draws between the starts of two blocks' streams


@lru_cache(maxsize=4096)
def tensor_seed_sequence(seed: int, name: str) -> np.random.SeedSequence:
    """The SeedSequence of tensor ``name`` (hashed once per tensor, then reused per block)."""
    key = (BLOCKS_DOMAIN, *name_key(name))
    return np.random.SeedSequence(entropy=seed, spawn_key=key)


def block_bitgen(seed: int, name: str, block: int) -> np.random.PCG64:
    """The bit generator of block ``block`` of tensor ``name``."""
    bitgen = np.random.PCG64(tensor_seed_sequence(seed, name))
    bitgen.advance(block * BLOCK_STRIDE)
    return bitgen


def whole_bitgen(seed: int, name: str) -> np.random.PCG64:
    """The one extra stream of a tensor, for whole-matrix draws (sparse masks)."""
    key = (WHOLE_DOMAIN, *name_key(name))
    return np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=key))


def run_blocks(indices: list[int], work: Callable[[int], None], threads: int = 1) -> None:
    """Run ``work(block)`` for every block, on ``threads`` threads (output never depends on it)."""
    if threads <= 1 or len(indices) <= 1:
        for index in indices:
            work(index)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(work, indices):
            pass


@contextmanager
def holding_locks(bitgens: Sequence[np.random.BitGenerator]) -> Iterator[None]:
    """Hold every bit generator's lock (as ``random_raw`` holds its own) for a compiled call
    that draws from them all: each lock once, in one global order, so that two such calls
    never wait for each other crosswise."""
    with ExitStack() as held:
        for _, lock in sorted({id(g.lock): g.lock for g in bitgens}.items()):
            held.enter_context(lock)
        yield
