"""A failure after the first byte closes the connection short of Content-Length: clients raise.

A real uvicorn (in a thread, so generation can be made to fail) streams a large body whose
third piece raises. The response had already started with a 200 and an exact
``Content-Length``, so the only honest signal is a connection closed early: httpx, the SDK's
download and its parallel download must all raise, and no file may be left behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from weightinit_client import Client, WeightinitError

from app.api.settings import Settings
from app.jobs import body
from app.main import create_app
from tests.live_server import free_port

URL_PATH = "/v1/weights/he_normal?shape=4096,1024&seed=1&format=npy"  # 16 MiB: streamed


@pytest.fixture
def failing_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    calls = {"n": 0}
    original = body.TensorData.values

    def values(self: body.TensorData, first: int, end: int, out: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("generation failed (injected by the test)")
        return original(self, first, end, out)

    monkeypatch.setattr(body.TensorData, "values", values)
    port = free_port()
    config = uvicorn.Config(
        create_app(Settings(threads=1)), host="127.0.0.1", port=port, log_level="critical"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_httpx_sees_a_connection_closed_before_content_length(failing_server: str) -> None:
    url = failing_server + URL_PATH
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == 4096 * 1024 * 4 + 128
        for _ in response.iter_bytes():
            pass


def test_the_sdk_download_raises_and_leaves_no_file(failing_server: str, tmp_path: Path) -> None:
    target = tmp_path / "w.npy"
    body_json = {
        "layer": {"kind": "tensor", "shape": [4096, 1024]},
        "scheme": "he_normal",
        "seed": 1,
    }
    with Client(failing_server, retries=0) as client, pytest.raises(WeightinitError):
        client.download(target, body_json, format="npy")
    assert not target.exists() and not (tmp_path / "w.npy.part").exists()
