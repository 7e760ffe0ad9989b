"""The outermost middleware: request ids, one JSON log line and the metrics of every request.

``X-Request-ID`` is taken from the request when it is printable and at most 100 characters,
else generated (32 hex digits); it is echoed as a response header and put in
``scope["state"]["request_id"]``, where every problem+json body takes it from.

Each request, once its response is over (or its client went away), logs one line on the
``weightinit.access`` logger, rendered by :class:`JsonFormatter` as one JSON object:
``{"ts", "level", "logger", "message": "request", "method", "route", "path", "status",
"duration_s", "bytes", "request_id", "client"}``. Neither a body, a query string nor a
header other than the request id is ever logged.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import RouteTable, record_request

access_log = logging.getLogger("weightinit.access")
LOG_FIELDS = ("method", "route", "path", "status", "duration_s", "bytes", "request_id", "client")
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        try:  # orjson: a tenth of json.dumps's time, on every request's access line
            return orjson.dumps(line, default=str).decode()
        except TypeError:  # what orjson cannot write (an int beyond 64 bits...)
            return json.dumps(line, default=str, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (as logging's last resort does)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def install_json_logging() -> None:
    """Send the ``weightinit`` loggers (access log included) to stderr as JSON lines, once."""
    logger = logging.getLogger("weightinit")
    if any(getattr(h, "weightinit_json", False) for h in logger.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.weightinit_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def request_id_of(scope: Scope) -> str:
    headers = dict(scope.get("headers") or [])
    incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:100]
    return incoming if incoming and incoming.isprintable() else os.urandom(16).hex()


class Observability:
    """Request id, access log line and metrics for every HTTP request (outermost)."""

    def __init__(self, app: ASGIApp, routes: RouteTable) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 0
        sent = 0

        async def observed(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observed)
        except Exception:
            status = status or 500  # what the server's error handler answers
            raise
        finally:  # 499: the client went away before a response started
            self._record(scope, request_id, status or 499, time.perf_counter() - started, sent)

    def _record(
        self, scope: Scope, request_id: str, status: int, seconds: float, sent: int
    ) -> None:
        route = self.routes.template(scope)
        method = str(scope.get("method", ""))
        record_request(method, route, status, seconds, sent)
        client = scope.get("client")
        fields = {
            "method": method[:16],
            "route": route,
            "path": str(scope.get("path", ""))[:200],
            "status": status,
            "duration_s": round(seconds, 6),
            "bytes": sent,
            "request_id": request_id,
            "client": client[0] if client else None,
        }
        access_log.info("request", extra=fields)
