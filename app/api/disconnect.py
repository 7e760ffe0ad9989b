"""Work that stops when its client goes away.

A body built whole, or a digests document, can take long (a column slice of a huge tensor
covers every block). Starlette does not tell a plain endpoint that its client left, so
:func:`until_disconnected` polls for ``http.disconnect`` while the work runs in a thread and
sets the work's ``stop`` event when it comes; the pool then stops at the next piece.

A request waiting for a generation slot (:mod:`app.jobs.admission`) is raced against the
client's ``http.disconnect`` by :func:`unless_disconnected`: the wait is cancelled as soon
as the client leaves, which frees its queue place at once.

Either way the endpoint raises :class:`~app.api.problems.ClientGone`, which sends nothing
(nobody is there to read it): the access log and the metrics record status 499 for it.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from fastapi import Request

from app.jobs.pool import Cancelled

from .problems import ClientGone, ProblemError

T = TypeVar("T")
POLL_SECONDS = 0.25


async def until_disconnected(request: Request, work: Callable[[threading.Event], T]) -> T:
    """``work(stop)`` in a worker thread; ``stop`` is set if the client disconnects first."""
    stop = threading.Event()
    gone = False
    results: list[T] = []
    failure: Exception | None = None

    async def watch() -> None:
        nonlocal gone
        while not stop.is_set():
            if await request.is_disconnected():
                gone = True
                stop.set()
                return
            await anyio.sleep(POLL_SECONDS)

    # Exceptions are raised after the task group, which would wrap them in an ExceptionGroup
    # (a 500 instead of the work's own error).
    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            results.append(await anyio.to_thread.run_sync(work, stop))
        except Exception as exc:
            failure = exc
        finally:
            stop.set()
            group.cancel_scope.cancel()
    if isinstance(failure, Cancelled):
        if gone:
            raise ClientGone from None
        raise ProblemError(
            503,
            "The work was stopped: the server is shutting down; retry on another replica.",
            extra={"reason": "draining"},
            headers={"Retry-After": "1", "Connection": "close"},
        ) from None
    if failure is not None:
        raise failure
    return results[0]


async def unless_disconnected(request: Request, waiting: Callable[[], Awaitable[T]]) -> T:
    """``await waiting()``, cancelled if the client disconnects first (:class:`ClientGone`).

    Call it once the request's body has been read (or for a request without one): the watcher
    reads the connection's next ASGI messages, which are then only ``http.disconnect``.
    """
    results: list[T] = []
    failure: Exception | None = None
    gone = False

    async def watch(scope: anyio.CancelScope) -> None:
        nonlocal gone
        while (await request.receive())["type"] != "http.disconnect":
            pass  # a request without a body still gets one empty http.request first
        gone = True
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        try:
            results.append(await waiting())
        except Exception as exc:  # raised below, not wrapped in an ExceptionGroup
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if not results:  # the wait was cancelled, which only the watcher does
        assert gone
        raise ClientGone
    return results[0]
