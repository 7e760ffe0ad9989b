"""The HTTP edge of a real server process (``python -m app.server``), over raw sockets.

Slow headers, a body shorter than its Content-Length, a request framed twice (CL+TE),
malformed HTTP and a reader that stops reading: each gets problem+json (or a cut connection,
once a response has started), quickly, and the server keeps answering. Short timeouts are
set through the environment so that each case takes seconds.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live_server import serve_process

ENV = {
    "WEIGHTINIT_HEADER_TIMEOUT_S": "2",
    "WEIGHTINIT_BODY_TIMEOUT_S": "2",
    "WEIGHTINIT_WRITE_TIMEOUT_S": "2",
}
BODY = json.dumps(
    {"layer": {"kind": "dense", "in_features": 4, "out_features": 3}, "seed": 1}
).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    with serve_process(ENV) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def connect(server: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(server, timeout=10)
    return sock


def read_all(sock: socket.socket, limit: float = 10.0) -> bytes:
    """Everything until the server closes the connection (fails after ``limit`` s)."""
    sock.settimeout(limit)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, json.loads(body) if body else None


def assert_problem(raw: bytes, status: int) -> dict[str, Any]:
    got, headers, body = parse(raw)
    assert got == status, raw[:400]
    assert headers["content-type"] == "application/problem+json"
    assert headers.get("connection") == "close"
    assert body["status"] == status and body["detail"] and body["request_id"]
    return dict(body)


def assert_healthy(server: tuple[str, int]) -> None:
    host, port = server
    assert httpx.get(f"http://{host}:{port}/healthz", timeout=5).status_code == 200


def test_slow_headers_get_a_408_at_the_head_deadline(server: tuple[str, int]) -> None:
    sock = connect(server)
    start = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        for _ in range(20):  # one header line every 0.25 s: never idle, never complete
            time.sleep(0.25)
            sock.sendall(b"X-Slow: 1\r\n")
    except OSError:
        pass  # the server closed the connection: what we want
    raw = read_all(sock)
    elapsed = time.monotonic() - start
    assert 1.5 < elapsed < 5.0, elapsed
    assert "WEIGHTINIT_HEADER_TIMEOUT_S" in assert_problem(raw, 408)["detail"]
    assert_healthy(server)


def test_an_idle_connection_after_a_response_also_has_a_head_deadline(
    server: tuple[str, int],
) -> None:
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    start = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # the second head never completes
    raw = read_all(sock)
    assert time.monotonic() - start < 5.0
    assert_problem(raw, 408)


def test_a_body_shorter_than_its_content_length_gets_a_408(server: tuple[str, int]) -> None:
    sock = connect(server)
    start = time.monotonic()
    head = (
        b"POST /v1/weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (len(BODY) + 10)
    )
    sock.sendall(head + BODY)
    raw = read_all(sock)
    assert 1.5 < time.monotonic() - start < 6.0
    body = assert_problem(raw, 408)
    assert "WEIGHTINIT_BODY_TIMEOUT_S" in body["detail"] and body["instance"] == "/v1/weights"
    assert_healthy(server)


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
    ],
)
def test_content_length_with_transfer_encoding_is_a_400_and_closes(
    server: tuple[str, int], framing: bytes
) -> None:
    sock = connect(server)
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (
        b"POST /v1/weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + framing
        + b"\r\n0\r\n\r\n"
        + smuggled
    )
    sock.sendall(request)
    raw = read_all(sock)
    assert raw.count(b"HTTP/1.1 ") == 1, raw  # the smuggled request is never answered
    body = assert_problem(raw, 400)
    assert "RFC 9112" in body["detail"] and body["instance"] == "/v1/weights"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    ],
)
def test_malformed_http_gets_problem_json(server: tuple[str, int], request_bytes: bytes) -> None:
    sock = connect(server)
    sock.sendall(request_bytes)
    body = assert_problem(read_all(sock), 400)
    assert "not valid HTTP/1.1" in body["detail"]
    assert_healthy(server)


def test_a_reader_that_stops_reading_is_cut_by_the_write_timeout(
    server: tuple[str, int],
) -> None:
    host, port = server
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill the pipe quickly
    sock.connect((host, port))
    sock.sendall(
        b"GET /v1/weights/normal?shape=8192,8192&seed=1&format=npy HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    time.sleep(0.5)
    assert sock.recv(64).startswith(b"HTTP/1.1 200")
    time.sleep(2 + 3)  # write timeout + slack; the reader reads nothing meanwhile
    received, cut = 0, False
    sock.settimeout(10)  # a connection left open would fail the test with a timeout
    try:
        while chunk := sock.recv(1 << 20):  # what was already buffered, then the end
            received += len(chunk)
    except ConnectionResetError:
        cut = True
    assert cut or received < 8192 * 8192 * 4
    assert received < 8192 * 8192 * 4
    assert_healthy(server)
