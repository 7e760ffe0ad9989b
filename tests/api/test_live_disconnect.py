"""A client that disconnects before the first byte stops its generation within a second.

Against a real server process: each request below needs seconds of CPU in one piece (the QR
of an orthogonal matrix of 3072 to 4096 rows: 3 to 7 s with the compiled kernels; the
server's matrix and buffering limits are raised to allow them), buffered whole or streamed.
The client goes away 0.3 s in; from one second after that, the process must use almost no
CPU (without cancellation it keeps computing for seconds).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import serve_process

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def post(path: str, body: object) -> bytes:
    data = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(data) + data


# Bodies up to 64 MiB are built whole (buffered) on this server; orthogonal matrices of up
# to 2**24 elements are allowed.
SERVER_ENV = {
    "WEIGHTINIT_CACHE_BYTES": "0",
    "WEIGHTINIT_THREADS": "2",
    "WEIGHTINIT_BUFFER_BYTES": str(64 << 20),
    "WEIGHTINIT_MAX_MATRIX_ELEMENTS": str(1 << 24),
}
ORTHO = {"layer": {"kind": "tensor", "shape": [4096, 4096]}, "scheme": "orthogonal", "seed": 1}
CASES = {
    "streamed-npy": b"GET /v1/weights/orthogonal?shape=4096,4096&seed=1&format=npy HTTP/1.1\r\n"
    b"Host: x\r\n\r\n",
    "digests": post("/v1/weights/digests", ORTHO),
    "buffered-npy": post(  # 64 000 128 bytes: under the buffering limit
        "/v1/weights.npy", {**ORTHO, "layer": {"kind": "tensor", "shape": [4000, 4000]}}
    ),
    "streamed-models": post(
        "/v1/models.npz",
        {
            "seed": 1,
            "scheme": "orthogonal",
            "layers": [
                {
                    "name": f"l{i}",
                    "layer": {
                        "kind": "dense",
                        "in_features": 3072,
                        "out_features": 3072,
                        "bias": False,
                    },
                }
                for i in range(4)
            ],
        },
    ),
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int, int]]:
    with serve_process(SERVER_ENV) as (url, pid):
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port), pid


@pytest.mark.parametrize("case", list(CASES))
def test_a_client_gone_before_the_first_byte_stops_its_generation(
    server: tuple[str, int, int], case: str
) -> None:
    host, port, pid = server
    sock = socket.create_connection((host, port))
    sock.sendall(CASES[case])
    time.sleep(0.3)
    start = cpu_seconds(pid)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
    sock.close()
    time.sleep(1.0)  # the allowed second
    settled = cpu_seconds(pid)
    time.sleep(2.0)
    after = cpu_seconds(pid)
    assert settled - start < 2.0  # (two threads for one second at most)
    assert after - settled < 0.2, f"{case}: {after - settled:.2f} s of CPU after the client left"
