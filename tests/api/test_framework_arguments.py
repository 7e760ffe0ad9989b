"""Framework constructor arguments over HTTP: a layer written as people write it in torch,
Keras or Flax gives the tensors and schemes the framework's arguments say.

Each case sends a real constructor's arguments and compares the response with the same layer
in weightinit's own fields plus the schemes the arguments name (``role_schemes``): the same
tensors, the same bytes (sha256), each tensor's ``scheme`` stated. Arguments that change no
parameter change neither the bytes nor the ETag.
"""

from __future__ import annotations

from typing import Any

from .conftest import ApiClient, problem


def _post(client: ApiClient, body: dict[str, Any], path: str = "/v1/weights") -> Any:
    response = client.post(path, params={"format": "json"}, json=body)
    assert response.status_code == 200, response.text[:600]
    return response


def _tensors(client: ApiClient, body: dict[str, Any], path: str = "/v1/weights") -> Any:
    return {t["name"]: t for t in _post(client, body, path).json()["tensors"]}


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert list(got) == list(want)
    for name in want:
        for key in ("shape", "role", "scheme", "sha256"):
            assert got[name][key] == want[name][key], (name, key)


def test_torch_conv2d_arguments_change_nothing_they_should_not(client: ApiClient) -> None:
    # torch.nn.Conv2d(3, 64, 3, stride=2, padding=1, dilation=1, padding_mode="zeros",
    #                 device=None, dtype=None)
    ours = {"kind": "conv2d", "in_channels": 3, "out_channels": 64, "kernel_size": 3}
    torch_args = {
        **ours,
        "stride": 2,
        "padding": 1,
        "dilation": 1,
        "padding_mode": "zeros",
        "device": None,
        "dtype": None,
    }
    plain = _post(client, {"layer": ours, "seed": 4})
    written = _post(client, {"layer": torch_args, "seed": 4})
    _same(
        {t["name"]: t for t in written.json()["tensors"]},
        {t["name"]: t for t in plain.json()["tensors"]},
    )
    assert written.headers["etag"] == plain.headers["etag"]  # the same canonical request
    with_dtype = {"layer": {**torch_args, "dtype": "torch.float32"}, "seed": 4}
    assert _post(client, with_dtype).headers["etag"] == plain.headers["etag"]


def test_keras_dense_as_keras_users_write_it(client: ApiClient) -> None:
    # keras.layers.Dense(units=16, activation="relu", use_bias=False,
    #                    kernel_initializer="he_normal"), built on 8 inputs
    keras_args = {
        "kind": "dense",
        "in_features": 8,
        "units": 16,
        "activation": "relu",
        "use_bias": False,
        "kernel_initializer": "he_normal",
    }
    got = _tensors(client, {"layer": keras_args, "layout": "keras", "seed": 5})
    want = _tensors(
        client,
        {
            "layer": {"kind": "dense", "in_features": 8, "out_features": 16, "bias": False},
            "layout": "keras",
            "role_schemes": {"weight": "keras.HeNormal"},  # Keras' he_normal is truncated
            "seed": 5,
        },
    )
    _same(got, want)
    assert list(got) == ["kernel"] and got["kernel"]["shape"] == [8, 16]
    assert got["kernel"]["scheme"] == {"name": "keras.HeNormal"}


def test_flax_dense_as_flax_users_write_it(client: ApiClient) -> None:
    # flax.linen.Dense(features=10, use_bias=True, kernel_init=nn.initializers.lecun_normal())
    flax_args = {
        "kind": "dense",
        "in_features": 4,
        "features": 10,
        "use_bias": True,
        "kernel_init": "lecun_normal",
        "param_dtype": "float32",
        "dtype": "bfloat16",  # the computation's dtype in Flax: no parameter changes
    }
    got = _tensors(client, {"layer": flax_args, "layout": "jax", "seed": 6})
    want = _tensors(
        client,
        {
            "layer": {"kind": "dense", "in_features": 4, "out_features": 10},
            "layout": "jax",
            "role_schemes": {"weight": "jax.lecun_normal"},
            "seed": 6,
        },
    )
    _same(got, want)
    assert got["kernel"]["scheme"] == {"name": "jax.lecun_normal"}
    assert got["bias"]["scheme"] == {"name": "flax.default"}  # no bias_init: Flax's zeros


def test_a_keras_lstm_config_with_serialised_initializers(client: ApiClient) -> None:
    # What keras.layers.LSTM(32, ...).get_config() holds, plus the input size Keras infers.
    config = {
        "kind": "lstm",
        "input_size": 16,
        "name": "lstm",
        "trainable": True,
        "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}},
        "units": 32,
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "use_bias": True,
        "kernel_initializer": {
            "module": "keras.initializers",
            "class_name": "GlorotUniform",
            "config": {"seed": None},
            "registered_name": None,
        },
        "recurrent_initializer": {
            "module": "keras.initializers",
            "class_name": "OrthogonalInitializer",
            "config": {"gain": 1.0, "seed": None},
            "registered_name": None,
        },
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "unit_forget_bias": True,
        "kernel_regularizer": None,
        "dropout": 0.0,
        "recurrent_dropout": 0.0,
        "seed": None,
        "return_sequences": False,
        "return_state": False,
        "go_backwards": False,
        "stateful": False,
        "unroll": False,
    }
    got = _tensors(client, {"layer": config, "layout": "keras", "seed": 7})
    assert {n: t["scheme"]["name"] for n, t in got.items()} == {
        "kernel": "keras.GlorotUniform",
        "recurrent_kernel": "keras.Orthogonal",
        "bias": "keras.default",  # zeros, and 1 for the forget gate (unit_forget_bias)
    }
    # Keras' defaults are what keras.default does: the same bytes with no arguments at all
    plain = _tensors(
        client,
        {
            "layer": {"kind": "lstm", "input_size": 16, "hidden_size": 32},
            "layout": "keras",
            "seed": 7,
        },
    )
    assert {n: t["sha256"] for n, t in got.items()} == {n: t["sha256"] for n, t in plain.items()}
    bias = got["bias"]["data"]
    assert bias[:32] == [0.0] * 32 and bias[32:64] == [1.0] * 32 and set(bias[64:]) == {0.0}


def test_initializer_arguments_are_the_most_specific_choice(client: ApiClient) -> None:
    layer = {"kind": "dense", "in_features": 4, "units": 3, "kernel_initializer": "zeros"}
    body = {
        "layout": "keras",
        "seed": 1,
        "scheme": "ones",
        "layers": [
            {
                "name": "head",
                "layer": layer,
                "role": "readout",
                "role_schemes": {"readout": "ones"},
                "bias_scheme": "ones",
            }
        ],
    }
    tensors = _tensors(client, body, "/v1/models")
    assert tensors["head.kernel"]["role"] == "readout"
    assert tensors["head.kernel"]["scheme"] == {"name": "keras.Zeros"}
    assert set(tensors["head.kernel"]["data"]) == {0.0}
    assert tensors["head.bias"]["scheme"] == {"name": "ones"}  # no bias_initializer given


def test_names_that_change_nothing_share_the_etag_and_initializers_do_not(
    client: ApiClient,
) -> None:
    def etag(layer: dict[str, Any]) -> str:
        body = {"layer": {"kind": "dense", "in_features": 4, **layer}, "layout": "keras", "seed": 3}
        return str(_post(client, body).headers["etag"])

    ours = etag({"out_features": 3})
    assert etag({"units": 3}) == ours
    assert etag({"units": 3, "activation": "relu", "name": "d"}) == ours
    assert etag({"units": 3, "kernel_initializer": "glorot_uniform"}) != ours


def test_another_layouts_argument_is_a_422_naming_that_layout(client: ApiClient) -> None:
    body = {"layer": {"kind": "dense", "in_features": 4, "units": 3}, "seed": 1}
    response = client.post("/v1/weights", json=body)
    assert response.status_code == 422
    found = problem(response)
    assert found["errors"][0]["field"] == "layer.units"
    assert "keras" in found["detail"] and "out_features" in found["detail"]


def test_the_schema_publishes_every_argument_with_what_it_does(client: ApiClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    dense = schemas["DenseLayer"]["properties"]
    assert "keras.layers.Dense" in dense["units"]["description"]
    assert "out_features" in dense["units"]["description"]
    assert "accepted and ignored" in dense["activation"]["description"]
    assert "Keras initializer" in dense["kernel_initializer"]["description"]
    assert "Flax initializer" in dense["kernel_init"]["description"]
    assert "Also given as units" in dense["out_features"]["description"]
    conv = schemas["Conv2dLayer"]["properties"]
    assert "accepted and ignored" in conv["stride"]["description"]
    assert "unit_forget_bias" in schemas["LstmLayer"]["properties"]


# ---- the newer kinds: transformer layers and attention ------------------------------------------


def test_a_torch_transformer_encoder_layer_as_torch_users_write_it(client: ApiClient) -> None:
    # torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1,
    #                                  activation="gelu", batch_first=True, norm_first=True)
    ours = {"kind": "transformer_encoder_layer", "d_model": 8, "nhead": 2, "dim_feedforward": 16}
    torch_args = {
        **ours,
        "dropout": 0.1,
        "activation": "gelu",
        "batch_first": True,
        "norm_first": True,
    }
    got = _tensors(client, {"layer": torch_args, "seed": 8})
    _same(got, _tensors(client, {"layer": ours, "seed": 8}))
    assert {n: (t["shape"], t["role"]) for n, t in got.items()} == {
        "self_attn.in_proj_weight": ([24, 8], "attention_qkv"),
        "self_attn.in_proj_bias": ([24], "bias"),
        "self_attn.out_proj.weight": ([8, 8], "attention_output"),
        "self_attn.out_proj.bias": ([8], "bias"),
        "linear1.weight": ([16, 8], "mlp_in"),
        "linear1.bias": ([16], "bias"),
        "linear2.weight": ([8, 16], "mlp_out"),
        "linear2.bias": ([8], "bias"),
        "norm1.weight": ([8], "norm_scale"),
        "norm1.bias": ([8], "norm_shift"),
        "norm2.weight": ([8], "norm_scale"),
        "norm2.bias": ([8], "norm_shift"),
    }


def test_keras_multi_head_attention_as_keras_users_write_it(client: ApiClient) -> None:
    # keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, use_bias=False,
    #                                 kernel_initializer="he_normal", dropout=0.1), on 8 features
    keras_args = {
        "kind": "multihead_attention",
        "embed_dim": 8,
        "num_heads": 2,
        "key_dim": 4,
        "use_bias": False,
        "kernel_initializer": "he_normal",
        "dropout": 0.1,
    }
    got = _tensors(client, {"layer": keras_args, "layout": "keras", "seed": 9})
    assert {n: (t["shape"], t["role"], t["scheme"]["name"]) for n, t in got.items()} == {
        "query.kernel": ([8, 2, 4], "attention_qkv", "keras.HeNormal"),
        "key.kernel": ([8, 2, 4], "attention_qkv", "keras.HeNormal"),
        "value.kernel": ([8, 2, 4], "attention_qkv", "keras.HeNormal"),
        "attention_output.kernel": ([2, 4, 8], "attention_output", "keras.HeNormal"),
    }
    want = _tensors(
        client,
        {
            "layer": {
                **{k: keras_args[k] for k in ("kind", "embed_dim", "num_heads", "key_dim")},
                "bias": False,
            },
            "layout": "keras",
            "role_schemes": {
                "attention_qkv": "keras.HeNormal",
                "attention_output": "keras.HeNormal",
            },
            "seed": 9,
        },
    )
    _same(got, want)


def test_flax_attention_as_flax_users_write_it(client: ApiClient) -> None:
    # flax.linen.MultiHeadDotProductAttention(num_heads=2, qkv_features=8,
    #     kernel_init=nn.initializers.lecun_normal(), dropout_rate=0.1), on 8 features
    flax_args = {
        "kind": "multihead_attention",
        "embed_dim": 8,
        "num_heads": 2,
        "qkv_features": 8,
        "kernel_init": "lecun_normal",
        "dropout_rate": 0.1,
    }
    got = _tensors(client, {"layer": flax_args, "layout": "jax", "seed": 10})
    schemes = {n: (t["shape"], t["scheme"]["name"]) for n, t in got.items()}
    assert schemes == {
        "query.kernel": ([8, 2, 4], "jax.lecun_normal"),
        "query.bias": ([2, 4], "flax.default"),  # no bias_init: Flax's zeros
        "key.kernel": ([8, 2, 4], "jax.lecun_normal"),
        "key.bias": ([2, 4], "flax.default"),
        "value.kernel": ([8, 2, 4], "jax.lecun_normal"),
        "value.bias": ([2, 4], "flax.default"),
        "out.kernel": ([2, 4, 8], "jax.lecun_normal"),  # out_kernel_init or kernel_init
        "out.bias": ([8], "flax.default"),
    }


def test_an_attention_argument_of_another_layout_is_a_422_naming_it(client: ApiClient) -> None:
    layer = {"kind": "multihead_attention", "embed_dim": 8, "num_heads": 2, "kernel_init": "ones"}
    response = client.post("/v1/weights", json={"layer": layer, "layout": "keras", "seed": 1})
    assert response.status_code == 422
    found = problem(response)
    assert found["errors"][0]["field"] == "layer.kernel_init"
    assert (
        "'jax'" in found["detail"] and "flax.linen.MultiHeadDotProductAttention" in found["detail"]
    )
