"""The generation thread pool and ordered, bounded read-ahead over a body's pieces.

A body is a lazy sequence of *pieces*: functions that return the next bytes of the body
(generation, casting, encoding and hashing happen inside them). Up to ``ahead`` pieces run at
once on the pool; their results are handed out strictly in order. A consumer that stops
reading (a slow client: the server's ``send`` waits) stops new pieces from being started, so
a request holds at most ``ahead + 1`` pieces of memory, whatever the size of its body. The
bytes never depend on the number of threads: each piece is a pure function of the request.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

from app.core.cancel import Cancelled, stoppable

__all__ = ["SEND_BYTES", "Cancelled", "GenerationPool", "Piece", "Slot"]

Piece = Callable[[], bytes]
SEND_BYTES = 1 << 19  # bytes per server write: flow control acts per write (measured trade-off)
T = TypeVar("T")


class Slot(Protocol):
    """An admitted job's generation slot (:class:`app.jobs.admission.Ticket`)."""

    def pause(self) -> None: ...

    async def resume(self) -> None: ...

    def release(self) -> None: ...


class _NoSlot:
    """The slot of a stream that was not admitted (the CLI, tests): nothing to give back."""

    def pause(self) -> None:
        pass

    async def resume(self) -> None:
        pass

    def release(self) -> None:
        pass


class GenerationPool:
    """``threads`` worker threads shared by every request of the process."""

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.closing = threading.Event()

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The threads, started on first use (again after a shutdown: apps can restart)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.threads, thread_name_prefix="weightinit-gen"
                )
            return self._executor

    def _run(self, piece: Callable[[], T], stop: threading.Event | None) -> T:
        """``piece()`` in a worker thread; its checkpoints raise :class:`Cancelled` once
        ``stop`` is set or the pool shuts down (app/core/cancel.py)."""
        with stoppable(stop, self.closing):
            return piece()

    @property
    def ahead(self) -> int:
        """Pieces one request keeps in flight: enough to keep every thread busy."""
        return 2 * self.threads

    def open(self) -> None:
        """Accept work (again: an application's lifespan can restart)."""
        self.closing.clear()

    def shutdown(self) -> None:
        self.closing.set()  # synchronous iterations stop at their next piece
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    async def stream(
        self, pieces: Iterable[Piece], slot: Slot | None = None
    ) -> AsyncIterator[memoryview]:
        """The pieces' bytes in order; only waiting happens on the event loop.

        The read-ahead adapts: it starts at one piece and grows (up to :attr:`ahead`) each
        time the sender finds the next piece unfinished, i.e. when generation is what it waits
        for. A slow reader never waits for a piece, so it never holds more than a couple.
        With a ``slot``, the stream gives it back whenever it is sending and no piece is
        generating (a slow reader: the server's write waits), and takes it again before it
        starts the next piece; it is released when the stream ends, however it ends.
        """
        loop = asyncio.get_running_loop()
        held: Slot = slot if slot is not None else _NoSlot()
        source = iter(pieces)
        upcoming = next(source, None)  # one piece of look-ahead: the stream knows when it ends
        pending: deque[asyncio.Future[bytes]] = deque()
        limit = 1
        sending = False  # suspended in a yield: the server is writing (or waiting to)
        stop = threading.Event()  # set when the stream ends early: the client went away

        def settle(_: object = None) -> None:
            """While sending, once no piece is generating, the slot is given back."""
            if sending and all(f.done() for f in pending):
                held.pause()

        def fill() -> None:
            nonlocal upcoming
            while len(pending) < limit and upcoming is not None:
                future = loop.run_in_executor(self.executor, self._run, upcoming, stop)
                future.add_done_callback(settle)
                pending.append(future)
                upcoming = next(source, None)

        try:
            fill()
            while pending:
                future = pending.popleft()
                if not future.done():
                    limit = min(self.ahead, limit + 1)
                fill()
                data = memoryview(await future)
                sending = True
                settle()
                # Small writes: the server's transport buffers a whole write even when the
                # client reads slowly, so a slow reader would pin a whole piece there too.
                for offset in range(0, len(data), SEND_BYTES):
                    yield data[offset : offset + SEND_BYTES]
                sending = False
                if upcoming is not None:
                    await held.resume()  # at once when the slot was kept
                    fill()
        finally:
            sending = False
            stop.set()  # a piece already running stops at its next checkpoint
            for future in pending:
                future.cancel()
            held.release()

    def iterate(
        self, pieces: Iterable[Callable[[], T]], stop: threading.Event | None = None
    ) -> Iterator[T]:
        """The pieces' results in order, for synchronous callers (the CLI, digests, bodies
        built whole). Raises :class:`Cancelled` at the next piece once ``stop`` is set or the
        pool shuts down, so abandoned work does not run to its end."""
        source = iter(pieces)
        pending: deque[Future[T]] = deque()

        def submit() -> None:
            if self.closing.is_set() or (stop is not None and stop.is_set()):
                raise Cancelled("the work was stopped")
            piece = next(source, None)
            if piece is not None:
                pending.append(self.executor.submit(self._run, piece, stop))

        try:
            for _ in range(self.ahead):
                submit()
            while pending:
                data = pending.popleft().result()
                submit()
                yield data
        finally:
            for future in pending:
                future.cancel()
