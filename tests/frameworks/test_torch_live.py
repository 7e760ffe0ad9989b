"""torch-cpu against torch itself, live: random module specs and seeds, built by torch 2.13 in
.venv-frameworks (a subprocess; the service and its tests never import torch).

Without that environment the test is skipped (``make frameworks`` builds it); in CI (``CI``
set) a missing environment fails instead.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.api.conftest import ApiClient

ROOT = Path(__file__).resolve().parents[2]
PYTHON = Path(os.environ.get("WEIGHTINIT_FRAMEWORKS_PYTHON", ROOT / ".venv-frameworks/bin/python"))
SCRIPT = Path(__file__).with_name("torch_live_script.py")


def _python() -> Path:
    if PYTHON.exists():
        return PYTHON
    message = f"{PYTHON} is missing: run `make frameworks` (torch 2.13.0 for these tests)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _random_layer(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choice(["dense", "conv2d", "embedding", "lstm", "multihead_attention"])
    n = lambda: rng.randint(1, 24)  # noqa: E731
    args: dict[str, Any] = {
        "dense": {"in_features": n(), "out_features": n()},
        "conv2d": {"in_channels": n(), "out_channels": n(), "kernel_size": rng.randint(1, 3)},
        "embedding": {"num_embeddings": n(), "embedding_dim": n(), "padding_idx": 0},
        "lstm": {
            "input_size": n(),
            "hidden_size": n(),
            "num_layers": rng.randint(1, 2),
            "bidirectional": rng.random() < 0.5,
        },
        "multihead_attention": {"embed_dim": 4 * rng.randint(1, 6), "num_heads": 4},
    }[kind]
    return {"name": f"l{index}", "layer": {"kind": kind, **args}}


def test_random_modules_match_live_torch() -> None:
    python = _python()
    rng = random.Random(13)
    cases = [
        {
            "id": f"c{i}",
            "seed": rng.randrange(1 << 64),
            "dtype": rng.choice(["float32", "float64"]),
            "layers": [_random_layer(rng, j) for j in range(rng.randint(1, 4))],
        }
        for i in range(12)
    ]
    done = subprocess.run(
        [str(python), str(SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    theirs = json.loads(done.stdout)
    client = ApiClient()
    try:
        for case in cases:
            body = {k: case[k] for k in ("seed", "dtype", "layers")} | {"algorithm": "torch-cpu"}
            response = client.post("/v1/models", json=body, params={"encoding": "base64"})
            assert response.status_code == 200, response.text
            tensors = response.json()["tensors"]
            assert [t["name"] for t in tensors] == list(theirs[case["id"]])
            for t in tensors:
                raw, want = (
                    base64.b64decode(t["data"]),
                    bytes.fromhex(theirs[case["id"]][t["name"]]),
                )
                if t["exactness"] == "exact":
                    assert raw == want, (case, t["name"])
                else:
                    dtype = np.dtype(case["dtype"])
                    ours, ref = np.frombuffer(raw, dtype), np.frombuffer(want, dtype)
                    ulp = np.abs(ours - ref) / np.spacing(np.abs(ref))
                    assert t["max_ulp"] is not None and ulp.max() <= t["max_ulp"], (case, t)
    finally:
        client.close()
