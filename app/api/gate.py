"""Optional API keys and a per-key token-bucket rate limit, before anything else runs.

**Keys** (``WEIGHTINIT_API_KEYS`` / ``WEIGHTINIT_API_KEYS_FILE``): when any is configured,
every request but ``/healthz``, ``/readyz`` and the playground page (``/playground`` and its
script and stylesheet: static files a browser opens without a key; the page sends the key
typed into it with its API requests) must carry one, as ``Authorization: Bearer <key>`` or
``X-API-Key: <key>``; otherwise 401 problem+json with ``WWW-Authenticate: Bearer``. The
presented key's sha256 is compared with every configured key's sha256 with
``hmac.compare_digest``, all of them every time, so the time taken tells nothing about which
key, or how much of one, matched. Keys never reach a log, a problem body or a metric.

**Rate limit** (``WEIGHTINIT_RATE_LIMIT`` requests per second, ``WEIGHTINIT_RATE_BURST``):
one token bucket per key, or per client IP when there are no keys (and for the playground's
files); a request with no token left gets 429 problem+json with ``Retry-After`` (whole
seconds until the next token). Health, readiness and ``/metrics`` are never limited. The
buckets live in this process: with several workers or replicas, each enforces its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .metrics import record_rejection
from .problems import PROBLEM_JSON, SLUGS, TITLES, TYPE_BASE

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
PAGE_PREFIX = "/playground"  # the page and its files: no key, but rate limited
UNLIMITED_PATHS = OPEN_PATHS | {"/metrics"}
MAX_IDLE_BUCKETS = 10_000


class KeyRing:
    """The configured keys, as sha256 digests; :meth:`match` is constant-time over all."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._digests = tuple(hashlib.sha256(key.encode()).digest() for key in keys)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def match(self, candidate: bytes) -> int | None:
        """The index of the key equal to ``candidate``, or None."""
        presented = hashlib.sha256(candidate).digest()
        found = None
        for index, digest in enumerate(self._digests):
            if hmac.compare_digest(digest, presented) and found is None:
                found = index
        return found


def presented_keys(scope: Scope) -> list[bytes]:
    """The keys a request carries: a Bearer token and/or an X-API-Key header."""
    keys: list[bytes] = []
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                keys.append(token.strip())
        elif name == b"x-api-key" and value.strip():
            keys.append(value.strip())
    return keys


class TokenBuckets:
    """``rate`` tokens a second up to ``burst``, per bucket name; in memory, this process."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, when)

    def take(self, name: str) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there is one."""
        now = self.clock()
        tokens, when = self._buckets.get(name, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        if tokens >= 1.0:
            self._buckets[name] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_IDLE_BUCKETS:
                self._forget_full(now)
            return 0.0
        self._buckets[name] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: a fresh bucket is the same."""
        refill = self.burst / self.rate
        self._buckets = {
            name: state for name, state in self._buckets.items() if now - state[1] < refill
        }


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    detail: str,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    extra: dict[str, Any] | None = None,
) -> None:
    """A problem+json response sent straight from middleware (the request id included)."""
    problem: dict[str, Any] = {
        "type": TYPE_BASE + SLUGS[status],
        "title": TITLES[status],
        "status": status,
        "detail": detail,
        "instance": scope.get("path", ""),
    }
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        problem["request_id"] = request_id
    problem.update(extra or {})
    body = json.dumps(problem).encode()
    start_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """ASGI middleware: API keys (when configured), then the rate limit (when on)."""

    def __init__(self, app: ASGIApp, keys: Sequence[str], rate: float, burst: int) -> None:
        self.app = app
        self.keys = KeyRing(keys)
        self.buckets = TokenBuckets(rate, burst) if rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        bucket = _client_ip(scope)
        if self.keys and not is_page(path):
            matches = [self.keys.match(key) for key in presented_keys(scope)]
            index = next((m for m in matches if m is not None), None)
            if index is None:
                await self._unauthorized(scope, send, presented=bool(matches))
                return
            bucket = f"key#{index}"
        if self.buckets is not None and path not in UNLIMITED_PATHS:
            wait = self.buckets.take(bucket)
            if wait > 0:
                await self._too_many(scope, send, wait)
                return
        await self.app(scope, receive, send)

    async def _unauthorized(self, scope: Scope, send: Send, *, presented: bool) -> None:
        record_rejection("unauthorized")
        if presented:
            detail = "The API key is not valid."
            challenge = b'Bearer realm="weightinit", error="invalid_token"'
        else:
            detail = (
                "This service needs an API key: send 'Authorization: Bearer <key>' or "
                "'X-API-Key: <key>'."
            )
            challenge = b'Bearer realm="weightinit"'
        await send_problem(scope, send, 401, detail, headers=[(b"www-authenticate", challenge)])

    async def _too_many(self, scope: Scope, send: Send, wait: float) -> None:
        record_rejection("rate_limited")
        assert self.buckets is not None
        seconds = max(1, math.ceil(wait))
        who = "API key" if self.keys else "client address"
        detail = (
            f"Too many requests for this {who}: at most {self.buckets.rate:g} a second "
            f"(bursts of {self.buckets.burst}); retry in {seconds} s."
        )
        extra = {"limit": "WEIGHTINIT_RATE_LIMIT", "value": self.buckets.rate}
        headers = [(b"retry-after", str(seconds).encode())]
        await send_problem(scope, send, 429, detail, headers=headers, extra=extra)


def is_page(path: str) -> bool:
    """Whether ``path`` is the playground page or one of its files (no key needed)."""
    return path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:?"
