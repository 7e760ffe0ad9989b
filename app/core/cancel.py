"""Cooperative cancellation of long computations.

A piece of a response can take seconds (the QR of a 2048 x 2048 orthogonal matrix takes
about 5 s). When its client goes away, the thread computing it cannot be interrupted from
outside, so long loops call :func:`checkpoint` now and then: it raises :class:`Cancelled`
once one of the events the caller installed with :func:`stoppable` is set. Outside
:func:`stoppable` a checkpoint does nothing, so the core's results never depend on it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Cancelled(Exception):
    """The work was stopped: its client went away, or the server is shutting down."""


_local = threading.local()


def checkpoint() -> None:
    """Raise :class:`Cancelled` if this thread's work has been stopped."""
    for stop in getattr(_local, "stops", ()):
        if stop.is_set():
            raise Cancelled("the work was stopped")


@contextmanager
def stoppable(*stops: threading.Event | None) -> Iterator[None]:
    """Within the block, :func:`checkpoint` raises once any of ``stops`` is set."""
    previous = getattr(_local, "stops", ())
    _local.stops = tuple(stop for stop in stops if stop is not None)
    try:
        yield
    finally:
        _local.stops = previous
