"""mpmath at a chosen precision, one thread at a time.

mpmath's ``workdps`` sets the precision of its single global context and restores it on exit.
Two threads doing that with different precisions can interleave so that one of them computes
at the other's precision (or at the default 15 digits): a std or a truncation mass could then
differ in its last bit, and every later request served by that process with it. Generation
threads compute such constants lazily (a truncated law's mass, a JSON response's ``std``), so
every use of mpmath's global context in the core goes through :func:`working_precision`,
which holds one process-wide re-entrant lock while it lasts. The results are cached by their
callers, so the lock is rarely contended. (gains.py uses a private ``MPContext`` instead.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import mpmath

_LOCK = threading.RLock()


@contextmanager
def working_precision(dps: int) -> Iterator[None]:
    """mpmath's global context at ``dps`` decimal digits, held by this thread alone."""
    with _LOCK, mpmath.workdps(dps):
        yield
