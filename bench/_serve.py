"""Trivial loopback servers for bench/bench_service.py (not a benchmark itself).

* ``app`` (Starlette, run with uvicorn): ``GET /bytes?n=N`` answers N pre-made random bytes
  with ``Content-Length``; ``GET /healthz``.
* ``bare`` (FastAPI, run with uvicorn): ``GET /small`` answers a small constant JSON object;
  ``GET /healthz``.
* ``python bench/_serve.py PORT``: the same ``/bytes`` and ``/healthz`` from a
  ``http.server.ThreadingHTTPServer`` (one ``sendall`` of a preallocated buffer).

The byte buffers are random (``os.urandom``), not zero pages, and are made on first use, so a
caller makes one untimed request per size before timing.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_BYTES = 1 << 30
_BUFFERS: dict[int, bytes] = {}


def premade(n: int) -> bytes:
    """N random bytes, made once per size and kept."""
    if not 0 <= n <= MAX_BYTES:
        raise ValueError(f"n must be in 0..{MAX_BYTES}")
    if n not in _BUFFERS:
        _BUFFERS[n] = os.urandom(n)
    return _BUFFERS[n]


async def _bytes(request: Request) -> Response:
    n = int(request.query_params.get("n", "0"))
    return Response(premade(n), media_type="application/octet-stream")


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/bytes", _bytes), Route("/healthz", _health)])

bare = FastAPI()


@bare.get("/healthz")
async def bare_health() -> dict[str, str]:
    return {"status": "ok"}


@bare.get("/small")
async def bare_small() -> dict[str, Any]:
    return {"status": "ok", "service": "bare", "values": [0.5, -0.25, 0.125]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/healthz":
            body: bytes | memoryview = b'{"status":"ok"}'
            media = "application/json"
        elif parts.path == "/bytes":
            n = int(parse_qs(parts.query).get("n", ["0"])[0])
            body = memoryview(premade(n))
            media = "application/octet-stream"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
