"""Work that stops when its client goes away.

A body built whole, or a digests document, can take long (a column slice of a huge tensor
covers every block). Starlette does not tell a plain endpoint that its client left, so
:func:`until_disconnected` polls for ``http.disconnect`` while the work runs in a thread and
sets the work's ``stop`` event when it comes; the pool then stops at the next piece.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request

from app.jobs.pool import Cancelled

from .problems import ProblemError

T = TypeVar("T")
POLL_SECONDS = 0.25


async def until_disconnected(request: Request, work: Callable[[threading.Event], T]) -> T:
    """``work(stop)`` in a worker thread; ``stop`` is set if the client disconnects first."""
    stop = threading.Event()

    async def watch() -> None:
        while not stop.is_set():
            if await request.is_disconnected():
                stop.set()
                return
            await anyio.sleep(POLL_SECONDS)

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            result = await anyio.to_thread.run_sync(work, stop)
        except Cancelled:
            raise ProblemError(503, "The work was stopped: the client went away.") from None
        finally:
            stop.set()
            group.cancel_scope.cancel()
    return result
