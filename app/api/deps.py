"""Request-scoped dependencies: settings, the generation pool, the JSON body rule, the
query-string rule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.core.errors import InvalidParameterError, UnknownNameError
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


def _declared(dependant: Dependant) -> set[str]:
    """The query parameters a route's dependency tree declares."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared(sub)
    return names


def _query_names(route: APIRoute) -> frozenset[str]:
    names: frozenset[str] | None = getattr(route, "_weightinit_query", None)
    if names is None:
        names = frozenset(_declared(route.dependant))
        route._weightinit_query = names  # type: ignore[attr-defined]  # computed once
    return names


def known_query(*extra: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency: every query parameter is one the route declares (or one of ``extra``),
    else a 422 naming the nearest (unknown parameters are refused, never ignored)."""

    async def check(request: Request) -> None:
        route = request.scope.get("route")
        if not isinstance(route, APIRoute):
            return
        names = _query_names(route) | set(extra)
        for key in request.query_params:
            if key not in names and not names:
                raise InvalidParameterError(
                    f"{request.method} {route.path} takes no query parameters; got {key!r}.",
                    field=key,
                )
            if key not in names:
                raise UnknownNameError(
                    "query parameter",
                    key,
                    names,
                    field=key,
                    context=f"of {request.method} {route.path}",
                )

    return check
