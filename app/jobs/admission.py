"""Admission control: a bounded number of generating jobs, in two lanes, with bounded waits.

Every request that generates values (a download, a range, digests) is weighed before any work
with its cost (:mod:`app.jobs.limits`) and an estimate of the bytes it holds in memory, then
admitted into a *lane*:

* **small** (cost up to ``WEIGHTINIT_SMALL_REQUEST_COST``) and **large** (the rest) lanes share
  ``WEIGHTINIT_MAX_CONCURRENT_JOBS`` slots: the large lane gets half of them (at least one),
  the small lane the rest, and each lane has its own generation threads
  (:class:`~app.jobs.pool.GenerationPool`), so a tiny request never waits behind the pieces of
  an expensive one (an orthogonal matrix's QR runs for seconds in one piece);
* admitted jobs together hold at most ``WEIGHTINIT_MAX_BUFFERED_BYTES`` of estimated memory (a
  job alone larger than that is admitted only when nothing else holds memory);
* a job waits for a slot in its lane's first-in-first-out queue for at most
  ``WEIGHTINIT_QUEUE_TIMEOUT_S`` seconds, behind at most ``WEIGHTINIT_MAX_QUEUED_JOBS`` others;
  otherwise it is refused with :class:`Overloaded` (HTTP 503 with ``Retry-After``), at once
  when the queue is full, never queued without bound; a waiting job whose ``admit`` is
  cancelled (its client went away) leaves the queue at once, freeing its place;
* a streamed job holds its slot only while it generates: when its reader is slower than the
  generation (every piece in flight is done), it gives the slot back until it needs the next
  piece; it then queues again, ahead of new jobs, and without a timeout (its first byte has
  been sent, so its status can no longer change). Its memory stays reserved until it ends;
* once the process drains (SIGTERM), every new job is refused.

The state lives on the process's event loop: the limits are per process (per uvicorn worker).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from app.core.streams import BLOCK_SIZE
from app.core.types import Algorithm

from .body import PIECE_BLOCKS, SMALL_MEMBER_BYTES
from .job import Job
from .limits import Settings

LaneName = Literal["small", "large"]
PIECE_BYTES = PIECE_BLOCKS * BLOCK_SIZE * 8  # one piece of float64 (the widest dtype)
JSON_BYTES_PER_NUMBER = 24


def memory_estimate(job: Job, body_size: int, *, whole: bool, ahead: int) -> int:
    """Bytes ``job`` holds in memory at its peak (an upper estimate).

    Built whole (``whole``): the pieces and the joined body. Streamed: its pieces in flight (a
    JSON piece is a whole tensor's text). Plus the largest whole-matrix tensor (float64 values,
    the QR's work and result) and, for numpy-legacy, every tensor drawn at once in float64.
    """
    if whole:
        estimate = 2 * body_size
    elif job.fmt == "json":
        largest = max((o.numel for o in job.outputs), default=0)
        estimate = (ahead + 1) * JSON_BYTES_PER_NUMBER * largest
    else:
        estimate = (ahead + 1) * PIECE_BYTES + SMALL_MEMBER_BYTES
    matrices = [o.plan.numel for o in job.outputs if o.plan.is_whole_matrix]
    estimate += 24 * max(matrices, default=0)
    if job.algorithm is Algorithm.NUMPY_LEGACY:
        estimate += 8 * sum(p.numel for p in job.plans)
    if job.algorithm is Algorithm.TORCH_CPU:  # every tensor at once, plus one float64 buffer
        numels = [p.numel for p in job.plans]
        estimate += 8 * sum(numels) + 32 * max(numels, default=0)
    return estimate


class Overloaded(Exception):
    """The job cannot be admitted now; retry after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: int, reason: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
        self.reason = reason  # queue_full, queue_timeout, draining


@dataclass(eq=False)
class _Waiter:
    nbytes: int
    future: asyncio.Future[None]


@dataclass
class Lane:
    name: LaneName
    slots: int
    active: int = 0
    queue: deque[_Waiter] = field(default_factory=deque)


class Ticket:
    """An admitted job's slot (while it generates) and its reserved bytes (until it ends)."""

    def __init__(self, admission: Admission, lane: Lane, nbytes: int) -> None:
        self.admission = admission
        self.lane = lane
        self.nbytes = nbytes
        self.holds_slot = True
        self.done = False

    @property
    def lane_name(self) -> LaneName:
        return self.lane.name

    def pause(self) -> None:
        """Give the slot back while the job waits for its reader (its bytes stay reserved)."""
        if self.holds_slot and not self.done:
            self.holds_slot = False
            self.lane.active -= 1
            self.admission.wake()

    async def resume(self) -> None:
        """Take a slot again before generating more (queues ahead of new jobs, no timeout)."""
        if self.holds_slot or self.done:
            return
        await self.admission.wait_slot(self.lane, 0, front=True, timeout=None)
        self.holds_slot = True

    def release(self) -> None:
        """The job ended: free its slot and its bytes (idempotent)."""
        if self.done:
            return
        self.done = True
        if self.holds_slot:
            self.holds_slot = False
            self.lane.active -= 1
        self.admission.buffered -= self.nbytes
        self.admission.wake()


class Admission:
    """The admission state of one process (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        total = max(2, settings.max_concurrent_jobs)
        large = max(1, total // 2)
        self.lanes: dict[LaneName, Lane] = {
            "small": Lane("small", total - large),
            "large": Lane("large", large),
        }
        self.max_buffered = settings.max_buffered_bytes
        self.max_queued = settings.max_queued_jobs
        self.timeout = settings.queue_timeout_s
        self.small_cost = settings.small_request_cost
        self.buffered = 0
        self.draining = False

    def lane_for(self, cost: int) -> LaneName:
        return "small" if cost <= self.small_cost else "large"

    def retry_after(self, lane: LaneName) -> int:
        return 1 if lane == "small" else max(1, self.timeout)

    @property
    def active(self) -> int:
        return sum(lane.active for lane in self.lanes.values())

    @property
    def queued(self) -> int:
        return sum(len(lane.queue) for lane in self.lanes.values())

    def _fits(self, lane: Lane, nbytes: int) -> bool:
        if lane.active >= lane.slots:
            return False
        return nbytes == 0 or self.buffered == 0 or self.buffered + nbytes <= self.max_buffered

    def wake(self) -> None:
        """Admit the head of each lane's queue while it fits (first in, first out)."""
        for lane in self.lanes.values():
            while lane.queue:
                head = lane.queue[0]
                if head.future.done():  # timed out or cancelled
                    lane.queue.popleft()
                    continue
                if not self._fits(lane, head.nbytes):
                    break
                lane.queue.popleft()
                self._take(lane, head.nbytes)
                head.future.set_result(None)

    def _take(self, lane: Lane, nbytes: int) -> None:
        lane.active += 1
        self.buffered += nbytes

    async def wait_slot(
        self, lane: Lane, nbytes: int, *, front: bool = False, timeout: float | None
    ) -> None:
        """Take a slot (and ``nbytes``) of ``lane``, waiting in its queue up to ``timeout``."""
        if not lane.queue and self._fits(lane, nbytes):
            self._take(lane, nbytes)
            return
        waiter = _Waiter(nbytes, asyncio.get_running_loop().create_future())
        if front:
            lane.queue.appendleft(waiter)
        else:
            lane.queue.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
        except BaseException:  # timed out, or cancelled: the client went away
            if waiter.future.done() and not waiter.future.cancelled():
                # admitted just as the wait ended: hand the slot back
                lane.active -= 1
                self.buffered -= nbytes
            else:
                waiter.future.cancel()
                if waiter in lane.queue:  # its place is free at once, wherever it was
                    lane.queue.remove(waiter)
            self.wake()
            raise

    def admit_now(self, lane_name: LaneName, nbytes: int) -> Ticket | None:
        """A ticket for a new job if it can start at once (a free slot, nobody queued, not
        draining), else None: :meth:`admit` then decides, waiting if need be."""
        lane = self.lanes[lane_name]
        nbytes = min(max(0, nbytes), self.max_buffered)
        if self.draining or lane.queue or not self._fits(lane, nbytes):
            return None
        self._take(lane, nbytes)
        return Ticket(self, lane, nbytes)

    async def admit(self, lane_name: LaneName, nbytes: int) -> Ticket:
        """A ticket for a new job, or :class:`Overloaded` (draining, queue full, timeout).
        Cancelling the call (its client went away) leaves the queue at once."""
        lane = self.lanes[lane_name]
        nbytes = min(max(0, nbytes), self.max_buffered)
        retry = self.retry_after(lane_name)
        if self.draining:
            raise Overloaded(
                "The server is shutting down; retry on another replica.", 1, "draining"
            )
        if not self._fits(lane, nbytes) or lane.queue:
            waiting = sum(1 for w in lane.queue if not w.future.done())
            if self.timeout == 0 or waiting >= self.max_queued:
                raise Overloaded(
                    f"Every generation slot of the {lane_name} lane is busy and its queue is "
                    "full; retry later.",
                    retry,
                    "queue_full",
                )
        try:
            await self.wait_slot(lane, nbytes, timeout=self.timeout)
        except TimeoutError:
            raise Overloaded(
                f"No generation slot of the {lane_name} lane became free within "
                f"WEIGHTINIT_QUEUE_TIMEOUT_S={self.timeout} s; retry later.",
                retry,
                "queue_timeout",
            ) from None
        return Ticket(self, lane, nbytes)
