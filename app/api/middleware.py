"""ASGI middleware: the body-size limit and the body read timeout (request ids:
:mod:`app.api.observe`).

The body is read here, before the application, so an oversized body is refused with a 413
(FastAPI would turn an error raised while it reads the body into a generic 400). Nothing past
``max_body_bytes`` is read; a declared ``Content-Length`` over the limit is refused unread.
A body not complete within ``WEIGHTINIT_BODY_TIMEOUT_S`` (a client that sends less than its
``Content-Length``, or stalls) gets a 408 and the connection is closed.
"""

from __future__ import annotations

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import record_rejection
from .problems import PROBLEM_JSON, SLUGS, TITLES, TYPE_BASE, problem_document


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that first hands the application the already-read ``body``."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class RequestLimits:
    """Refuse bodies over ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout_s: float = 30) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = scope.get("state", {}).get("request_id", "")  # set by observe.Observability
        send_with_id = send
        declared = headers.get(b"content-length", b"")
        size = int(declared) if declared.isdigit() else 0
        chunks: list[bytes] = []
        if size <= self.max_body_bytes:
            more = True
            with anyio.move_on_after(self.body_timeout_s) as deadline:
                while more:
                    message = await receive()
                    if message["type"] != "http.request":
                        await self.app(scope, receive, send_with_id)  # client went away
                        return
                    chunks.append(message.get("body", b""))
                    size = sum(len(c) for c in chunks)
                    more = message.get("more_body", False) and size <= self.max_body_bytes
            if deadline.cancelled_caught:
                await self._too_slow(scope, size, request_id, send_with_id)
                return
        if size > self.max_body_bytes:
            await self._refuse(scope, size, request_id, send_with_id)
            return
        await self.app(scope, replaying(b"".join(chunks), receive), send_with_id)

    async def _too_slow(self, scope: Scope, size: int, request_id: str, send: Send) -> None:
        record_rejection("timeout")
        detail = (
            f"The body was not complete within {self.body_timeout_s:g} s "
            f"(WEIGHTINIT_BODY_TIMEOUT_S); {size} bytes arrived."
        )
        body = problem_document(408, detail, scope.get("path", ""), request_id)
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 408, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _refuse(self, scope: Scope, size: int, request_id: str, send: Send) -> None:
        record_rejection("too_large")
        limit = self.max_body_bytes
        problem = {
            "type": TYPE_BASE + SLUGS[413],
            "title": TITLES[413],
            "status": 413,
            "detail": f"The body has at least {size} bytes, "
            f"over WEIGHTINIT_MAX_BODY_BYTES={limit}.",
            "instance": scope.get("path", ""),
            "request_id": request_id,
            "limit": "WEIGHTINIT_MAX_BODY_BYTES",
            "value": limit,
            "requested": size,
        }
        body = json.dumps(problem).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
