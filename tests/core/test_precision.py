"""mpmath constants are the same whatever other threads compute at the same time."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from functools import partial

import mpmath
import pytest

from app.core import gains, laws
from app.core.fans import Fans
from app.core.laws import truncated_standard_normal_moments
from app.core.precision import exact, round_once
from app.core.schemes import variance
from app.core.types import Distribution, Mode

INTERVALS = [(-2.0 - k / 7, 2.0 + k / 11) for k in range(16)]
INTERVALS += [(k + 0.5, k + 0.5 + 10.0**-k) for k in range(16)]  # narrow and far: high dps

SCALES = [Fraction(1), Fraction(2), Fraction(25, 9), Fraction(1, 3)]
FANS = [Fans(3, 7), Fans(1000, 1000), Fans(0.5, 2.5)]
GAIN_PARAMS = {
    "leaky_relu": [0.0, 0.2, 1 / 3, -0.5, 5.5, 1e-8],
    "elu": [0.5, 2.0, 1 / 3, 7.25, 1e-3, 1e6],
    "celu": [0.5, 2.0, 1 / 3, 7.25, 1e-3, 1e6],
}
GAIN_DEFAULTS = ["selu", "sin", "relu6", "hard_tanh", "hard_sigmoid", "hard_swish", "tanh"]

THREADS = 32

Job = Callable[[], object]


def jobs() -> list[Job]:
    """Every kind of exact computation of the core, for many parameters, none cached."""
    moments = truncated_standard_normal_moments.__wrapped__  # no cache: every call computes
    found: list[Job] = [partial(moments, a, b) for a, b in INTERVALS]
    found += [
        partial(variance.exact_law, scale, fans, mode, distribution)
        for scale in SCALES
        for fans in FANS
        for mode in Mode
        for distribution in Distribution
    ]
    found += [
        partial(gains.variance_preserving_gain, name, param)
        for name, params in GAIN_PARAMS.items()
        for param in params
    ]
    found += [partial(gains.compute_variance_preserving_gain, name) for name in GAIN_DEFAULTS]
    return found


@pytest.fixture
def uncached_gains(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every gain computed on every call; the Gauss-Hermite rule rebuilt under load."""
    monkeypatch.setattr(gains, "_compute", gains._compute.__wrapped__)
    gains._gauss_hermite.cache_clear()
    yield
    gains._gauss_hermite.cache_clear()


@contextmanager
def tiny_switch_interval() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def run_concurrently(work: list[Job]) -> list[str]:
    """Every job in every thread (each in another order, all starting together), as reprs."""
    n = len(work)
    results = [""] * (THREADS * n)
    start = threading.Barrier(THREADS)

    def worker(t: int) -> None:
        start.wait()
        for i in range(n):
            j = (i + t * n // THREADS) % n  # every thread starts on another kind of job
            try:
                results[t * n + j] = repr(work[j]())
            except Exception as error:  # at 15 digits a narrow interval's variance is < 0
                results[t * n + j] = f"raised {error!r}"

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    with tiny_switch_interval():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return results


def single_threaded(work: list[Job]) -> list[str]:
    return [repr(job()) for job in work] * THREADS


@pytest.mark.usefixtures("uncached_gains")
def test_exact_constants_do_not_depend_on_other_threads() -> None:
    # Truncated-normal moments at many precisions, exact variance constants and gains,
    # computed by 32 threads at once, are bit for bit what one thread computes alone.
    work = jobs()
    expected = single_threaded(work)
    gains._gauss_hermite.cache_clear()
    assert run_concurrently(work) == expected


@contextmanager
def unguarded_global_context(dps: int) -> Iterator[object]:
    """What laws.py and variance.py did before the lock: workdps on mpmath's global context."""
    with mpmath.workdps(dps):
        yield mpmath.mp


@pytest.mark.usefixtures("uncached_gains")
def test_the_test_detects_an_unguarded_global_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same computations on mpmath's bare global context give different last bits under
    # the same load: the test above is not vacuous.
    monkeypatch.setattr(laws, "exact", unguarded_global_context)
    monkeypatch.setattr(variance, "exact", unguarded_global_context)
    work = jobs()
    expected = single_threaded(work)
    saved = mpmath.mp.prec  # the race can also leave the global context at another precision
    try:
        for _ in range(3):
            if run_concurrently(work) != expected:
                return
    finally:
        mpmath.mp.prec = saved
    pytest.skip("no interleaving happened in 3 runs (the race is timing-dependent)")


def test_exact_restores_the_precision_and_nests() -> None:
    global_prec = mpmath.mp.prec
    with exact(50) as ctx:
        assert ctx is not mpmath.mp
        assert ctx.dps == 50
        with exact(80) as inner:
            assert inner.dps == 80
        assert ctx.dps == 50
        third = ctx.mpf(1) / 3
    assert round_once(third) == 1 / 3
    assert mpmath.mp.prec == global_prec  # the private context never touches mpmath.mp


def test_round_once_is_nearest_ties_to_even() -> None:
    with exact(50) as ctx:
        one = ctx.mpf(1)
        half_ulp = ctx.ldexp(one, -53)  # 1 + 2**-53: a tie between 1 and 1 + 2**-52
        assert round_once(one + half_ulp) == 1.0
        assert round_once(one + 3 * half_ulp) == 1.0 + 2**-51  # tie: to the even mantissa
        assert round_once(one + half_ulp + ctx.ldexp(one, -120)) == 1.0 + 2**-52
        assert round_once(-(one + half_ulp)) == -1.0
        ctx.rounding = "u"  # not exact()'s business, but round_once ignores it
        try:
            assert round_once(one + ctx.ldexp(one, -120)) == 1.0
        finally:
            ctx.rounding = "n"
