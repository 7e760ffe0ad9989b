"""Graceful shutdown: on SIGTERM (or SIGINT) the process drains.

Draining means: ``/readyz`` answers 503 (a load balancer stops sending), every new generation
is refused with 503 + ``Retry-After`` + ``Connection: close`` (:mod:`app.jobs.admission`), and
in-flight responses run to their end. uvicorn, whose own handler is called next, stops
accepting connections, closes idle ones and waits for the busy ones up to
``--timeout-graceful-shutdown`` seconds (set in the Dockerfile, compose and Kubernetes files;
README, "Operations"); then the application's lifespan ends and the generation threads stop.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from app.jobs.admission import Admission

log = logging.getLogger("weightinit")
DRAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def drain_on_signals(admission: Admission) -> Callable[[], None]:
    """Make SIGTERM/SIGINT start draining ``admission``, then run the previous handler (the
    server's). Returns a function that puts the previous handlers back. Outside the main
    thread (where signals cannot be caught: in-process test clients) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, object] = {}

    def handler(sig: int, frame: FrameType | None) -> None:
        if not admission.draining:
            admission.draining = True
            log.warning("signal %d: draining (readiness fails, new work is refused)", sig)
        before = previous.get(sig)
        if callable(before):
            before(sig, frame)
        elif before == signal.SIG_DFL:  # no server handler: the default action
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in DRAIN_SIGNALS:
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, before)  # type: ignore[arg-type]

    return restore
