"""The TypeScript SDK (clients/typescript) against a real uvicorn on 127.0.0.1.

Bootstraps the npm packages (``npm ci``, only when node_modules is missing or the lock changed),
compiles with ``tsc``, checks the committed generated types against ``openapi.json``, runs
``node --test`` with ``WEIGHTINIT_URL`` pointing at a live server, and checks that the SDK's
bytes hash to what the Python core computes. Skipped only when node or npm is not installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.initialize import initialize_layer
from app.encoders import sha256_hex
from tests.live_server import serve

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "clients" / "typescript"
# Same stamp as the Makefile's: the sha256 of package.json + package-lock.json, inside
# node_modules (so `npm ci` wiping node_modules also wipes the stamp).
STAMP = TS / "node_modules" / ".weightinit-installed"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm are needed for the TypeScript SDK tests"
)


def _run(args: list[str], *, timeout: float = 300.0, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=TS, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return output


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((TS / name).read_bytes())
    return digest.hexdigest() + "\n"


def _bootstrap() -> None:
    """``npm ci`` when node_modules is missing or the lock changed; then ``tsc``."""
    assert NPM is not None
    current = STAMP.read_text() if STAMP.is_file() else ""
    if current != _lock_digest():
        _run([NPM, "ci", "--no-audit", "--no-fund"])
        STAMP.write_text(_lock_digest())
    _run([NPM, "run", "build"])


@pytest.fixture(scope="module")
def sdk() -> Path:
    _bootstrap()
    return TS


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A uvicorn process serving app.main:app; its URL. Always terminated in teardown."""
    with serve() as url:
        yield url


def _node_env(url: str) -> dict[str, str]:
    return {**os.environ, "WEIGHTINIT_URL": url}


def test_generated_types_match_openapi_json(sdk: Path) -> None:
    assert NPM is not None
    output = _run([NPM, "run", "check-generated"])
    assert "in sync" in output


def test_node_test_suite_passes_against_a_live_server(sdk: Path, server: str) -> None:
    assert NODE is not None
    output = _run([NODE, "--test", "dist/test/"], timeout=120.0, env=_node_env(server))
    assert "# fail 0" in output, output
    assert "# pass 0" not in output, output


CONV = {"kind": "conv1d", "in_channels": 3, "out_channels": 4, "kernel_size": 5}
DENSE = {"kind": "dense", "in_features": 7, "out_features": 5}
CASES: list[dict[str, Any]] = [
    {"layer": CONV, "scheme": "he_uniform", "seed": str(2**64 - 1), "dtype": "float32"},
    {"layer": DENSE, "scheme": "glorot_normal", "seed": 7, "dtype": "float64"},
    {"layer": DENSE, "scheme": "orthogonal", "seed": 3, "dtype": "float16"},
    {"layer": DENSE, "scheme": "he_normal", "seed": str(2**53 + 1), "dtype": "bfloat16"},
]


@pytest.mark.parametrize("body", CASES, ids=[f"{c['dtype']}-{c['scheme']}" for c in CASES])
def test_typescript_sdk_bytes_hash_like_the_python_core(
    sdk: Path, server: str, body: dict[str, Any]
) -> None:
    assert NODE is not None
    layer = dict(body["layer"])
    kind = layer.pop("kind")
    expected = {
        name: sha256_hex(array)
        for name, array in initialize_layer(
            kind, layer, seed=int(body["seed"]), scheme=body["scheme"], dtype=body["dtype"]
        ).items()
    }
    output = _run(
        [NODE, "scripts/digest.mjs", json.dumps(body)], timeout=60.0, env=_node_env(server)
    )
    got = json.loads(output.strip().splitlines()[-1])
    assert got["safetensors"] == expected
    assert got["safetensors_header"] == expected
    assert got["json_base64"] == expected
    if body["dtype"] != "bfloat16":  # .npy has no bfloat16
        assert got["npy"] == {"weight": expected["weight"]}
    if body["dtype"] in ("float32", "float64"):  # JSON numbers round-trip exactly
        assert got["json"] == expected
