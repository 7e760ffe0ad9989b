"""The README's Quick start works as written: `make run` serves, `curl /healthz` answers."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.live_server import clean_env, free_port

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is needed")
def test_make_run_serves_what_the_readme_shows() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make run" in quick_start and "make test" in quick_start
    shown = re.search(r"curl (http://127\.0\.0\.1:8000/healthz)\n# (.*)\n", quick_start)
    assert shown is not None, "the Quick start shows curl /healthz and its answer"
    port = free_port()
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # make and uvicorn in one process group, stopped together
    )
    try:
        url = shown.group(1).replace("8000", str(port))
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "make run exited"
            try:
                response = httpx.get(url, timeout=1.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "make run did not serve within 60 s"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json() == json.loads(shown.group(2))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
