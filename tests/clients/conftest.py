"""A live uvicorn per test module (as tests/api/test_live_server.py starts it) and references."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import serve

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# The command line as a module of the client package (the `weightinit` script runs its main).
CLI_MODULE = (sys.executable, "-m", "weightinit_client.cli")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A uvicorn process serving app.main:app; its URL. Always terminated in teardown."""
    with serve() as url:
        yield url
