"""Tests that run the reference frameworks (torch, JAX, Flax) in ``.venv-frameworks``.

The frameworks are never in the service's ``.venv``: each test runs a script in that separate
environment (``make frameworks`` builds it; ``make test`` does so first) and compares what it
prints with the service. Without the environment these tests skip, naming the command, except
in CI (``CI`` set), where its absence is a failure. ``WEIGHTINIT_FRAMEWORKS_PYTHON`` names
another interpreter (e.g. a worktree's tests using the main checkout's environment).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS_PYTHON = Path(
    os.environ.get("WEIGHTINIT_FRAMEWORKS_PYTHON", ROOT / ".venv-frameworks" / "bin" / "python")
)
SCRIPTS = Path(__file__).resolve().parent / "scripts"


@pytest.fixture(scope="session")
def frameworks_python() -> Path:
    """The interpreter of .venv-frameworks (torch, jax, flax and the client)."""
    if not FRAMEWORKS_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{FRAMEWORKS_PYTHON} is missing: make test builds it (make frameworks)")
        pytest.skip("the reference frameworks are not installed: run make frameworks")
    return FRAMEWORKS_PYTHON


def run_script(
    python: Path, script: str, *args: str, stdin: str | None = None, timeout: float = 240.0
) -> Any:
    """Run ``scripts/<script>`` in the frameworks' environment (``stdin`` its input); the JSON
    it prints last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIGHTINIT_")}
    env["JAX_PLATFORMS"] = "cpu"
    # this checkout's client, whichever checkout the environment's editable install points at
    env["PYTHONPATH"] = str(ROOT / "clients" / "python")
    done = subprocess.run(
        [str(python), str(SCRIPTS / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])
