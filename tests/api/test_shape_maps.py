"""Shape maps over HTTP: ``{"tensors": {name: shape}}`` on /v1/models round-trips a model's
names and shapes, with roles from the names, norms at 1 and 0, and biases per the default.

The torch map is the exact dict torch 2.13 prints for a small transformer (an embedding, two
``nn.TransformerEncoderLayer`` and a linear head); it was produced with .venv-bench by::

    python -c "
    import torch; from torch import nn
    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(100, 16)
            self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2,
                dim_feedforward=32), 2, enable_nested_tensor=False)
            self.head = nn.Linear(16, 10)
    print({k: list(v.shape) for k, v in Small().state_dict().items()})
    "
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from app.api.settings import Settings

from .conftest import ApiClient, load_npz, load_safetensors, problem

TRANSFORMER = {'embed.weight': [100, 16], 'encoder.layers.0.self_attn.in_proj_weight': [48, 16], 'encoder.layers.0.self_attn.in_proj_bias': [48], 'encoder.layers.0.self_attn.out_proj.weight': [16, 16], 'encoder.layers.0.self_attn.out_proj.bias': [16], 'encoder.layers.0.linear1.weight': [32, 16], 'encoder.layers.0.linear1.bias': [32], 'encoder.layers.0.linear2.weight': [16, 32], 'encoder.layers.0.linear2.bias': [16], 'encoder.layers.0.norm1.weight': [16], 'encoder.layers.0.norm1.bias': [16], 'encoder.layers.0.norm2.weight': [16], 'encoder.layers.0.norm2.bias': [16], 'encoder.layers.1.self_attn.in_proj_weight': [48, 16], 'encoder.layers.1.self_attn.in_proj_bias': [48], 'encoder.layers.1.self_attn.out_proj.weight': [16, 16], 'encoder.layers.1.self_attn.out_proj.bias': [16], 'encoder.layers.1.linear1.weight': [32, 16], 'encoder.layers.1.linear1.bias': [32], 'encoder.layers.1.linear2.weight': [16, 32], 'encoder.layers.1.linear2.bias': [16], 'encoder.layers.1.norm1.weight': [16], 'encoder.layers.1.norm1.bias': [16], 'encoder.layers.1.norm2.weight': [16], 'encoder.layers.1.norm2.bias': [16], 'head.weight': [10, 16], 'head.bias': [10]}  # fmt: skip  # noqa: E501

LAYER_ROLES = {
    "self_attn.in_proj_weight": "attention_qkv",
    "self_attn.in_proj_bias": "bias",
    "self_attn.out_proj.weight": "attention_output",
    "self_attn.out_proj.bias": "bias",
    "linear1.weight": "mlp_in",
    "linear1.bias": "bias",
    "linear2.weight": "mlp_out",
    "linear2.bias": "bias",
    "norm1.weight": "norm_scale",
    "norm1.bias": "norm_shift",
    "norm2.weight": "norm_scale",
    "norm2.bias": "norm_shift",
}
ROLES = {
    "embed.weight": "embedding",
    **{f"encoder.layers.{i}.{k}": role for i in (0, 1) for k, role in LAYER_ROLES.items()},
    "head.weight": "readout",
    "head.bias": "bias",
}
# the weight each bias belongs to (its fan_in bounds torch's default bias)
WEIGHT_OF = {
    name: name.replace("in_proj_bias", "in_proj_weight").replace(".bias", ".weight")
    for name, role in ROLES.items()
    if role == "bias"
}


def _json(client: ApiClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/v1/models", params={"format": "json"}, json=body)
    assert response.status_code == 200, response.text[:600]
    tensors: list[dict[str, Any]] = response.json()["tensors"]
    return tensors


def test_a_torch_transformers_shape_map_round_trips(client: ApiClient) -> None:
    tensors = _json(client, {"tensors": TRANSFORMER, "seed": 12})
    assert [(t["name"], t["shape"]) for t in tensors] == list(TRANSFORMER.items())
    by_name = {t["name"]: t for t in tensors}
    assert {name: t["role"] for name, t in by_name.items()} == ROLES
    for name, role in ROLES.items():
        tensor, data = by_name[name], np.asarray(by_name[name]["data"])
        if role == "norm_scale":
            assert set(data.tolist()) == {1.0}, name
        elif role == "norm_shift":
            assert set(data.tolist()) == {0.0}, name
        elif role == "bias" and "_proj" in name:
            # torch's MultiheadAttention zeroes in_proj_bias and out_proj.bias
            assert tensor["scheme"] == {"name": "torch.default"}
            assert set(data.tolist()) == {0.0}, name
        elif role == "bias":
            # torch.default, documented: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) of its weight
            weight = by_name[WEIGHT_OF[name]]
            assert tensor["scheme"] == {"name": "torch.default"}
            assert tensor["fan_in"] == weight["fan_in"] == TRANSFORMER[WEIGHT_OF[name]][1]
            bound = 1 / math.sqrt(weight["fan_in"])
            assert tensor["bound"] == pytest.approx(bound, rel=1e-12), name
            assert np.all(np.abs(data) <= bound) and len(set(data.tolist())) == data.size
    assert by_name["embed.weight"]["std"] == 1.0  # torch's Embedding: N(0, 1)
    assert by_name["head.weight"]["bound"] == pytest.approx(1 / 4)  # kaiming_uniform(a=sqrt 5)


def test_a_bias_scheme_and_role_schemes_reach_the_maps_tensors(client: ApiClient) -> None:
    body = {
        "tensors": TRANSFORMER,
        "seed": 12,
        "scheme": "glorot_uniform",
        "bias_scheme": "zeros",
        "role_schemes": {"attention_output": {"name": "normal", "std": 0.02}},
    }
    by_name = {t["name"]: t for t in _json(client, body)}
    for name, role in ROLES.items():
        scheme = by_name[name]["scheme"]["name"]
        if role == "bias":
            assert scheme == "zeros" and set(by_name[name]["data"]) == {0.0}
        elif role in ("norm_scale", "norm_shift"):
            assert scheme == "torch.default"  # a request-wide scheme never reaches a norm
        elif role == "attention_output":
            assert by_name[name]["std"] == 0.02
        else:
            assert scheme == "glorot_uniform", name


def test_the_same_tensors_as_layers_give_the_same_bytes(client: ApiClient) -> None:
    """Names are the stream key: a map of a layer's tensors is that layer, byte for byte."""
    layers = [
        {
            "name": "embed",
            "layer": {"kind": "embedding", "num_embeddings": 100, "embedding_dim": 16},
        },
        {"name": "norm", "layer": {"kind": "layer_norm", "normalized_shape": 16}},
        {"name": "fc", "layer": {"kind": "dense", "in_features": 16, "out_features": 10}},
        {"name": "bn", "layer": {"kind": "batch_norm", "num_features": 10}},
    ]
    shapes = {
        "embed.weight": [100, 16],
        "norm.weight": [16],
        "norm.bias": [16],
        "fc.weight": [10, 16],
        "fc.bias": [10],
        "bn.weight": [10],
        "bn.bias": [10],
        "bn.running_mean": [10],
        "bn.running_var": [10],
        "bn.num_batches_tracked": [],
    }
    for fmt in ("safetensors", "npz"):
        from_layers = client.post(
            "/v1/models", params={"format": fmt}, json={"layers": layers, "seed": 5}
        )
        from_map = client.post(
            "/v1/models", params={"format": fmt}, json={"tensors": shapes, "seed": 5}
        )
        assert from_map.status_code == 200, from_map.text
        assert from_map.content == from_layers.content, fmt
    arrays = (
        load_safetensors(from_map.content) if fmt == "safetensors" else load_npz(from_map.content)
    )
    assert {k: list(v.shape) for k, v in arrays.items()} == shapes


def test_binary_formats_keep_every_name_and_shape(client: ApiClient) -> None:
    body = {"tensors": TRANSFORMER, "seed": 1, "dtype": "float16"}
    for fmt, load in (("safetensors", load_safetensors), ("npz", load_npz)):
        response = client.post(f"/v1/models.{fmt}", json=body)
        assert response.status_code == 200, response.text
        arrays = load(response.content)
        assert {k: list(v.shape) for k, v in arrays.items()} == TRANSFORMER
        assert {str(v.dtype) for v in arrays.values()} == {"float16"}


def test_the_object_form_names_role_scheme_and_fans(client: ApiClient) -> None:
    body = {
        "tensors": {
            "cls_token": {"shape": [1, 1, 16], "role": "position_embedding", "scheme": "zeros"},
            "proj.weight": {"shape": [8, 16], "scheme": {"name": "normal", "std": 0.5}},
            "proj.bias": {"shape": [8], "scheme": "ones"},
            "norm.weight": {"shape": [8], "scheme": "zeros"},
            "norm.bias": {"shape": [8], "scheme": "ones"},
            "lone.bias": {"shape": [4], "fan_in": 64, "fan_out": 4},
            "wide.weight": {"shape": [4, 4], "fan_in": 100},
        },
        "scheme": "he_normal",
        "seed": 2,
    }
    by_name = {t["name"]: t for t in _json(client, body)}
    assert by_name["cls_token"]["role"] == "position_embedding"
    assert set(by_name["cls_token"]["data"]) == {0.0}
    assert by_name["proj.weight"]["std"] == 0.5
    assert set(by_name["proj.bias"]["data"]) == {1.0}
    assert set(by_name["norm.weight"]["data"]) == {0.0}  # its own scheme names a norm's scale
    assert set(by_name["norm.bias"]["data"]) == {1.0}
    assert by_name["lone.bias"]["bound"] == pytest.approx(1 / 8)
    assert (by_name["wide.weight"]["fan_in"], by_name["wide.weight"]["std"]) == (
        100,
        pytest.approx(math.sqrt(2 / 100)),
    )


@pytest.mark.parametrize(
    ("tensors", "field", "words"),
    [
        ({"cls_token": [1, 1, 16]}, "tensors[cls_token]", '"role": ...'),
        ({"embed_proj.weight": [64, 32]}, "tensors[embed_proj.weight]", "table or"),
        ({"act.alpha": [3]}, "tensors[act.alpha]", "'alpha' at rank 1"),
        ({"fc.bias": [10]}, "tensors[fc.bias]", "no weight beside it"),
        ({"rnn.weight_ih_l0": [20, 3]}, "tensors[rnn.weight_ih_l0]", "weight_hh_l0"),
        (
            {"bn.running_mean": {"shape": [3], "scheme": "ones"}},
            "tensors[bn.running_mean].scheme",
            "fixed value",
        ),
        (
            {"t.weight": {"shape": [3], "role": "weight", "fan_in": 3}},
            "tensors[t.weight].fan_out",
            "both",
        ),
        ({"w.weight": {"shape": [3, 4], "scheme": "dirac"}}, "tensors[w.weight].scheme", "rank"),
    ],
)
def test_what_the_names_cannot_decide_is_a_422_naming_the_tensor(
    client: ApiClient, tensors: dict[str, Any], field: str, words: str
) -> None:
    response = client.post("/v1/models", json={"tensors": tensors, "seed": 1})
    assert response.status_code == 422, response.text
    (error,) = problem(response)["errors"]
    assert error["field"] == field
    assert words in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"tensors": {"fc.weight": [2, 2]}, "mlp": {"sizes": [2, 3]}},
        {
            "tensors": {"fc.weight": [2, 2]},
            "layers": [{"name": "a", "layer": {"kind": "tensor", "shape": [2]}}],
        },
        {"tensors": {}},
        {},
    ],
)
def test_exactly_one_of_layers_mlp_and_tensors(client: ApiClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/models", json={**body, "seed": 1})
    assert response.status_code == 422
    assert problem(response)["errors"][0]["field"] in ("layers", "tensors")


@pytest.mark.parametrize(
    ("tensors", "field", "words"),
    [
        ({"a b.weight": [2, 2]}, "tensors[a b.weight]", "letters, digits"),
        ({"fc.weight": [0, 3]}, "tensors[fc.weight][0]", "greater than 0"),
        ({"fc.weight": "3x4"}, "tensors[fc.weight]", "list"),
        ({"fc.weight": {"shape": [3, 4], "role": "linear"}}, "tensors[fc.weight].role", "mlp_in"),
        ({"fc.weight": {"shape": [3, 4], "fans": 3}}, "tensors[fc.weight].fans", "Unknown field"),
    ],
)
def test_a_malformed_entry_is_one_error_naming_the_tensor(
    client: ApiClient, tensors: dict[str, Any], field: str, words: str
) -> None:
    """One error per mistake (the value's JSON type picks the shape or the object form, so no
    union's second complaint), on ``tensors[<name>]``: names hold dots."""
    response = client.post("/v1/models", json={"tensors": tensors, "seed": 1})
    assert response.status_code == 422
    (error,) = problem(response)["errors"]
    assert error["field"] == field
    assert words in error["message"]


def test_limits_count_tensors_and_elements_before_anything_is_built() -> None:
    api = ApiClient(Settings(max_layers=3, max_elements=1000))
    try:
        many = {f"l{i}.weight": [2, 2] for i in range(4)}
        response = api.post("/v1/models", json={"tensors": many, "seed": 1})
        assert response.status_code == 413
        assert "4 tensors" in problem(response)["detail"]
        # over the element limit: refused before the role of "x" is even looked at
        big = {"x": [100, 100]}
        response = api.post("/v1/models", json={"tensors": big, "seed": 1})
        assert response.status_code == 413
    finally:
        api.close()


def test_shard_plans_digests_and_etags_work_on_a_map(client: ApiClient) -> None:
    body: dict[str, Any] = {"tensors": TRANSFORMER, "seed": 3}
    whole = load_safetensors(client.post("/v1/models.safetensors", json=body).content)
    plan = {"index": 1, "count": 2, "dims": {"*.in_proj_weight": 0, "*.linear2.weight": 1}}
    piece = load_safetensors(
        client.post("/v1/models.safetensors", json={**body, "shard": plan}).content
    )
    name = "encoder.layers.1.self_attn.in_proj_weight"
    np.testing.assert_array_equal(piece[name], whole[name][24:])
    np.testing.assert_array_equal(
        piece["encoder.layers.0.linear2.weight"], whole["encoder.layers.0.linear2.weight"][:, 16:]
    )
    digests = client.post("/v1/models/digests", json=body)
    assert digests.status_code == 200, digests.text
    assert [(t["name"], t["role"]) for t in digests.json()["tensors"]] == list(ROLES.items())
    first = client.post("/v1/models", json=body).headers["etag"]
    assert client.post("/v1/models", json=body).headers["etag"] == first
    renamed = {
        "tensors": {**TRANSFORMER, "head.weight": {"shape": [10, 16], "role": "weight"}},
        "seed": 3,
    }
    assert client.post("/v1/models", json=renamed).headers["etag"] != first


KERAS = {
    "embedding/embeddings": [100, 16],
    "lstm/lstm_cell/kernel": [16, 32],
    "lstm/lstm_cell/recurrent_kernel": [8, 32],
    "lstm/lstm_cell/bias": [32],
    "layer_normalization/gamma": [8],
    "layer_normalization/beta": [8],
    "dense/kernel": [8, 10],
    "dense/bias": [10],
}
FLAX = {
    "params/Embed_0/embedding": [100, 16],
    "params/MultiHeadDotProductAttention_0/query/kernel": [16, 2, 8],
    "params/MultiHeadDotProductAttention_0/query/bias": [2, 8],
    "params/MultiHeadDotProductAttention_0/out/kernel": [2, 8, 16],
    "params/MultiHeadDotProductAttention_0/out/bias": [16],
    "params/LayerNorm_0/scale": [16],
    "params/LayerNorm_0/bias": [16],
    "params/BatchNorm_0/scale": [16],
    "params/BatchNorm_0/bias": [16],
    "batch_stats/BatchNorm_0/mean": [16],
    "batch_stats/BatchNorm_0/var": [16],
    "params/head/kernel": [16, 10],
    "params/head/bias": [10],
}


def test_a_keras_style_map(client: ApiClient) -> None:
    tensors = _json(client, {"tensors": KERAS, "layout": "keras", "seed": 4})
    assert [(t["name"], t["shape"]) for t in tensors] == list(KERAS.items())
    by_name = {t["name"]: t for t in tensors}
    assert [t["role"] for t in tensors] == [
        "embedding",
        "weight",
        "recurrent_weight",
        "bias",
        "norm_scale",
        "norm_shift",
        "weight",
        "bias",
    ]
    assert by_name["embedding/embeddings"]["bound"] == 0.05  # keras Embedding U(-0.05, 0.05)
    assert by_name["lstm/lstm_cell/recurrent_kernel"]["scheme"]["name"] == "keras.default"
    bias = by_name["lstm/lstm_cell/bias"]["data"]  # unit_forget_bias: the forget gate at 1
    assert bias == [0.0] * 8 + [1.0] * 8 + [0.0] * 16
    assert set(by_name["layer_normalization/gamma"]["data"]) == {1.0}
    assert set(by_name["dense/bias"]["data"]) == {0.0}
    limit = math.sqrt(6 / (8 + 10))  # glorot_uniform
    assert by_name["dense/kernel"]["bound"] == pytest.approx(limit)


def test_a_flax_style_map(client: ApiClient) -> None:
    tensors = _json(client, {"tensors": FLAX, "layout": "jax", "seed": 4})
    assert [(t["name"], t["shape"]) for t in tensors] == list(FLAX.items())
    by_name = {t["name"]: t for t in tensors}
    roles = {name: t["role"] for name, t in by_name.items()}
    assert roles == {
        "params/Embed_0/embedding": "embedding",
        "params/MultiHeadDotProductAttention_0/query/kernel": "attention_qkv",
        "params/MultiHeadDotProductAttention_0/query/bias": "bias",
        "params/MultiHeadDotProductAttention_0/out/kernel": "attention_output",
        "params/MultiHeadDotProductAttention_0/out/bias": "bias",
        "params/LayerNorm_0/scale": "norm_scale",
        "params/LayerNorm_0/bias": "norm_shift",
        "params/BatchNorm_0/scale": "norm_scale",
        "params/BatchNorm_0/bias": "norm_shift",
        "batch_stats/BatchNorm_0/mean": "running_stat",
        "batch_stats/BatchNorm_0/var": "running_stat",
        "params/head/kernel": "readout",
        "params/head/bias": "bias",
    }
    # Flax: Embed N(0, 1/d) with d = 16; DenseGeneral kernels lecun_normal over (16, 2*8)
    assert by_name["params/Embed_0/embedding"]["std"] == pytest.approx(1 / 4)
    assert by_name["params/MultiHeadDotProductAttention_0/query/kernel"]["fan_in"] == 16
    assert by_name["params/MultiHeadDotProductAttention_0/out/kernel"]["fan_in"] == 16
    for name in ("params/LayerNorm_0/bias", "batch_stats/BatchNorm_0/mean", "params/head/bias"):
        assert set(by_name[name]["data"]) == {0.0}, name
    assert set(by_name["batch_stats/BatchNorm_0/var"]["data"]) == {1.0}
