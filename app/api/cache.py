"""A bounded cache of small whole responses: the same request always gets the same bytes.

Every 200 of ``/v1/weights*`` and ``/v1/models*`` is a pure function of the request's method,
path, query string, body and ``Accept`` header (the ETag is computed from the same inputs),
so a small response can be replayed without validating, planning or generating again. Only
complete bodies of at most ``max_entry`` bytes are kept (never a streamed or ranged one), up
to ``WEIGHTINIT_CACHE_BYTES`` in total, least recently used first out; ``0`` turns it off. A
hit answers ``If-None-Match`` with 304 like the route would. Responses say which they were:
``X-Weightinit-Cache: hit`` or ``miss`` (absent on responses that are never kept).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .middleware import replaying
from .respond import etag_matches

CACHED_PREFIXES = ("/v1/weights", "/v1/models")
_UNCACHED_SUFFIX = "/digests"


@dataclass(frozen=True)
class Entry:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 256


class ResponseCache:
    """ASGI middleware: replay small whole 200 responses of identical requests."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_entry: int = 1 << 20) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_entry = min(max_entry, max_bytes)
        self.entries: OrderedDict[tuple[bytes, ...], Entry] = OrderedDict()
        self.used = 0
        self.lock = threading.Lock()

    def _key(self, scope: Scope, body: bytes) -> tuple[bytes, ...] | None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            return None
        if not path.startswith(CACHED_PREFIXES) or path.endswith(_UNCACHED_SUFFIX):
            return None
        headers = dict(scope.get("headers") or [])
        if b"range" in headers:
            return None
        return (
            scope["method"].encode(),
            path.encode(),
            scope.get("query_string", b""),
            headers.get(b"accept", b""),
            headers.get(b"content-type", b""),
            body,
        )

    def _get(self, key: tuple[bytes, ...]) -> Entry | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
            return entry

    def _put(self, key: tuple[bytes, ...], entry: Entry) -> None:
        with self.lock:
            if key in self.entries:
                return
            self.entries[key] = entry
            self.used += entry.size
            while self.used > self.max_bytes and self.entries:
                _, old = self.entries.popitem(last=False)
                self.used -= old.size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.max_bytes <= 0 or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, replay = await _read_body(receive)
        key = self._key(scope, body)
        if key is None:
            await self.app(scope, replay, send)
            return
        entry = self._get(key)
        if entry is not None:
            await _send_entry(scope, entry, send)
            return
        await self.app(scope, replay, self._recording(key, send))

    def _recording(self, key: tuple[bytes, ...], send: Send) -> Send:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        keep = True

        async def record(message: Message) -> None:
            nonlocal start, size, keep
            if message["type"] == "http.response.start":
                start = message
                sent = dict(message.get("headers", []))
                length = sent.get(b"content-length", b"")
                keep = (
                    message["status"] == 200
                    and length.isdigit()
                    and int(length) <= self.max_entry
                    and b"etag" in sent
                )
                if keep:
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"x-weightinit-cache", b"miss")],
                    }
            elif message["type"] == "http.response.body" and keep:
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                keep = size <= self.max_entry
                if keep and not message.get("more_body", False) and start is not None:
                    headers = [h for h in start.get("headers", []) if h[0] != b"x-request-id"]
                    etag = dict(headers)[b"etag"].decode("latin-1")
                    self._put(key, Entry(headers, b"".join(chunks), etag))
            await send(message)

        return record


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body (already bounded by RequestLimits) and a receive that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, replaying(body, receive)


async def _send_entry(scope: Scope, entry: Entry, send: Send) -> None:
    request_headers = dict(scope.get("headers") or [])
    if_none_match = request_headers.get(b"if-none-match", b"").decode("latin-1")
    if scope["method"] == "GET" and etag_matches(if_none_match, entry.etag):
        headers = [(b"etag", entry.etag.encode()), (b"x-weightinit-cache", b"hit")]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [*entry.headers, (b"x-weightinit-cache", b"hit")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": entry.body})
