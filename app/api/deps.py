"""Request-scoped dependencies: settings, the generation pool, the JSON body rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request

from app.jobs.admission import Admission, LaneName
from app.jobs.limits import Settings
from app.jobs.pool import GenerationPool

from .problems import ProblemError

T = TypeVar("T")


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def pool_of(request: Request, lane: LaneName = "large") -> GenerationPool:
    """The generation threads of ``lane`` (each lane has its own: app.jobs.admission)."""
    pools: dict[LaneName, GenerationPool] = request.app.state.pools
    return pools[lane]


def admission_of(request: Request) -> Admission:
    admission: Admission = request.app.state.admission
    return admission


async def off_loop(work: Callable[[], T]) -> T:
    """``work()`` in a worker thread: planning a request of many layers takes a while, and
    the event loop must keep answering (``/healthz`` among others) meanwhile."""
    return await anyio.to_thread.run_sync(work)


async def json_body(request: Request) -> None:
    """POST bodies are JSON objects: another media type is a 415, an empty body a 400."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if not (
        media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
    ):
        shown = media or "no Content-Type"
        raise ProblemError(415, f"Send the body as application/json (got {shown}).")
    if not (await request.body()).strip():
        raise ProblemError(400, "The body is empty: send a JSON object.")
