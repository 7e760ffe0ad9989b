"""mpmath constants are the same whatever other threads compute at the same time."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import mpmath
import pytest

from app.core import laws
from app.core.laws import truncated_standard_normal_moments

INTERVALS = [(-2.0 - k / 7, 2.0 + k / 11) for k in range(16)]
INTERVALS += [(k + 0.5, k + 0.5 + 10.0**-k) for k in range(16)]  # narrow and far: high dps


@contextmanager
def tiny_switch_interval() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def concurrent_moments(
    compute: Callable[[float, float], tuple[float, float, float]],
) -> list[object]:
    results: list[object] = [None] * (32 * len(INTERVALS))

    def worker(t: int) -> None:
        for i in range(len(INTERVALS)):
            j = (i + t) % len(INTERVALS)  # every thread in another order
            results[t * len(INTERVALS) + j] = compute(*INTERVALS[j])

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(32)]
    with tiny_switch_interval():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return results


def test_truncated_moments_do_not_depend_on_other_threads() -> None:
    compute = truncated_standard_normal_moments.__wrapped__  # no cache: every call computes
    expected = [compute(a, b) for a, b in INTERVALS] * 32
    assert concurrent_moments(compute) == expected


def test_the_test_detects_an_unguarded_global_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same computation on mpmath's bare global context (what laws.py did before) gives
    # different last bits under the same load: the test above is not vacuous.
    monkeypatch.setattr(laws, "working_precision", mpmath.workdps)
    compute = truncated_standard_normal_moments.__wrapped__
    expected = [compute(a, b) for a, b in INTERVALS] * 32
    for _ in range(5):
        if concurrent_moments(compute) != expected:
            return
    pytest.skip("no interleaving happened in 5 runs (the race is timing-dependent)")
