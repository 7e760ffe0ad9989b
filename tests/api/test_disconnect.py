"""app/api/disconnect.py without a server: what the client's leaving turns into, and that the
work's own errors come out as themselves (not wrapped in an ExceptionGroup, which the error
handlers would answer with a 500)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from starlette.types import Message

from app.api.disconnect import unless_disconnected, until_disconnected
from app.api.problems import ClientGone, ProblemError
from app.core.cancel import Cancelled
from app.jobs.admission import Overloaded

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


class FakeRequest:
    """A request whose client leaves ``leave_after`` seconds in (never, if None)."""

    def __init__(self, leave_after: float | None) -> None:
        self.leave_after = leave_after
        self.body_sent = False

    async def receive(self) -> Message:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if self.leave_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.leave_after or 0)
        return {"type": "http.disconnect"}

    async def is_disconnected(self) -> bool:
        return self.leave_after is not None and self.body_sent


def fake(leave_after: float | None) -> Any:
    """A FakeRequest, typed as the Request it stands in for."""
    return FakeRequest(leave_after)


def test_a_wait_is_cancelled_when_the_client_leaves() -> None:
    cancelled = asyncio.Event()

    async def scenario() -> None:
        async def waiting() -> int:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return 1

        request = fake(0.05)
        with pytest.raises(ClientGone):
            await unless_disconnected(request, waiting)
        assert cancelled.is_set()

    run(scenario())


def test_a_wait_that_ends_first_gives_its_result_or_its_own_error() -> None:
    async def scenario() -> None:
        async def done() -> int:
            return 7

        async def refused() -> int:
            raise Overloaded("full", 1, "queue_full")

        request = fake(None)
        assert await unless_disconnected(request, done) == 7
        with pytest.raises(Overloaded):  # itself, not an ExceptionGroup
            await unless_disconnected(fake(None), refused)

    run(scenario())


def test_work_stopped_by_shutdown_is_a_503_and_other_errors_are_themselves() -> None:
    def stopped(stop: threading.Event) -> int:
        raise Cancelled("the work was stopped")

    def broken(stop: threading.Event) -> int:
        raise ValueError("broken")

    async def scenario() -> None:
        request = fake(None)
        with pytest.raises(ProblemError) as problem:
            await until_disconnected(request, stopped)
        assert problem.value.status == 503
        with pytest.raises(ValueError, match="broken"):
            await until_disconnected(fake(None), broken)
        assert await until_disconnected(request, lambda stop: 3) == 3

    run(scenario())


def test_work_stopped_because_the_client_left_sends_nothing() -> None:
    def long_work(stop: threading.Event) -> int:
        assert stop.wait(5), "the work was not told to stop"
        raise Cancelled("the work was stopped")

    async def scenario() -> None:
        request = fake(0)
        request.body_sent = True
        with pytest.raises(ClientGone):
            await until_disconnected(request, long_work)

    run(scenario())
