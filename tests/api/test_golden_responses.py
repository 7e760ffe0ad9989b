"""Whole response bodies, byte for byte, buffered or streamed, on 1 or 4 threads.

``golden_responses.json`` holds the sha256 of 212 response bodies (every format, dtype and
JSON option, layers with padding rows, recurrent stacks, whole-matrix and truncated schemes,
models and numpy-legacy) recorded from the service as it was before streaming existed
(commit 7ae0839, which built every body whole); JSON bodies are compared without the ``role``
field each tensor gained later. Streaming must not change one byte, so each
case is checked with bodies built whole (the default 8 MiB buffer) and with every body
streamed piece by piece (a 1-byte buffer), on 1 and on 4 generation threads.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.api.settings import Settings

from .conftest import ApiClient

GOLDEN = json.loads((Path(__file__).parent / "golden_responses.json").read_text())

DENSE = {"kind": "dense", "in_features": 300, "out_features": 257}
EMB = {"kind": "embedding", "num_embeddings": 1000, "embedding_dim": 70, "padding_idx": 3}
LSTM = {"kind": "lstm", "input_size": 20, "hidden_size": 30, "num_layers": 2, "bidirectional": True}
BN = {"kind": "batch_norm", "num_features": 16}
CONV = {"kind": "conv2d", "in_channels": 3, "out_channels": 64, "kernel_size": 3}
LAYERS: list[tuple[str, dict[str, Any], Any]] = [
    ("dense", DENSE, "he_normal"),
    ("emb", EMB, "normal"),
    ("lstm", LSTM, None),
    ("bn", BN, None),
    ("conv", CONV, "glorot_uniform"),
    ("big_tn", {"kind": "tensor", "shape": [512, 300]}, "truncated_normal"),
    ("orth", {"kind": "tensor", "shape": [70, 50]}, "orthogonal"),
    ("sparse", {"kind": "tensor", "shape": [40, 30]}, {"name": "torch.sparse_", "sparsity": 0.3}),
    ("const", {"kind": "tensor", "shape": [5, 7]}, {"name": "constant", "value": 0.25}),
]
MODEL = {
    "seed": 11,
    "layers": [
        {"name": "enc", "layer": DENSE},
        {"name": "emb", "layer": EMB, "scheme": "normal"},
        {"name": "rnn", "layer": LSTM},
        {"name": "bn", "layer": BN, "scheme": "ones"},
    ],
    "scheme": "he_uniform",
}
MLP_LEGACY = {
    "seed": 3,
    "mlp": {"sizes": [20, 10, 3]},
    "scheme": "normal",
    # Recorded when the mlp shorthand's biases defaulted to torch.default (they default to zeros
    # since issue 12); naming the old default gives the old bytes.
    "bias_scheme": "torch.default",
    "algorithm": "numpy-legacy",
}
# Since issue 12 each JSON tensor also states its role (after its dtype); without that one
# field a body is the recorded one, byte for byte.
ROLE_FIELD = re.compile(rb'"role": "[a-z_]+", ')


def cases() -> Iterator[tuple[str, str, str, dict[str, str], dict[str, Any]]]:
    for dtype in ("float32", "float64", "float16", "bfloat16"):
        for name, layer, scheme in LAYERS:
            body: dict[str, Any] = {"layer": layer, "seed": 7, "dtype": dtype}
            if scheme is not None:
                body["scheme"] = scheme
            for fmt in ("json", "npy", "npz", "safetensors"):
                if not (dtype == "bfloat16" and fmt in ("npy", "npz")):
                    yield (
                        f"weights/{name}/{dtype}/{fmt}",
                        "POST",
                        "/v1/weights",
                        {"format": fmt},
                        body,
                    )
            nested = {"format": "json", "json_layout": "nested"}
            yield f"weights/{name}/{dtype}/json-nested", "POST", "/v1/weights", nested, body
            b64 = {"format": "json", "encoding": "base64"}
            yield f"weights/{name}/{dtype}/json-b64", "POST", "/v1/weights", b64, body
    for dtype in ("float32", "float16", "float64"):
        for fmt in ("json", "npz", "safetensors"):
            yield (
                f"models/{dtype}/{fmt}",
                "POST",
                "/v1/models",
                {"format": fmt},
                {**MODEL, "dtype": dtype},
            )
    for fmt in ("npz", "json"):
        yield f"models/mlp-legacy/{fmt}", "POST", "/v1/models", {"format": fmt}, MLP_LEGACY
    yield (
        "get/he_normal/npy",
        "GET",
        "/v1/weights/he_normal?shape=300,200&seed=5&format=npy",
        {},
        {},
    )
    yield "get/uniform/json", "GET", "/v1/weights/uniform?shape=64,64&seed=5&format=json", {}, {}
    yield (
        "get/orth/safetensors",
        "GET",
        "/v1/weights/orthogonal?shape=64,32&seed=5&format=safetensors",
        {},
        {},
    )


SETTINGS = {
    "buffered-4-threads": Settings(threads=4),
    "streamed-1-thread": Settings(buffer_bytes=1, threads=1),
    "streamed-4-threads": Settings(buffer_bytes=1, threads=4),
}


@pytest.fixture(scope="module", params=list(SETTINGS))
def golden_client(request: pytest.FixtureRequest) -> Iterator[tuple[str, ApiClient]]:
    api = ApiClient(SETTINGS[request.param])
    yield request.param, api
    api.close()


def test_the_golden_table_is_complete() -> None:
    assert sorted(key for key, *_ in cases()) == sorted(GOLDEN)


def test_every_response_body_is_unchanged_byte_for_byte(
    golden_client: tuple[str, ApiClient],
) -> None:
    mode, api = golden_client
    changed = []
    for key, method, url, params, body in cases():
        get = method == "GET"
        response = api.get(url) if get else api.post(url, params=params, json=body)
        assert response.status_code == 200, (key, response.text[:300])
        if mode.startswith("streamed") and "json" not in key:
            assert "x-weightinit-sha256" not in response.headers, key
            assert int(response.headers["content-length"]) == len(response.content), key
        content = ROLE_FIELD.sub(b"", response.content) if "json" in key else response.content
        if hashlib.sha256(content).hexdigest() != GOLDEN[key]:
            changed.append(key)
    assert not changed, f"{len(changed)} bodies changed in mode {mode}: {changed[:10]}"
