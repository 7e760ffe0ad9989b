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
import hashlib
import io
import json
import os
import random
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from tests.api.conftest import ApiClient, load_safetensors

from .conftest import run_script

ROOT = Path(__file__).resolve().parents[2]
CASES = int(os.environ.get("WEIGHTINIT_TORCH_LIVE_CASES", "40"))
DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}


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
    ("sparse_", {"sparsity": 0.3}, {"name": "torch.sparse_", "sparsity": 0.3}),
    ("sparse_", {"sparsity": 0.9, "std": 1.0}, {"name": "sparse", "sparsity": 0.9, "std": 1.0}),
    (  # 2.1% of the mass: uniform proposals accepted by log_
        "trunc_normal_",
        {"mean": 0.0, "std": 1.0, "a": 2.0, "b": 3.0},
        {"name": "torch.trunc_normal_", "mean": 0.0, "std": 1.0, "a": 2.0, "b": 3.0},
    ),
    (
        "trunc_normal_",
        {"mean": 1.0, "std": 0.2, "a": -0.1, "b": 0.8},
        {"name": "torch.trunc_normal_", "mean": 1.0, "std": 0.2, "a": -0.1, "b": 0.8},
    ),
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
    rank = 2 if call in ("eye_", "orthogonal_", "sparse_") else rng.randint(2, 4)
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
    return run_script(python, "torch_live_script.py", stdin=json.dumps(torch_cases), timeout=300)


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


def test_random_modules_match_live_torch(frameworks_python: Path) -> None:
    python = frameworks_python
    cases = _cases(random.Random(13), CASES)
    responses = _service(cases)
    theirs = _torch(python, cases, responses)
    checked = sum(_compare(c, responses[c["id"]]["tensors"], theirs[c["id"]]) for c in cases)
    assert checked > CASES
    kinds = {layer["layer"]["kind"] for c in cases for layer in c["layers"]}
    assert kinds == {*KINDS, "tensor"}, "the default cases cover every layer kind"
    assert {c["dtype"] for c in cases} == set(DTYPES)


# ---- the API surface under torch-cpu: every way of asking, against torch's bytes ------------

MODEL_LAYERS = [
    {"name": "emb", "layer": {"kind": "embedding", "num_embeddings": 7, "embedding_dim": 5}},
    {"name": "rnn", "layer": {"kind": "lstm", "input_size": 5, "hidden_size": 6, "proj_size": 2}},
    {
        "name": "attn",
        "layer": {
            "kind": "multihead_attention",
            "embed_dim": 4,
            "num_heads": 2,
            "add_bias_kv": True,
        },
    },
]
SHAPE_MAP = {
    "emb.weight": [5, 4],
    "fc.weight": [3, 4],
    "fc.bias": [3],
    "attn.in_proj_weight": [12, 4],
    "attn.in_proj_bias": [12],
    "attn.out_proj.weight": [4, 4],
    "attn.out_proj.bias": [4],
    "ln.weight": [4],
    "ln.bias": [4],
    "rnn.weight_ih_l0": [8, 4],
    "rnn.weight_hh_l0": [8, 2],
    "rnn.bias_ih_l0": [8],
    "rnn.bias_hh_l0": [8],
}
# id -> (seed, torch code setting m)
TORCH_CODE = {
    "mlp": (
        5,
        "s = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))\n"
        "init.zeros_(s[0].bias); init.zeros_(s[2].bias)\n"
        "m = {'W1': s[0].weight, 'b1': s[0].bias, 'W2': s[2].weight, 'b2': s[2].bias}",
    ),
    "dense64": (7, "m = nn.Linear(5, 7, dtype=torch.float64)"),
    "raw_normal": (2**64 - 1, "m = {'weight': init.normal_(torch.empty(4, 5))}"),
    "raw_small_bf16": (
        9,
        "m = {'weight': init.normal_(torch.empty(3, 4, dtype=torch.bfloat16), 0.0, 0.02)}",
    ),
    "get_default64": (
        11,
        "m = {'weight': init.kaiming_uniform_(torch.empty(12, 10, dtype=torch.float64),"
        " a=math.sqrt(5))}",
    ),
    "model": (
        13,
        "m = nn.ModuleDict({'emb': nn.Embedding(7, 5), 'rnn': nn.LSTM(5, 6, proj_size=2),"
        " 'attn': nn.MultiheadAttention(4, 2, add_bias_kv=True)})",
    ),
    "shape_map": (
        3,
        "m = nn.ModuleDict({'emb': nn.Embedding(5, 4), 'fc': nn.Linear(4, 3),"
        " 'attn': nn.MultiheadAttention(4, 2), 'ln': nn.LayerNorm(4), 'rnn': nn.LSTM(4, 2)})",
    ),
    "orthogonal_half": (0, "m = {'weight': init.orthogonal_(torch.empty(4, 3, dtype=torch.half))}"),
}


@pytest.fixture(scope="module")
def torch_bytes(frameworks_python: Path) -> dict[str, dict[str, bytes]]:
    cases = [{"id": k, "seed": seed, "code": code} for k, (seed, code) in TORCH_CODE.items()]
    found = run_script(
        frameworks_python, "torch_code_script.py", stdin=json.dumps(cases), timeout=120
    )
    out: dict[str, dict[str, bytes]] = {}
    for key, tensors in found.items():
        out[key] = {n: v.encode() if n == "error" else bytes.fromhex(v) for n, v in tensors.items()}
    return out


@pytest.fixture(scope="module")
def api() -> Any:
    client = ApiClient()
    yield client
    client.close()


def _json_bytes(response: Any) -> dict[str, bytes]:
    assert response.status_code == 200, response.text
    return {t["name"]: base64.b64decode(t["data"]) for t in response.json()["tensors"]}


def test_mlp_shorthand_is_sequential_with_zeroed_biases(
    api: ApiClient, torch_bytes: dict[str, dict[str, bytes]]
) -> None:
    body = {"seed": 5, "algorithm": "torch-cpu", "mlp": {"sizes": [6, 8, 3]}}
    got = _json_bytes(api.post("/v1/models", json=body, params={"encoding": "base64"}))
    assert got == torch_bytes["mlp"]


def test_v1_weights_dense_and_raw_tensor_with_exactness_headers(
    api: ApiClient, torch_bytes: dict[str, dict[str, bytes]]
) -> None:
    dense = {"seed": 7, "dtype": "float64", "algorithm": "torch-cpu"}
    dense["layer"] = {"kind": "dense", "in_features": 5, "out_features": 7}
    r = api.post("/v1/weights", json=dense, params={"format": "json", "encoding": "base64"})
    assert _json_bytes(r) == torch_bytes["dense64"]
    assert {t["exactness"] for t in r.json()["tensors"]} == {"exact"}
    raw = {"seed": 2**64 - 1, "algorithm": "torch-cpu", "scheme": "torch.normal_"}
    raw["layer"] = {"kind": "tensor", "shape": [4, 5]}
    r = api.post("/v1/weights", json=raw, params={"format": "npy"})
    assert r.status_code == 200, r.text
    assert np.load(io.BytesIO(r.content)).tobytes() == torch_bytes["raw_normal"]["weight"]
    assert r.headers["X-Weightinit-Exactness"] == "exact"  # 20 float32 normals: AVX2 path
    manifest = json.loads(r.headers["X-Weightinit-Tensors"])
    assert manifest["weight"][2] == "exact"
    small = raw | {"seed": 9, "dtype": "bfloat16"}
    small["scheme"] = {"name": "torch.normal_", "std": 0.02}
    small["layer"] = {"kind": "tensor", "shape": [3, 4]}
    r = api.post("/v1/weights", json=small, params={"format": "json", "encoding": "base64"})
    assert _json_bytes(r) == torch_bytes["raw_small_bf16"]  # the scalar path, same glibc
    assert (r.json()["tensors"][0]["exactness"], r.json()["tensors"][0]["max_ulp"]) == (
        "approximate",
        1,
    )


def test_get_shortcut_with_slice_shard_and_range(
    api: ApiClient, torch_bytes: dict[str, dict[str, bytes]]
) -> None:
    full = np.frombuffer(torch_bytes["get_default64"]["weight"], np.float64).reshape(12, 10)
    query = {"shape": "12,10", "seed": "11", "dtype": "float64", "algorithm": "torch-cpu"}
    r = api.get("/v1/weights/torch.default", params=query | {"format": "npy"})
    assert r.status_code == 200, r.text
    assert r.headers["X-Weightinit-Exactness"] == "exact"
    assert np.array_equal(np.load(io.BytesIO(r.content)), full)
    body = r.content
    r = api.get("/v1/weights/torch.default", params=query | {"format": "npy", "slice": "2:5,3:"})
    assert np.array_equal(np.load(io.BytesIO(r.content)), full[2:5, 3:])
    r = api.get("/v1/weights/torch.default", params=query | {"format": "npy", "shard": "1,1,2"})
    assert np.array_equal(np.load(io.BytesIO(r.content)), full[:, 5:])
    r = api.get(
        "/v1/weights/torch.default",
        params=query | {"format": "npy"},
        headers={"Range": "bytes=200-599"},
    )
    assert r.status_code == 206, r.text
    assert r.content == body[200:600]


def test_model_digests_and_safetensors_manifest(
    api: ApiClient, torch_bytes: dict[str, dict[str, bytes]]
) -> None:
    theirs = torch_bytes["model"]
    body = {"seed": 13, "algorithm": "torch-cpu", "layers": MODEL_LAYERS}
    digests = api.post("/v1/models/digests", json=body)
    assert digests.status_code == 200, digests.text
    rows = digests.json()["tensors"]
    assert [t["name"] for t in rows] == list(theirs)
    for t in rows:  # on the same glibc even the approximate ones are torch's bytes
        assert t["sha256"] == hashlib.sha256(theirs[t["name"]]).hexdigest(), t["name"]
        assert t["exactness"] in ("exact", "approximate")
    # 35 Embedding normals take the (exact) float32 AVX2 path; bias_k/v (4 each) the libm one
    approximate = {t["name"] for t in rows if t["exactness"] == "approximate"}
    assert approximate == {"attn.bias_k", "attn.bias_v"}
    r = api.post("/v1/models", json=body, params={"format": "safetensors"})
    assert r.status_code == 200, r.text
    manifest = json.loads(r.headers["X-Weightinit-Tensors"])
    by_name = {t["name"]: t for t in rows}
    for name, item in manifest.items():
        assert item[2].split(";")[0] == by_name[name]["exactness"], name
    assert {k: v.tobytes() for k, v in load_safetensors(r.content).items()} == theirs


def test_shape_maps_are_the_modules_they_describe(
    api: ApiClient, torch_bytes: dict[str, dict[str, bytes]]
) -> None:
    body = {"seed": 3, "algorithm": "torch-cpu", "tensors": SHAPE_MAP}
    got = _json_bytes(api.post("/v1/models", json=body, params={"encoding": "base64"}))
    assert got == torch_bytes["shape_map"]


def test_orthogonal_in_half_precision_is_refused_as_torch_raises(
    api: ApiClient, torch_bytes: dict[str, dict[str, bytes]]
) -> None:
    assert b"geqrf_cpu" in torch_bytes["orthogonal_half"]["error"]
    for dtype in ("float16", "bfloat16"):
        body = {"seed": 0, "algorithm": "torch-cpu", "dtype": dtype, "scheme": "torch.orthogonal_"}
        body["layer"] = {"kind": "tensor", "shape": [4, 3]}
        r = api.post("/v1/weights", json=body)
        assert r.status_code == 422, r.text
        assert "float32 or float64" in r.json()["detail"]
