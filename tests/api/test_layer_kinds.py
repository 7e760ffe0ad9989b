"""The layer kinds over HTTP: every new kind in every layout that has it, each tensor's name,
shape and role; a kind or argument a layout's framework lacks is a 422 naming the layouts that
have it. (Names, fans and default laws against the frameworks: tests/core/
test_layer_references.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ApiClient, problem

MHA = {"kind": "multihead_attention", "embed_dim": 4, "num_heads": 2}
ENCODER = {"kind": "transformer_encoder_layer", "d_model": 4, "nhead": 2, "dim_feedforward": 6}
ATTENTION_4 = [
    ("self_attn.in_proj_weight", [12, 4], "attention_qkv"),
    ("self_attn.in_proj_bias", [12], "bias"),
    ("self_attn.out_proj.weight", [4, 4], "attention_output"),
    ("self_attn.out_proj.bias", [4], "bias"),
]
FEED_FORWARD = [
    ("linear1.weight", [6, 4], "mlp_in"),
    ("linear1.bias", [6], "bias"),
    ("linear2.weight", [4, 6], "mlp_out"),
    ("linear2.bias", [4], "bias"),
]


def _norms(*numbers: int) -> list[tuple[str, list[int], str]]:
    return [
        row
        for n in numbers
        for row in ((f"norm{n}.weight", [4], "norm_scale"), (f"norm{n}.bias", [4], "norm_shift"))
    ]


CASES: list[tuple[dict[str, Any], str, list[tuple[str, list[int], str]]]] = [
    (
        MHA,
        "torch",
        [
            ("in_proj_weight", [12, 4], "attention_qkv"),
            ("in_proj_bias", [12], "bias"),
            ("out_proj.weight", [4, 4], "attention_output"),
            ("out_proj.bias", [4], "bias"),
        ],
    ),
    (
        {**MHA, "kdim": 3, "vdim": 5, "bias": False, "add_bias_kv": True},
        "torch",
        [
            ("q_proj_weight", [4, 4], "attention_qkv"),
            ("k_proj_weight", [4, 3], "attention_qkv"),
            ("v_proj_weight", [4, 5], "attention_qkv"),
            ("bias_k", [1, 1, 4], "attention_qkv"),
            ("bias_v", [1, 1, 4], "attention_qkv"),
            ("out_proj.weight", [4, 4], "attention_output"),
        ],
    ),
    (
        {**MHA, "key_dim": 3, "output_shape": [5]},
        "keras",
        [
            ("query.kernel", [4, 2, 3], "attention_qkv"),
            ("query.bias", [2, 3], "bias"),
            ("key.kernel", [4, 2, 3], "attention_qkv"),
            ("key.bias", [2, 3], "bias"),
            ("value.kernel", [4, 2, 3], "attention_qkv"),
            ("value.bias", [2, 3], "bias"),
            ("attention_output.kernel", [2, 3, 5], "attention_output"),
            ("attention_output.bias", [5], "bias"),
        ],
    ),
    (
        {**MHA, "qkv_features": 6, "out_features": 3, "bias": False},
        "jax",
        [
            ("query.kernel", [4, 2, 3], "attention_qkv"),
            ("key.kernel", [4, 2, 3], "attention_qkv"),
            ("value.kernel", [4, 2, 3], "attention_qkv"),
            ("out.kernel", [2, 3, 3], "attention_output"),
        ],
    ),
    (ENCODER, "torch", [*ATTENTION_4, *FEED_FORWARD, *_norms(1, 2)]),
    (
        {**ENCODER, "kind": "transformer_decoder_layer", "norm_first": True},
        "torch",
        [
            *ATTENTION_4,
            *[(n.replace("self_attn", "multihead_attn"), s, r) for n, s, r in ATTENTION_4],
            *FEED_FORWARD,
            *_norms(1, 2, 3),
        ],
    ),
    (
        {"kind": "group_norm", "num_groups": 2, "num_channels": 4},
        "keras",
        [("gamma", [4], "norm_scale"), ("beta", [4], "norm_shift")],
    ),
    (
        {"kind": "instance_norm", "num_features": 3, "affine": True},
        "jax",
        [("scale", [3], "norm_scale"), ("bias", [3], "norm_shift")],
    ),
    (
        {"kind": "instance_norm", "num_features": 3, "track_running_stats": True},
        "torch",
        [
            ("running_mean", [3], "running_stat"),
            ("running_var", [3], "running_stat"),
            ("num_batches_tracked", [], "counter"),
        ],
    ),
    ({"kind": "rms_norm", "normalized_shape": [2, 3]}, "torch", [("weight", [2, 3], "norm_scale")]),
    ({"kind": "rms_norm", "normalized_shape": 3}, "keras", [("scale", [3], "norm_scale")]),
    ({"kind": "prelu", "num_parameters": 3}, "torch", [("weight", [3], "activation")]),
    ({"kind": "prelu", "num_parameters": 3}, "keras", [("alpha", [3], "activation")]),
    ({"kind": "prelu"}, "jax", [("negative_slope", [], "activation")]),
    (
        {"kind": "bilinear", "in1_features": 2, "in2_features": 3, "out_features": 4},
        "torch",
        [("weight", [4, 2, 3], "weight"), ("bias", [4], "bias")],
    ),
    (
        {"kind": "lstm", "input_size": 3, "hidden_size": 4, "proj_size": 2},
        "torch",
        [
            ("weight_ih_l0", [16, 3], "weight"),
            ("weight_hh_l0", [16, 2], "recurrent_weight"),
            ("bias_ih_l0", [16], "bias"),
            ("bias_hh_l0", [16], "bias"),
            ("weight_hr_l0", [2, 4], "recurrent_weight"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("layer", "layout", "expected"),
    CASES,
    ids=[f"{layer['kind']}-{layout}-{i}" for i, (layer, layout, _) in enumerate(CASES)],
)
def test_each_new_kind_answers_its_frameworks_tensors(
    client: ApiClient,
    layer: dict[str, Any],
    layout: str,
    expected: list[tuple[str, list[int], str]],
) -> None:
    body = {"layer": layer, "layout": layout, "seed": 7}
    response = client.post("/v1/weights", params={"format": "json"}, json=body)
    assert response.status_code == 200, response.text[:400]
    got = [(t["name"], t["shape"], t["role"]) for t in response.json()["tensors"]]
    assert got == expected


def test_torchs_packed_in_proj_reports_torchs_fans_and_xavier_bound(client: ApiClient) -> None:
    body = {"layer": {**MHA, "embed_dim": 64, "num_heads": 8}, "seed": 1}
    response = client.post(
        "/v1/weights", params={"format": "json", "tensor": "in_proj_weight"}, json=body
    )
    assert response.status_code == 200, response.text[:400]
    (packed,) = response.json()["tensors"]
    # torch: fans (E, 3E) = (64, 192); xavier_uniform_ bound sqrt(6 / 256) (pytorch#166378)
    assert (packed["fan_in"], packed["fan_out"]) == (64, 192)
    assert packed["bound"] == 0.15309310892394865
    assert packed["scheme"] == {"name": "torch.default"}


@pytest.mark.parametrize(
    ("layer", "layout", "field", "words"),
    [
        (ENCODER, "keras", "layer.kind", "use layout 'torch', which has it"),
        ({**ENCODER, "kind": "transformer_decoder_layer"}, "jax", "layer.kind", "'torch'"),
        (
            {"kind": "bilinear", "in1_features": 2, "in2_features": 2, "out_features": 2},
            "jax",
            "layer.kind",
            "Flax has no 'bilinear' layer",
        ),
        (
            {"kind": "instance_norm", "num_features": 2},
            "keras",
            "layer.kind",
            "use layout 'torch' or 'jax', which have it",
        ),
        ({**MHA, "add_bias_kv": True}, "keras", "layer.add_bias_kv", "torch nn.MultiheadAttention"),
        ({**MHA, "key_dim": 2}, "torch", "layer.key_dim", "use layout 'keras'"),
        (
            {"kind": "lstm", "input_size": 2, "hidden_size": 3, "proj_size": 1},
            "keras",
            "layer.proj_size",
            "use layout 'torch'",
        ),
        ({"kind": "prelu", "num_parameters": 2}, "jax", "layer.num_parameters", "one scalar"),
        (
            {"kind": "group_norm", "num_groups": 3, "num_channels": 4},
            "torch",
            "layer.num_groups",
            "must divide num_channels=4",
        ),
        ({**MHA, "num_heads": 3}, "torch", "layer.num_heads", "must divide embed_dim=4"),
    ],
)
def test_a_kind_or_argument_a_framework_lacks_is_a_422_naming_the_layouts(
    client: ApiClient, layer: dict[str, Any], layout: str, field: str, words: str
) -> None:
    response = client.post("/v1/weights", json={"layer": layer, "layout": layout, "seed": 0})
    assert response.status_code == 422, response.text[:400]
    found = problem(response)
    assert [e["field"] for e in found["errors"]] == [field]
    assert words in found["detail"], found["detail"]


@pytest.mark.parametrize(
    ("layer", "field"),
    [
        ({"kind": "prelu", "init": True}, "layer.init"),
        ({"kind": "prelu", "init": "0.25"}, "layer.init"),
        ({"kind": "gru", "input_size": 2, "hidden_size": 3, "proj_size": 1}, "layer.proj_size"),
        ({**MHA, "kdim": 0}, "layer.kdim"),
        ({**ENCODER, "decoder": True}, "layer.decoder"),
    ],
)
def test_schema_refusals_name_the_field(
    client: ApiClient, layer: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/weights", json={"layer": layer, "seed": 0})
    assert response.status_code == 422, response.text[:400]
    assert [e["field"] for e in problem(response)["errors"]] == [field]


def test_a_small_torch_transformer_has_its_state_dict_names(client: ApiClient) -> None:
    """Embedding, two encoder layers and a head, named as the torch model's modules are:
    ``{k: tuple(v.shape) for k, v in model.state_dict().items()}`` of ``embed =
    nn.Embedding(100, 8)``, ``layers = nn.ModuleList([nn.TransformerEncoderLayer(8, 2, 16)] *
    2)``, ``head = nn.Linear(8, 100)`` (torch 2.13)."""
    encoder = {"kind": "transformer_encoder_layer", "d_model": 8, "nhead": 2, "dim_feedforward": 16}
    body = {
        "layers": [
            {
                "name": "embed",
                "layer": {"kind": "embedding", "num_embeddings": 100, "embedding_dim": 8},
            },
            {"name": "layers.0", "layer": encoder},
            {"name": "layers.1", "layer": encoder},
            {
                "name": "head",
                "role": "readout",
                "layer": {"kind": "dense", "in_features": 8, "out_features": 100},
            },
        ],
        "seed": 3,
    }
    response = client.post("/v1/models/digests", json=body)
    assert response.status_code == 200, response.text[:400]
    got = {t["name"]: tuple(t["shape"]) for t in response.json()["tensors"]}
    block = {
        "self_attn.in_proj_weight": (24, 8),
        "self_attn.in_proj_bias": (24,),
        "self_attn.out_proj.weight": (8, 8),
        "self_attn.out_proj.bias": (8,),
        "linear1.weight": (16, 8),
        "linear1.bias": (16,),
        "linear2.weight": (8, 16),
        "linear2.bias": (8,),
        "norm1.weight": (8,),
        "norm1.bias": (8,),
        "norm2.weight": (8,),
        "norm2.bias": (8,),
    }
    torch_state_dict = {
        "embed.weight": (100, 8),
        **{f"layers.{i}.{name}": shape for i in (0, 1) for name, shape in block.items()},
        "head.weight": (100, 8),
        "head.bias": (100,),
    }
    assert list(got.items()) == list(torch_state_dict.items())


def test_a_model_wide_scheme_skips_prelu_slopes_and_norms(client: ApiClient) -> None:
    body = {
        "layers": [
            {"name": "fc", "layer": {"kind": "dense", "in_features": 4, "out_features": 4}},
            {"name": "gn", "layer": {"kind": "group_norm", "num_groups": 2, "num_channels": 4}},
            {"name": "act", "layer": {"kind": "prelu"}},
            {"name": "act2", "layer": {"kind": "prelu", "init": 0.1}, "scheme": "zeros"},
        ],
        "scheme": "he_normal",
        "bias_scheme": "zeros",
        "seed": 5,
    }
    response = client.post("/v1/models", params={"format": "json"}, json=body)
    assert response.status_code == 200, response.text[:400]
    tensors = {t["name"]: t for t in response.json()["tensors"]}
    assert (tensors["act.weight"]["role"], tensors["act.weight"]["data"]) == ("activation", [0.25])
    assert tensors["act2.weight"]["data"] == [0.0]  # the layer's own scheme names its slope
    assert set(tensors["gn.weight"]["data"]) == {1.0}
    assert tensors["fc.weight"]["scheme"]["name"] == "he_normal"


def test_a_torch_transformer_as_layers_or_as_a_shape_map_gives_the_same_bytes(
    client: ApiClient,
) -> None:
    """The same torch model described by its layer kinds or by its state_dict shapes: the same
    names, roles, resolved schemes and bytes (torch's MultiheadAttention defaults in both)."""
    encoder = {"kind": "transformer_encoder_layer", "d_model": 8, "nhead": 2, "dim_feedforward": 16}
    layers = {
        "layers": [
            {
                "name": "embed",
                "layer": {"kind": "embedding", "num_embeddings": 50, "embedding_dim": 8},
            },
            {"name": "layers.0", "layer": encoder},
            {"name": "layers.1", "layer": {**encoder, "kind": "transformer_decoder_layer"}},
            {"name": "prelu", "layer": {"kind": "prelu", "num_parameters": 8}},
            {
                "name": "head",
                "role": "readout",
                "layer": {"kind": "dense", "in_features": 8, "out_features": 50},
            },
        ],
        "seed": 11,
    }
    first = client.post("/v1/models/digests", json=layers)
    assert first.status_code == 200, first.text[:400]
    by_layers = first.json()["tensors"]
    shapes = {t["name"]: t["shape"] for t in by_layers}
    assert "layers.1.multihead_attn.in_proj_weight" in shapes
    second = client.post("/v1/models/digests", json={"tensors": shapes, "seed": 11})
    assert second.status_code == 200, second.text[:400]
    by_map = second.json()["tensors"]
    keys = ("name", "shape", "role", "scheme", "sha256")
    assert [[t[k] for k in keys] for t in by_map] == [[t[k] for k in keys] for t in by_layers]


def test_keras_groups_minus_one_is_one_group_per_channel(client: ApiClient) -> None:
    layer = {"kind": "group_norm", "groups": -1, "num_channels": 6}
    body = {"layer": layer, "layout": "keras", "seed": 0}
    response = client.post("/v1/weights", params={"format": "json"}, json=body)
    assert response.status_code == 200, response.text[:400]
    tensors = {t["name"]: t for t in response.json()["tensors"]}
    assert tensors["gamma"]["shape"] == [6]
    assert set(tensors["gamma"]["data"]) == {1.0}
    assert set(tensors["beta"]["data"]) == {0.0}
    zero = {"layer": {**layer, "groups": 0}, "layout": "keras", "seed": 0}
    assert client.post("/v1/weights", json=zero).status_code == 422
