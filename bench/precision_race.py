"""How often do concurrent threads get other mpmath constants than one thread alone?

Run from the repository root:  ``PYTHONPATH=. python bench/precision_race.py``
(``--runs`` repetitions, default 50; ``--threads``, default 32). To measure another version
of the core, point ``PYTHONPATH`` at a worktree of it, e.g. the one before any lock::

    git worktree add /tmp/wt-old 90e4a79^
    PYTHONPATH=/tmp/wt-old python bench/precision_race.py
    git worktree remove /tmp/wt-old

The work is that of tests/core/test_precision.py (it uses only names that exist before and
after issue 10): truncated-normal moments for 32 intervals (uncached, precisions 50 to ~85
digits), ``exact_law`` for 144 scale/fans/mode/distribution combinations, and 25
variance-preserving gains (``_compute`` uncached, the Gauss-Hermite rule rebuilt in every
run). Every thread runs every job, each starting on another kind of job, all released
together by a barrier, with ``sys.setswitchinterval(1e-6)``. A run "differs" when any
result's ``repr`` differs from the single-threaded one (an exception counts as a
difference); the lines give how many runs differed, per kind of job, how many values and
exceptions, and the time. Expected: 0 runs on the current core.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from functools import partial

import mpmath

from app.core import gains
from app.core.fans import Fans
from app.core.laws import truncated_standard_normal_moments
from app.core.schemes.variance import exact_law
from app.core.types import Distribution, Mode

INTERVALS = [(-2.0 - k / 7, 2.0 + k / 11) for k in range(16)]
INTERVALS += [(k + 0.5, k + 0.5 + 10.0**-k) for k in range(16)]
SCALES = [Fraction(1), Fraction(2), Fraction(25, 9), Fraction(1, 3)]
FANS = [Fans(3, 7), Fans(1000, 1000), Fans(0.5, 2.5)]
GAIN_PARAMS = {
    "leaky_relu": [0.0, 0.2, 1 / 3, -0.5, 5.5, 1e-8],
    "elu": [0.5, 2.0, 1 / 3, 7.25, 1e-3, 1e6],
    "celu": [0.5, 2.0, 1 / 3, 7.25, 1e-3, 1e6],
}
GAIN_DEFAULTS = ["selu", "sin", "relu6", "hard_tanh", "hard_sigmoid", "hard_swish", "tanh"]

Job = tuple[str, Callable[[], object]]


def jobs() -> list[Job]:
    moments = truncated_standard_normal_moments.__wrapped__
    found: list[Job] = [("moments", partial(moments, a, b)) for a, b in INTERVALS]
    found += [
        ("exact_law", partial(exact_law, scale, fans, mode, distribution))
        for scale in SCALES
        for fans in FANS
        for mode in Mode
        for distribution in Distribution
    ]
    found += [
        ("gains", partial(gains.variance_preserving_gain, name, param))
        for name, params in GAIN_PARAMS.items()
        for param in params
    ]
    found += [
        ("gains", partial(gains.compute_variance_preserving_gain, name)) for name in GAIN_DEFAULTS
    ]
    return found


def run_concurrently(work: list[Job], n_threads: int) -> list[str]:
    n = len(work)
    results = [""] * (n_threads * n)
    start = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        start.wait()
        for i in range(n):
            j = (i + t * n // n_threads) % n
            try:
                results[t * n + j] = repr(work[j][1]())
            except Exception as error:  # a computation at 15 digits can fail (sqrt of var < 0)
                results[t * n + j] = f"raised {type(error).__name__}: {error}"

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()

    vars(gains)["_compute"] = gains._compute.__wrapped__  # every gain computed on every call
    work = jobs()
    expected = [repr(job()) for _, job in work]
    kinds = sorted({kind for kind, _ in work})
    differing_runs = 0
    by_kind = dict.fromkeys(kinds, 0)
    values = errors = 0
    began = time.perf_counter()
    for _ in range(args.runs):
        gains._gauss_hermite.cache_clear()
        saved = mpmath.mp.prec
        got = run_concurrently(work, args.threads)
        mpmath.mp.prec = saved  # an unguarded race can leave the global context elsewhere
        wrong = [i % len(work) for i, value in enumerate(got) if value != expected[i % len(work)]]
        differing_runs += bool(wrong)
        values += len(wrong)
        errors += sum(value.startswith("raised ") for value in got)
        for kind in {work[i][0] for i in wrong}:
            by_kind[kind] += 1
    elapsed = time.perf_counter() - began
    print(f"core: {gains.__file__.removesuffix('/app/core/gains.py')}")
    print(f"{len(work)} jobs x {args.threads} threads, {args.runs} runs in {elapsed:.1f} s")
    print(f"runs with any difference: {differing_runs}/{args.runs}")
    for kind in kinds:
        print(f"  runs with a different {kind}: {by_kind[kind]}/{args.runs}")
    print(f"differing values in all runs: {values} of {len(work) * args.threads * args.runs}")
    print(f"  of which exceptions: {errors}")


if __name__ == "__main__":
    main()
