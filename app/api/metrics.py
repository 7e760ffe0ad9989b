"""Prometheus metrics (``GET /metrics``), with the standard ``prometheus_client`` library.

Every name follows Prometheus' conventions (``weightinit_`` prefix, base units, ``_total`` for
counters). HTTP metrics are labelled with the route *template* (``/v1/weights/{scheme}``),
never the raw path, so a client cannot create label values: unknown paths share the one value
``unmatched``, unknown methods ``other``.

With ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory, before the process starts), every
uvicorn worker writes its values there and ``/metrics`` adds up all workers' values: the
library's multiprocess mode. Without it, ``/metrics`` shows this process, plus the library's
``process_*`` and ``python_*`` metrics.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope

from app.jobs.pool import Cancelled, GenerationPool, Piece, Slot

T = TypeVar("T")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REJECTION_REASONS = frozenset(
    {"unauthorized", "rate_limited", "too_large", "overloaded", "timeout", "malformed"}
)

REQUESTS = Counter(
    "weightinit_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "weightinit_http_request_duration_seconds",
    "Seconds from the request's arrival to the last byte of its response.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
RESPONSE_BYTES = Counter(
    "weightinit_http_response_bytes_total",
    "Bytes of response bodies sent, by method and route template.",
    ["method", "route"],
)
ACTIVE_JOBS = Gauge(
    "weightinit_generation_jobs_active",
    "Generation jobs running now (a streamed body or a body built whole).",
    multiprocess_mode="livesum",
)
QUEUED_JOBS = Gauge(
    "weightinit_generation_jobs_queued",
    "Requests waiting for a generation slot of their lane (admission control).",
    multiprocess_mode="livesum",
)
REJECTIONS = Counter(
    "weightinit_rejections_total",
    "Requests refused before any work, by reason "
    "(unauthorized, rate_limited, too_large, overloaded, timeout, malformed).",
    ["reason"],
)
CANCELLATIONS = Counter(
    "weightinit_cancellations_total",
    "Generation jobs stopped before their end, or given up while queued for a slot, because "
    "the client went away (or shutdown).",
)


def record_rejection(reason: str) -> None:
    """Count one refused request: ``unauthorized`` (401), ``rate_limited`` (429),
    ``too_large`` (413), ``overloaded`` (503), ``timeout`` (408) or ``malformed`` (400)."""
    if reason not in REJECTION_REASONS:
        raise ValueError(f"unknown rejection reason {reason!r}")
    REJECTIONS.labels(reason).inc()


def record_request(method: str, route: str, status: int, seconds: float, sent: int) -> None:
    method = method if method in METHODS else "other"
    count, duration, sent_bytes = _request_series(method, route, status)
    count.inc()
    duration.observe(seconds)
    sent_bytes.inc(sent)


@functools.lru_cache(maxsize=4096)
def _request_series(method: str, route: str, status: int) -> tuple[Any, Any, Any]:
    """The three series of one (method, route, status), looked up once: ``labels()`` takes a
    lock and hashes its arguments on every call (routes are templates, so few keys)."""
    return (
        REQUESTS.labels(method, route, str(status)),
        DURATION.labels(method, route),
        RESPONSE_BYTES.labels(method, route),
    )


class RouteTable:
    """The application's routes, flattened, to name a request's route template.

    Filled once the application is built (:meth:`load`); matching uses Starlette's public
    ``BaseRoute.matches``, so a request refused before routing (401, 429, 413, a cache hit)
    is named like one that reached its route."""

    def __init__(self) -> None:
        self.routes: list[tuple[BaseRoute, str]] = []
        self._known: dict[tuple[object, object, object], str] = {}

    def load(self, routes: Iterable[BaseRoute]) -> None:
        self._known.clear()
        self.routes = [  # path_format: the template without convertors ({scheme:scheme})
            (route, route.path + "/{path}" if isinstance(route, Mount) else route.path_format)
            for route in routes
            if isinstance(route, Route | Mount)
        ]

    def template(self, scope: Scope) -> str:
        """The template of the route ``scope`` goes to (a 405 keeps its route), else
        UNMATCHED; remembered per (method, root path, path), at most 4096 of them."""
        key = (scope.get("method"), scope.get("root_path", ""), scope.get("path"))
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= 4096:  # unknown paths cannot grow it without bound
                self._known.clear()
            found = self._known[key] = self._match(scope)
        return found

    def _match(self, scope: Scope) -> str:
        partial: str | None = None
        for route, path in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return path
            if match is Match.PARTIAL and partial is None:
                partial = path
        return partial or UNMATCHED

    def allowed_methods(self, scope: Scope) -> list[str]:
        """The methods the path of ``scope`` answers (for a 405's ``Allow``): those of the
        routes with a literal path when one matches (``/v1/weights/digests`` is not the
        ``/v1/weights/{scheme}`` shortcut), else of every route whose path matches."""
        literal: set[str] = set()
        templated: set[str] = set()
        for route, _ in self.routes:
            methods = getattr(route, "methods", None)
            if not methods or route.matches(scope)[0] is Match.NONE:
                continue
            (templated if getattr(route, "param_convertors", None) else literal).update(methods)
        allowed = literal or templated
        if "GET" in allowed:  # every GET route answers HEAD too (app/api/head.py)
            allowed.add("HEAD")
        return sorted(allowed)


def exposition() -> bytes:
    """The text format of every metric (of every worker, in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_exited() -> None:
    """Multiprocess mode: drop this process's live gauges (its jobs are gone)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MeteredPool(GenerationPool):
    """A :class:`GenerationPool` that counts running jobs and abandoned ones."""

    async def stream(
        self, pieces: Iterable[Piece], slot: Slot | None = None
    ) -> AsyncIterator[memoryview]:
        ACTIVE_JOBS.inc()
        try:
            async for data in super().stream(pieces, slot):
                yield data
        except (GeneratorExit, asyncio.CancelledError):  # the server stopped sending it
            CANCELLATIONS.inc()
            raise
        finally:
            ACTIVE_JOBS.dec()

    def iterate(
        self, pieces: Iterable[Callable[[], T]], stop: threading.Event | None = None
    ) -> Iterator[T]:
        ACTIVE_JOBS.inc()
        try:
            yield from super().iterate(pieces, stop)
        except Cancelled:
            CANCELLATIONS.inc()
            raise
        finally:
            ACTIVE_JOBS.dec()
