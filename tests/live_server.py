"""A real server process (``python -m app.server``: uvicorn with our h11 protocol class)
serving ``app.main:app`` on 127.0.0.1, for end-to-end tests.

``serve()`` starts it on a free port with the WEIGHTINIT_* settings cleared (default limits,
no default URL), waits until ``/healthz`` answers, yields its URL and always stops it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The environment without WEIGHTINIT_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WEIGHTINIT_")}


@contextmanager
def serve() -> Iterator[str]:
    """A uvicorn process on a free port; its URL. Always terminated on exit."""
    with serve_process() as (url, _):
        yield url


@contextmanager
def serve_process(
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[tuple[str, int]]:
    """A server process (``python -m app.server``, with ``env`` added to the clean environment
    and ``args`` to its command line, e.g. ``("--workers", "2")``); URL and pid. Its stdout
    and stderr go to ``log_path`` when given (for tests that read the log)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "app.server", "--host", "127.0.0.1"]
    with log_path.open("w+b") if log_path is not None else tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, "--port", str(port), *args],
            cwd=ROOT,
            env={**clean_env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if process.poll() is not None:
                    pytest.fail(f"uvicorn exited with {process.returncode}:\n{output()}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"uvicorn not healthy after {STARTUP_TIMEOUT}s:\n{output()}")
                time.sleep(0.1)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
