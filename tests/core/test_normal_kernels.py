"""app/core/_normal.c: every copy of the compiled float32 sampler gives the numpy path's bits.

The golden hashes (tests/core/test_golden.py, tests/golden) run with the default, compiled
sampler; here each kernel set is compared with ``kernel_set="numpy"`` on the words where a
slip would show: every exponent choice of ``u1`` (``a`` near each power of two and near
2**32), ``u1 = 1``, every quadrant boundary and sign of ``theta``, and random words.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from app.core import normal
from app.core.errors import InvalidParameterError
from app.core.normal import standard_normal_from_raw, standard_normal_from_streams

KERNEL_SETS = normal.compiled_kernel_sets()
U64 = np.uint64


def test_extension_is_built_here() -> None:
    # `make install` (pip install -e .) compiles app/core/_normal.c; without a C compiler
    # the service still runs (numpy path, same bytes) but this suite insists.
    assert "baseline" in KERNEL_SETS, "app.core._normal was not built: is gcc installed?"


def edge_words() -> NDArray[np.uint64]:
    """Low halves around every power of two and 2**32 - 1; high halves around every eighth
    of the circle (quadrant and octant boundaries, both signs of x)."""
    lows = {0, 1, 2, 2**32 - 1, 2**32 - 2, 2**31 - 1, 2**31}
    for e in range(33):
        for delta in (-2, -1, 0, 1, 2):
            lows.add((2**e + delta) % 2**32)
        # the exponent choice flips where x = a + 1 crosses sqrt(1/2) 2**e
        edge = int(2**e * 0.7071067811865476)
        for delta in range(-3, 4):
            lows.add((edge + delta) % 2**32)
    highs = set()
    for octant in range(8):
        for delta in (-2, -1, 0, 1, 2):
            highs.add((octant * 2**29 + delta) % 2**32)
    low_list, high_list = sorted(lows), sorted(highs)
    words = [lo | (hi << 32) for lo in low_list for hi in high_list[:: max(1, len(high_list) // 7)]]
    words += [low_list[i % len(low_list)] | (hi << 32) for i, hi in enumerate(high_list)]
    return np.array(words, dtype=U64)


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
@pytest.mark.parametrize("odd", [False, True])
def test_edge_words_same_bits_as_numpy(kernel_set: str, odd: bool) -> None:
    words = edge_words()
    n = 2 * words.size - int(odd)
    expected = standard_normal_from_raw(words, n, np.float32, kernel_set="numpy")
    got = standard_normal_from_raw(words, n, np.float32, kernel_set=kernel_set)
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
def test_million_random_words_same_bits_as_numpy(kernel_set: str) -> None:
    words = np.random.PCG64(2026).random_raw(1 << 20)
    expected = standard_normal_from_raw(words, 2 * words.size, np.float32, kernel_set="numpy")
    got = standard_normal_from_raw(words, 2 * words.size, np.float32, kernel_set=kernel_set)
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
@settings(max_examples=50, deadline=None)
@given(words=hnp.arrays(U64, st.integers(1, 70)), drop=st.booleans())
def test_any_words_same_bits_as_numpy(
    kernel_set: str, words: NDArray[np.uint64], drop: bool
) -> None:
    n = 2 * words.size - int(drop)
    expected = standard_normal_from_raw(words, n, np.float32, kernel_set="numpy")
    got = standard_normal_from_raw(words, n, np.float32, kernel_set=kernel_set)
    assert got.tobytes() == expected.tobytes()


def test_threads_hold_no_gil_and_agree() -> None:
    # Each block is one call that releases the GIL: concurrent calls give the same bytes.
    from concurrent.futures import ThreadPoolExecutor

    counts = [65536] * 6 + [1001]

    def job(_: int) -> bytes:
        bitgens = [np.random.PCG64(seed) for seed in range(len(counts))]
        return standard_normal_from_streams(bitgens, counts, np.float32).tobytes()

    expected = job(0)
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert all(r == expected for r in pool.map(job, range(9)))


def test_unknown_kernel_set_is_refused() -> None:
    words = np.zeros(2, dtype=U64)
    with pytest.raises(ValueError, match="not available"):
        standard_normal_from_raw(words, 4, np.float32, kernel_set="sse9")


BAD_CALLS = {
    "float64 out": (np.zeros(2, U64), np.empty(4, np.float64)),
    "int64 words": (np.zeros(2, np.int64), np.empty(4, np.float32)),
    "too few words": (np.zeros(1, U64), np.empty(4, np.float32)),
    "strided out": (np.zeros(4, U64), np.empty(8, np.float32)[::2]),
    "read-only out": (np.zeros(2, U64), np.broadcast_to(np.float32(0), (4,))),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_arguments_raise_instead_of_touching_memory(case: str) -> None:
    from app.core import _normal

    words, out = BAD_CALLS[case]
    with pytest.raises((ValueError, BufferError, TypeError)):
        _normal.normal32(words, out)


def test_float64_is_the_numpy_path_only() -> None:
    words = np.random.PCG64(3).random_raw(8)
    got = standard_normal_from_raw(words, 8, np.float64)
    assert (
        got.tobytes()
        == standard_normal_from_raw(words, 8, np.float64, kernel_set="numpy").tobytes()
    )
    with pytest.raises(InvalidParameterError):
        standard_normal_from_raw(words, 3, np.float16)


@pytest.mark.parametrize("kernel_set", ["numpy", *KERNEL_SETS])
def test_one_bit_generator_twice_draws_in_order(kernel_set: str) -> None:
    # The compiled streams take each generator's lock once and draw its words in list order.
    g = np.random.PCG64(11)
    got = standard_normal_from_streams([g, g], [5, 4], np.float32, kernel_set=kernel_set)
    h = np.random.PCG64(11)
    first = standard_normal_from_raw(h.random_raw(3), 5, np.float32, kernel_set="numpy")
    second = standard_normal_from_raw(h.random_raw(2), 4, np.float32, kernel_set="numpy")
    assert got.tobytes() == np.concatenate([first, second]).tobytes()
    assert g.state == h.state


def test_streams_wait_for_a_generator_locked_elsewhere() -> None:
    import threading

    g = np.random.PCG64(12)
    done = threading.Event()

    def draw() -> None:
        standard_normal_from_streams([g], [8], np.float32)
        done.set()

    with g.lock:
        worker = threading.Thread(target=draw)
        worker.start()
        assert not done.wait(0.2)  # blocked on the lock, as random_raw would be
    worker.join(5)
    assert done.is_set()
