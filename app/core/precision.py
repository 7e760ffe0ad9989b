"""Exact arithmetic: every mpmath computation of the core, at a chosen precision, thread-safe.

The core's constants that are not plain IEEE operations (truncated-normal masses and stds,
the ``exact`` variance-scaling constants, variance-preserving gains, the stds of a few laws)
are real numbers computed in mpmath and rounded once to a float64. They must be the same
bytes whatever else the process is doing, so every such computation goes through this
module::

    with exact(50) as ctx:
        std = round_once(ctx.sqrt(ctx.mpf(2) / fan_in))

:func:`exact` yields a private ``mpmath.MPContext`` (never the shared ``mpmath.mp``) set to
``dps`` significant decimal digits, and holds one process-wide lock until the block ends;
:func:`round_once` rounds an mpmath number once to the nearest float64, ties to even.

The race this prevents
    mpmath's ``workdps`` sets the precision of its one global context on entry and restores
    the precision it found on exit. Two threads entering and leaving it interleave: thread A
    enters (saves 15 digits, sets 50), thread B enters (saves A's 50, sets 50), A leaves
    (restores 15) and B now computes at 15 digits instead of 50. A truncated law's mass or a
    response's ``std`` then differs in its last bits (or, for a narrow interval, the
    variance cancels to a negative number and the request fails), is cached
    (``lru_cache``) and changes the bytes the process serves from then on; the global
    context can even be left at another precision for good. Generation threads compute
    these constants lazily, so this happens under ordinary concurrent load:
    ``bench/precision_race.py`` (32 threads computing truncated moments, ``exact`` variance
    constants and gains) found a difference from one thread alone in 50 of 50 runs of the
    code before any lock, and in 0 of 50 with this module.

Design: one lock and one private context, not one context per thread
    * A private ``MPContext``: code that sets or races on ``mpmath.mp.dps`` (a library, a
      test) cannot change the precision the core computes at.
    * One process-wide re-entrant lock held for the whole computation, rather than a context
      per thread (``threading.local``), for two reasons. An mpmath number computes at the
      precision of the context that created it, and the core caches numbers across calls
      (the Gauss-Hermite rule of the gains, ``functools.cache``): with per-thread contexts,
      thread B's arithmetic on numbers made in thread A would run at whatever precision A
      has set at that moment, the same race again. And mpmath's module-level caches, shared
      by all contexts, take no lock (the memoised constants, ``libmp.libelefun.
      constant_memo``, store a value and its precision in two statements): they rely on
      the GIL not switching between them. mpmath is pure Python, so per-thread contexts
      would not compute in parallel under the GIL anyway.
    * Re-entrant, and the precision restored on exit, so blocks nest like ``workdps`` (a
      gain builds the cached quadrature rule in its own ``exact`` block).

    Callers cache their results (``lru_cache``, ``functools.cache``), so the lock is rarely
    contended; the longest hold is the one-off ~0.3 s build of the 150-node Gauss-Hermite
    rule. mpmath is imported on first use, so importing the core (or serving the frozen
    gain table) runs no mpmath. Code outside the core that uses mpmath without this lock
    (tests, notebooks) shares only mpmath's module-level caches with it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

__all__ = ["MPContext", "MPReal", "exact", "round_once"]

# mpmath ships no type information (pyproject's mypy override): the aliases document what
# is passed around.
MPContext: TypeAlias = Any  # the private mpmath.MPContext that exact() yields
MPReal: TypeAlias = Any  # an mpf of that context

_LOCK = threading.RLock()


@functools.cache
def _context() -> MPContext:
    """The private mpmath context (created, and mpmath imported, on first use)."""
    import mpmath

    return mpmath.MPContext()


@contextmanager
def exact(dps: int) -> Iterator[MPContext]:
    """A private mpmath context at ``dps`` significant decimal digits, this thread's alone.

    The context is only valid inside the block (its numbers too: arithmetic on them runs at
    the context's current precision). Blocks nest; the precision is restored on exit.
    """
    with _LOCK:
        ctx = _context()
        saved = ctx.prec
        ctx.dps = dps
        try:
            yield ctx
        finally:
            ctx.prec = saved


def round_once(x: MPReal) -> float:
    """``x`` rounded once to the nearest float64, ties to even (whatever the context's mode).

    Correctly rounded in float64's normal range. A subnormal result is rounded twice, to 53
    bits and then to the subnormal grid, like ``float()`` of an mpf (kept: bytes unchanged).
    """
    from mpmath import libmp

    return float(libmp.to_float(x._mpf_, rnd=libmp.round_nearest))
