"""Admission control: lanes, bounded queues and waits, buffered bytes, slots only while
generating, draining (app/jobs/admission.py), and the stream's use of its slot (pool.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from app.jobs.admission import Admission, Overloaded
from app.jobs.limits import Settings
from app.jobs.pool import GenerationPool

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))


def admission(**kw: int) -> Admission:
    base = {"max_concurrent_jobs": 2, "max_queued_jobs": 4, "queue_timeout_s": 5}
    return Admission(Settings(**{**base, **kw}))


def test_requests_up_to_the_small_cost_run_in_the_small_lane() -> None:
    gate = admission(small_request_cost=1000)
    assert gate.lane_for(1000) == "small"
    assert gate.lane_for(1001) == "large"
    assert gate.lanes["large"].slots == 1 and gate.lanes["small"].slots == 1
    assert Admission(Settings(max_concurrent_jobs=8)).lanes["large"].slots == 4


def test_a_busy_large_lane_does_not_delay_a_small_job() -> None:
    async def scenario() -> float:
        gate = admission()
        await gate.admit("large", 0)  # the only large slot, held
        started = time.monotonic()
        ticket = await gate.admit("small", 0)
        ticket.release()
        return time.monotonic() - started

    assert run(scenario()) < 0.1


def test_a_full_queue_is_refused_at_once_with_retry_after() -> None:
    async def scenario() -> Overloaded:
        gate = admission(max_queued_jobs=1)
        await gate.admit("large", 0)
        waiting = asyncio.create_task(gate.admit("large", 0))
        await asyncio.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(Overloaded) as refused:
            await gate.admit("large", 0)
        assert time.monotonic() - started < 0.1
        waiting.cancel()
        return refused.value

    refused = run(scenario())
    assert refused.reason == "queue_full"
    assert refused.retry_after == 5  # the large lane: the queue timeout


def test_a_job_that_cannot_start_within_the_queue_timeout_is_refused() -> None:
    async def scenario() -> tuple[Overloaded, float, int]:
        gate = admission(queue_timeout_s=1)
        await gate.admit("small", 0)
        started = time.monotonic()
        with pytest.raises(Overloaded) as refused:
            await gate.admit("small", 0)
        return refused.value, time.monotonic() - started, len(gate.lanes["small"].queue)

    refused, waited, queued = run(scenario())
    assert refused.reason == "queue_timeout" and refused.retry_after == 1
    assert 0.9 < waited < 3
    assert queued == 0  # the timed-out waiter left the queue


def test_waiters_are_admitted_first_in_first_out_as_slots_free() -> None:
    async def scenario() -> list[int]:
        gate = admission()
        first = await gate.admit("small", 0)
        order: list[int] = []

        async def wait(i: int) -> None:
            ticket = await gate.admit("small", 0)
            order.append(i)
            ticket.release()

        tasks = [asyncio.create_task(wait(i)) for i in range(3)]
        await asyncio.sleep(0.01)
        assert order == [] and gate.queued == 3
        first.release()
        await asyncio.gather(*tasks)
        assert gate.active == 0 and gate.buffered == 0
        return order

    assert run(scenario()) == [0, 1, 2]


def test_buffered_bytes_bound_the_admitted_jobs_and_a_lone_big_job_still_runs() -> None:
    async def scenario() -> None:
        gate = admission(max_concurrent_jobs=8, max_buffered_bytes=100)
        big = await gate.admit("large", 10_000)  # larger than the bound: admitted alone
        assert gate.buffered == 100
        later = asyncio.create_task(gate.admit("small", 10))
        await asyncio.sleep(0.01)
        assert not later.done()  # a slot is free, the memory is not
        big.release()
        ticket = await later
        assert gate.buffered == 10
        ticket.release()
        assert gate.buffered == 0

    run(scenario())


def test_a_paused_job_frees_its_slot_and_resumes_ahead_of_new_jobs() -> None:
    async def scenario() -> list[str]:
        gate = admission()
        stream = await gate.admit("small", 7)
        stream.pause()  # waiting for a slow reader
        assert gate.active == 0 and gate.buffered == 7  # its bytes stay reserved
        other = await gate.admit("small", 0)  # the slot is free for another job
        events: list[str] = []

        async def resume() -> None:
            await stream.resume()
            events.append("resumed")

        async def newcomer() -> None:
            (await gate.admit("small", 0)).release()
            events.append("new")

        resuming = asyncio.create_task(resume())
        await asyncio.sleep(0.01)
        new = asyncio.create_task(newcomer())
        await asyncio.sleep(0.01)
        other.release()
        await resuming
        stream.release()
        await new
        return events

    assert run(scenario()) == ["resumed", "new"]


def test_releasing_twice_and_a_cancelled_waiter_leak_nothing() -> None:
    async def scenario() -> None:
        gate = admission()
        ticket = await gate.admit("small", 5)
        waiter = asyncio.create_task(gate.admit("small", 5))
        await asyncio.sleep(0.01)
        waiter.cancel()  # the client went away while queued
        await asyncio.gather(waiter, return_exceptions=True)
        ticket.release()
        ticket.release()
        assert gate.active == 0 and gate.buffered == 0 and gate.queued == 0
        (await gate.admit("small", 5)).release()

    run(scenario())


def test_a_waiter_cancelled_anywhere_in_the_queue_leaves_it_at_once() -> None:
    async def scenario() -> None:
        gate = admission(max_queued_jobs=2)
        held = await gate.admit("large", 0)
        first = asyncio.create_task(gate.admit("large", 0))
        second = asyncio.create_task(gate.admit("large", 0))
        await asyncio.sleep(0.01)
        second.cancel()  # not the head of the queue: it leaves too, not when it reaches it
        await asyncio.gather(second, return_exceptions=True)
        assert gate.queued == 1
        third = asyncio.create_task(gate.admit("large", 0))  # takes the freed place
        await asyncio.sleep(0.01)
        assert gate.queued == 2 and not third.done()
        held.release()
        (await first).release()
        (await third).release()
        assert gate.active == 0 and gate.queued == 0

    run(scenario())


def test_admit_now_takes_a_free_slot_or_leaves_the_decision_to_admit() -> None:
    gate = admission()
    ticket = gate.admit_now("large", 0)
    assert ticket is not None and gate.active == 1
    assert gate.admit_now("large", 0) is None  # the lane is full: admit() queues or refuses
    ticket.release()
    gate.draining = True
    assert gate.admit_now("large", 0) is None  # admit() refuses with "draining"


def test_a_draining_process_refuses_new_jobs() -> None:
    async def scenario() -> Overloaded:
        gate = admission()
        gate.draining = True
        with pytest.raises(Overloaded) as refused:
            await gate.admit("small", 0)
        return refused.value

    assert run(scenario()).reason == "draining"


class _Recorder:
    """A slot that records what a stream does with it."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def pause(self) -> None:
        self.events.append("pause")

    async def resume(self) -> None:
        self.events.append("resume")

    def release(self) -> None:
        self.events.append("release")


def test_a_stream_gives_its_slot_back_while_its_reader_is_slow() -> None:
    pool = GenerationPool(2)

    async def scenario() -> tuple[bytes, list[str]]:
        slot = _Recorder()
        pieces = [lambda i=i: bytes([i]) * 10 for i in range(5)]
        out = b""
        async for chunk in pool.stream(pieces, slot):
            await asyncio.sleep(0.05)  # a slow reader: every piece is ready before it is taken
            out += bytes(chunk)
        return out, slot.events

    try:
        data, events = run(scenario())
    finally:
        pool.shutdown()
    assert data == b"".join(bytes([i]) * 10 for i in range(5))
    assert events.count("pause") >= 3
    assert events.count("resume") <= events.count("pause")
    assert events[-1] == "release" and events.count("release") == 1


def test_a_stream_abandoned_by_its_reader_releases_its_slot() -> None:
    pool = GenerationPool(2)

    async def scenario() -> list[str]:
        slot = _Recorder()
        stream = pool.stream([lambda: b"x" * 10] * 100, slot)
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
        return slot.events

    try:
        events = run(scenario())
    finally:
        pool.shutdown()
    assert events[-1] == "release"
