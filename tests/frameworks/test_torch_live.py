"""torch-cpu against torch itself, live: random module specs and seeds, built by torch 2.13 in
.venv-frameworks (a subprocess; the service and its tests never import torch).

The random cases cover every torch layer kind the service knows (Linear, Bilinear, Conv1-3d,
ConvTranspose1-3d, Embedding, RNN, LSTM with proj_size, GRU, MultiheadAttention,
Transformer encoder and decoder layers, norms, PReLU, raw tensors with every drawing
``torch.nn.init`` function), in float32, float64, float16 and bfloat16, with and without a
re-initialising scheme. ``WEIGHTINIT_TORCH_LIVE_CASES`` raises their number (the default keeps
the file under ~20 s on two cores).

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

import ml_dtypes
import numpy as np
import pytest

from tests.api.conftest import ApiClient

ROOT = Path(__file__).resolve().parents[2]
PYTHON = Path(os.environ.get("WEIGHTINIT_FRAMEWORKS_PYTHON", ROOT / ".venv-frameworks/bin/python"))
SCRIPT = Path(__file__).with_name("torch_live_script.py")
CASES = int(os.environ.get("WEIGHTINIT_TORCH_LIVE_CASES", "40"))
DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}


def _python() -> Path:
    if PYTHON.exists():
        return PYTHON
    message = f"{PYTHON} is missing: run `make frameworks` (torch 2.13.0 for these tests)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _conv(rng: random.Random, kind: str) -> dict[str, Any]:
    groups = rng.choice([1, 1, 2])
    dims = int(kind[-2])
    return {
        "in_channels": groups * rng.randint(1, 5),
        "out_channels": groups * rng.randint(1, 5),
        "kernel_size": [rng.randint(1, 3) for _ in range(dims)],
        "groups": groups,
        "bias": rng.random() < 0.8,
    }


def _recurrent(rng: random.Random, kind: str) -> dict[str, Any]:
    hidden = rng.randint(1, 9)
    out: dict[str, Any] = {
        "input_size": rng.randint(1, 9),
        "hidden_size": hidden,
        "num_layers": rng.randint(1, 2),
        "bias": rng.random() < 0.8,
        "bidirectional": rng.random() < 0.5,
    }
    if kind == "lstm" and hidden > 1 and rng.random() < 0.5:
        out["proj_size"] = rng.randint(1, hidden - 1)
    return out


# (torch.nn.init function, its kwargs) and the service's scheme for it
RAW_INITS: list[tuple[str, dict[str, Any], Any]] = [
    ("uniform_", {"a": -0.3, "b": 0.7}, {"name": "torch.uniform_", "a": -0.3, "b": 0.7}),
    ("normal_", {"mean": 0.1, "std": 0.5}, {"name": "torch.normal_", "mean": 0.1, "std": 0.5}),
    ("kaiming_uniform_", {}, {"name": "torch.kaiming_uniform_"}),
    ("kaiming_normal_", {"mode": "fan_out"}, {"name": "torch.kaiming_normal_", "mode": "fan_out"}),
    ("xavier_uniform_", {"gain": 1.5}, {"name": "torch.xavier_uniform_", "gain": 1.5}),
    ("xavier_normal_", {}, {"name": "torch.xavier_normal_"}),
    ("trunc_normal_", {"std": 0.5}, {"name": "torch.trunc_normal_", "std": 0.5}),
    ("orthogonal_", {}, {"name": "torch.orthogonal_"}),
    ("zeros_", {}, "torch.zeros_"),
    ("eye_", {}, "torch.eye_"),
]


def _n(rng: random.Random) -> int:
    return rng.randint(1, 12)


def _embedding(rng: random.Random) -> dict[str, Any]:
    args = {"num_embeddings": _n(rng), "embedding_dim": _n(rng)}
    if rng.random() < 0.7:
        args["padding_idx"] = rng.randrange(args["num_embeddings"])
    return args


def _attention(rng: random.Random) -> dict[str, Any]:
    args = {"embed_dim": 2 * rng.randint(1, 6), "num_heads": 2}
    args |= {"bias": rng.random() < 0.8, "add_bias_kv": rng.random() < 0.5}
    if rng.random() < 0.4:
        args |= {"kdim": _n(rng), "vdim": _n(rng)}
    return args


def _transformer(rng: random.Random) -> dict[str, Any]:
    args = {"d_model": 2 * rng.randint(1, 4), "nhead": 2, "dim_feedforward": _n(rng)}
    return args | {"bias": rng.random() < 0.8, "norm_first": rng.random() < 0.5}


# layer kind -> its random torch arguments
KINDS: dict[str, Any] = {
    "dense": lambda r: {"in_features": _n(r), "out_features": _n(r), "bias": r.random() < 0.8},
    "bilinear": lambda r: {"in1_features": _n(r), "in2_features": _n(r), "out_features": _n(r)},
    **{k: (lambda r, k=k: _conv(r, k)) for k in ("conv1d", "conv2d", "conv3d")},
    **{
        k: (lambda r, k=k: _conv(r, k))
        for k in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    },
    "embedding": _embedding,
    **{k: (lambda r, k=k: _recurrent(r, k)) for k in ("rnn", "lstm", "gru")},
    "multihead_attention": _attention,
    "transformer_encoder_layer": _transformer,
    "transformer_decoder_layer": _transformer,
    "layer_norm": lambda r: {"normalized_shape": [_n(r)]},
    "rms_norm": lambda r: {"normalized_shape": [_n(r)]},
    "batch_norm": lambda r: {"num_features": _n(r)},
    "group_norm": lambda r: {"num_groups": 2, "num_channels": 2 * r.randint(1, 4)},
    "prelu": lambda r: {"num_parameters": r.choice([1, _n(r)])},
}


def _random_layer(rng: random.Random, index: int, dtype: str) -> dict[str, Any]:
    """A request layer (a raw tensor's carries its torch.nn.init call)."""
    kind = rng.choice([*KINDS, "tensor", "tensor", "tensor"])
    name = f"l{index}"
    if kind != "tensor":
        return {"name": name, "layer": {"kind": kind, **KINDS[kind](rng)}}
    # torch's orthogonal_ has no float16/bfloat16 QR (geqrf_cpu): a 422 here, tested apart
    inits = [r for r in RAW_INITS if r[0] != "orthogonal_" or dtype in ("float32", "float64")]
    call, kwargs, scheme = rng.choice(inits)
    rank = 2 if call in ("eye_", "orthogonal_") else rng.randint(2, 4)
    shape = [rng.randint(1, 7) for _ in range(rank)]
    layer = {"kind": "tensor", "shape": shape, "init": call, "kwargs": kwargs}
    return {"name": name, "layer": layer, "scheme": scheme}


def _cases(rng: random.Random, count: int) -> list[dict[str, Any]]:
    cases = []
    for i in range(count):
        dtype = rng.choice(list(DTYPES))
        layers = [_random_layer(rng, j, dtype) for j in range(rng.randint(1, 4))]
        case: dict[str, Any] = {
            "id": f"c{i}",
            "seed": rng.choice([0, 1, rng.randrange(1 << 64)]),
            "dtype": dtype,
            "layers": layers,
        }
        if rng.random() < 0.25:  # a request scheme: build, then re-initialise named tensors
            case["scheme"] = {"name": "torch.kaiming_uniform_", "a": 0.0}
            case["bias_scheme"] = {"name": "torch.normal_", "std": 0.1}
        cases.append(case)
    return cases


def _request(case: dict[str, Any]) -> dict[str, Any]:
    layers = []
    for layer in case["layers"]:
        spec = {k: v for k, v in layer["layer"].items() if k not in ("init", "kwargs")}
        layers.append({k: v for k, v in layer.items() if k != "layer"} | {"layer": spec})
    body = {k: case[k] for k in ("seed", "dtype") if k in case} | {"layers": layers}
    for key in ("scheme", "bias_scheme"):
        if key in case:
            body[key] = case[key]
    return body | {"algorithm": "torch-cpu"}


def _reinit_calls(response: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """The torch.nn.init call of every tensor the request's scheme re-initialised."""
    if "scheme" not in case:
        return {}
    raw = {layer["name"] for layer in case["layers"] if layer["layer"]["kind"] == "tensor"}
    calls = {}
    for t in response["tensors"]:
        if t["name"].split(".")[0] in raw:  # its own scheme, drawn at construction
            continue
        scheme = t["scheme"]
        if scheme["name"] == "torch.kaiming_uniform_":
            calls[t["name"]] = ["kaiming_uniform_", {"a": 0.0}]
        elif scheme["name"] == "torch.normal_":
            calls[t["name"]] = ["normal_", {"std": 0.1}]
    return calls


def _ulp(ours: np.ndarray, ref: np.ndarray) -> float:
    a, b = ours.astype(np.float64), ref.astype(np.float64)
    spacing = np.spacing(np.abs(ref)).astype(np.float64)
    return float((np.abs(a - b) / spacing).max()) if a.size else 0.0


def _service(cases: list[dict[str, Any]]) -> dict[str, Any]:
    client = ApiClient()
    try:
        responses = {}
        for case in cases:
            response = client.post("/v1/models", json=_request(case), params={"encoding": "base64"})
            assert response.status_code == 200, (case, response.text)
            responses[case["id"]] = response.json()
        return responses
    finally:
        client.close()


def _torch(python: Path, cases: list[dict[str, Any]], responses: dict[str, Any]) -> Any:
    torch_cases = [
        {k: c[k] for k in ("id", "seed", "dtype", "layers")}
        | {"reinit": _reinit_calls(responses[c["id"]], c)}
        for c in cases
    ]
    done = subprocess.run(
        [str(python), str(SCRIPT)],
        input=json.dumps(torch_cases),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def _compare(case: dict[str, Any], tensors: list[dict[str, Any]], theirs: dict[str, str]) -> int:
    """Every tensor within its claim; and, torch running here on the same glibc, every one
    but orthogonal_'s (LAPACK's QR) byte for byte: the libm paths call the same functions."""
    assert [t["name"] for t in tensors] == list(theirs), case
    dtype = DTYPES[case["dtype"]]
    for t in tensors:
        raw, want = base64.b64decode(t["data"]), bytes.fromhex(theirs[t["name"]])
        ours, ref = np.frombuffer(raw, dtype), np.frombuffer(want, dtype)
        if t["exactness"] == "approximate" and t["max_ulp"] is not None:
            assert _ulp(ours, ref) <= t["max_ulp"], (case, t["name"], _ulp(ours, ref))
        if t["scheme"]["name"] == "torch.orthogonal_":
            assert np.abs(ours - ref).max() <= 4 * np.finfo(dtype).eps, (case, t["name"])
        else:
            assert raw == want, (case, t["name"], t["exactness"], _ulp(ours, ref))
    return len(tensors)


def test_random_modules_match_live_torch() -> None:
    python = _python()
    cases = _cases(random.Random(13), CASES)
    responses = _service(cases)
    theirs = _torch(python, cases, responses)
    checked = sum(_compare(c, responses[c["id"]]["tensors"], theirs[c["id"]]) for c in cases)
    assert checked > CASES
    kinds = {layer["layer"]["kind"] for c in cases for layer in c["layers"]}
    assert kinds == {*KINDS, "tensor"}, "the default cases cover every layer kind"
    assert {c["dtype"] for c in cases} == set(DTYPES)
