"""POST /v1/diagnostics over HTTP: the same weights as /v1/models, what each response states,
the refusals (not a chain, too costly) and determinism. The numerics' own acceptance tests live
in tests/core/diagnostics."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from app.api.settings import Settings

from .conftest import ApiClient, assert_refused

MLP = {"mlp": {"sizes": [16, 32, 32, 8], "activation": "relu"}, "seed": 5, "batch": 32}


def post(client: ApiClient, body: dict[str, Any], **params: str) -> Any:
    response = client.post("/v1/diagnostics", json=body, params=params)
    return response


def test_mlp_run_uses_the_weights_v1_models_returns(client: ApiClient) -> None:
    body = {**MLP, "scheme": "he_normal"}
    document = post(client, body).json()
    models = client.post(
        "/v1/models",
        params={"format": "json"},
        json={"mlp": {"sizes": [16, 32, 32, 8]}, "scheme": "he_normal", "seed": 5},
    ).json()
    (run,) = document["runs"]
    assert run["tensors"] == [{"name": t["name"], "sha256": t["sha256"]} for t in models["tensors"]]
    assert [layer["name"] for layer in run["layers"]] == ["W1", "W2", "W3"]
    assert [layer["depth"] for layer in run["layers"]] == [1, 2, 3]


def test_layers_run_uses_the_weights_v1_models_returns_under_keras(client: ApiClient) -> None:
    layers = [
        {
            "name": "conv",
            "layer": {"kind": "conv1d", "in_channels": 3, "out_channels": 8, "kernel_size": 3},
            "activation": "relu",
            "padding": 1,
        },
        {"name": "norm", "layer": {"kind": "group_norm", "num_groups": 2, "num_channels": 8}},
    ]
    body = {
        "layers": layers,
        "layout": "keras",
        "scheme": "glorot_uniform",
        "seed": 2,
        "batch": 8,
        "input_shape": [3, 20],
    }
    response = post(client, body)
    assert response.status_code == 200, response.text
    run = response.json()["runs"][0]
    models = client.post(
        "/v1/models",
        params={"format": "json"},
        json={
            "layers": [
                {k: v for k, v in item.items() if k in ("name", "layer")} for item in layers
            ],
            "layout": "keras",
            "scheme": "glorot_uniform",
            "seed": 2,
        },
    ).json()
    assert run["tensors"] == [{"name": t["name"], "sha256": t["sha256"]} for t in models["tensors"]]
    assert response.json()["input_shape"] == [3, 20]


def test_response_states_what_was_resolved(client: ApiClient) -> None:
    document = post(client, {**MLP, "scheme": "glorot_uniform"}).json()
    assert document["batch"] == 32 and document["seed"] == 5 and document["layout"] == "torch"
    assert document["input_shape"] == [16]
    assert "standard normal" in document["input"] and "standard normal" in document["upstream"]
    assert document["model"]["mlp"] == {
        "sizes": [16, 32, 32, 8],
        "activation": ["relu", "relu", "linear"],
        "activation_param": [None, None, None],
    }
    assert document["coordinate_check"] is None
    assert document["cost"]["flops"] > 0
    layer = document["runs"][0]["layers"][0]
    for key in (
        "preactivation_std",
        "activation_mean",
        "activation_std",
        "activation_squared_mean",
        "dead_fraction",
        "saturated_fraction",
        "gradient_std",
        "weight_std",
        "weight_std_theory",
        "symmetric",
        "predicted",
        "weight_histogram",
        "fan_in",
    ):
        assert key in layer
    assert math.isclose(layer["weight_std_theory"], math.sqrt(2 / 48))
    assert layer["predicted"]["tolerance"] > 0


def test_defaults_batch_128_relu_hidden_and_linear_readout(client: ApiClient) -> None:
    document = post(client, {"mlp": {"sizes": [4, 4]}, "seed": 0}).json()
    assert document["batch"] == 128
    assert document["model"]["mlp"]["activation"] == ["linear"]  # the readout
    document = post(client, {"mlp": {"sizes": [4, 4, 4]}, "seed": 0}).json()
    assert document["model"]["mlp"]["activation"] == ["relu", "linear"]
    assert document["runs"][0]["label"] == "torch defaults"


def test_compare_runs_each_scheme_and_flags_zeros_symmetric(client: ApiClient) -> None:
    body = {**MLP, "compare": ["zeros", {"name": "random", "scale": 0.01}, "he_normal"]}
    document = post(client, body).json()
    labels = [run["label"] for run in document["runs"]]
    assert labels == ["zeros", "random(scale=0.01)", "he_normal"]
    zeros = document["runs"][0]["layers"]
    assert all(layer["symmetric"] for layer in zeros)
    assert zeros[0]["activation_std"] == 0.0
    assert not any(layer["symmetric"] for layer in document["runs"][2]["layers"])


def test_same_request_same_bytes(client: ApiClient) -> None:
    body = {**MLP, "compare": ["he_normal", "lecun_uniform"]}
    first, second = post(client, body), post(client, body)
    assert first.status_code == 200
    assert first.content == second.content


def test_attention_and_embedding_are_reported_empirically_only(client: ApiClient) -> None:
    layers = [
        {
            "name": "embed",
            "layer": {"kind": "embedding", "num_embeddings": 50, "embedding_dim": 16},
        },
        {"name": "attn", "layer": {"kind": "multihead_attention", "embed_dim": 16, "num_heads": 4}},
        {"name": "norm", "layer": {"kind": "layer_norm", "normalized_shape": 16}},
        {
            "name": "fc",
            "layer": {"kind": "dense", "in_features": 16, "out_features": 16},
            "activation": "gelu",
        },
    ]
    response = post(client, {"layers": layers, "seed": 1, "batch": 4})
    assert response.status_code == 200, response.text
    document = response.json()
    assert "token ids" in document["input"]
    assert document["input_shape"] == [16]
    layers = document["runs"][0]["layers"]
    assert [layer["predicted"] is None for layer in layers[:2]] == [True, True]
    assert [layer["kind"] for layer in layers] == [
        "embedding",
        "multihead_attention",
        "layer_norm",
        "dense",
    ]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {
                "layers": [
                    {"name": "rnn", "layer": {"kind": "lstm", "input_size": 4, "hidden_size": 4}}
                ],
                "seed": 0,
            },
            "layers[0].layer.kind",
            "cannot run in a diagnostics chain",
        ),
        (
            {
                "layers": [
                    {"name": "a", "layer": {"kind": "dense", "in_features": 4, "out_features": 5}},
                    {"name": "b", "layer": {"kind": "dense", "in_features": 6, "out_features": 2}},
                ],
                "seed": 0,
            },
            "layers[1].layer",
            "does not follow",
        ),
        ({"architecture": "t5", "seed": 0}, "architecture", "gpt2, llama"),
        ({"seed": 0}, "mlp", "exactly one"),
        ({**MLP, "widths": [8, 16]} | {"mlp": {"sizes": [4, 4]}}, "mlp.sizes", "hidden layer"),
        (
            {
                "layers": [
                    {"name": "a", "layer": {"kind": "dense", "in_features": 4, "out_features": 4}}
                ],
                "widths": [4, 8],
                "seed": 0,
            },
            "widths",
            "mlp",
        ),
        ({**MLP, "recipe": {"name": "deepnet"}}, "recipe", "residual"),
        ({**MLP, "compare": ["nonsense_scheme"]}, "compare", "nonsense_scheme"),
        (
            {**MLP, "mlp": {"sizes": [4, 4, 4], "activation": ["relu"]}},
            "mlp.activation",
            "one activation per layer",
        ),
        ({**MLP, "mlp": {"sizes": [4, 4], "activation": "swishy"}}, "mlp.activation", "relu"),
    ],
    ids=[
        "lstm",
        "mismatch",
        "architecture",
        "no-model",
        "no-hidden",
        "widths-layers",
        "deepnet",
        "unknown-scheme",
        "activation-count",
        "unknown-activation",
    ],
)
def test_refusals_name_the_field(
    client: ApiClient, body: dict[str, Any], field: str, words: str
) -> None:
    assert_refused(post(client, body), field, words)


def test_cost_is_refused_before_any_work() -> None:
    client = ApiClient(Settings(max_diagnostics_flops=10**6))
    try:
        started = time.perf_counter()
        response = post(client, {"mlp": {"sizes": [4096] * 30}, "batch": 4096, "seed": 0})
        assert response.status_code == 413, response.text
        assert "WEIGHTINIT_MAX_DIAGNOSTICS_FLOPS" in response.json()["detail"]
        assert time.perf_counter() - started < 2
    finally:
        client.close()


def test_memory_is_refused_before_any_work() -> None:
    client = ApiClient(Settings(max_diagnostics_bytes=1 << 20))
    try:
        response = post(client, {"mlp": {"sizes": [512, 512]}, "batch": 4096, "seed": 0})
        assert response.status_code == 413, response.text
        assert "WEIGHTINIT_MAX_DIAGNOSTICS_BYTES" in response.json()["detail"]
    finally:
        client.close()


def test_coordinate_check_reports_every_width_step_and_layer(client: ApiClient) -> None:
    body = {
        "mlp": {"sizes": [8, 16, 16, 4], "activation": "relu"},
        "scheme": "lecun_normal",
        "widths": [16, 32],
        "steps": 2,
        "optimizer": "sgd",
        "learning_rate": 0.1,
        "seed": 3,
        "batch": 16,
    }
    response = post(client, body)
    assert response.status_code == 200, response.text
    check = response.json()["coordinate_check"]
    assert check["optimizer"] == "sgd" and check["steps"] == 2 and check["widths"] == [16, 32]
    keys = {(r["width"], r["step"], r["layer"]) for r in check["rows"]}
    assert keys == {
        (w, s, name) for w in (16, 32) for s in range(3) for name in ("input", "hidden1", "readout")
    }
    assert [m["layers"][1]["role"] for m in check["models"]] == ["mlp_in", "mlp_in"]


def test_mup_coordinate_check_applies_the_recipes_scales(client: ApiClient) -> None:
    body = {
        "mlp": {"sizes": [8, 16, 16, 4], "activation": "relu"},
        "recipe": {"name": "mup", "optimizer": "adam", "readout_zero_init": True},
        "widths": [16, 64],
        "steps": 2,
        "seed": 3,
        "batch": 16,
    }
    response = post(client, body)
    assert response.status_code == 200, response.text
    check = response.json()["coordinate_check"]
    wide = check["models"][1]["recipe"]
    assert wide["width_mult"] == 4.0 and wide["lr_scales"]["hidden1.weight"] == 0.25
    step0 = [r["l1"] for r in check["rows"] if r["step"] == 0 and r["layer"] == "readout"]
    assert step0 == [0.0, 0.0]


def _readout_l1(client: ApiClient, extra: dict[str, Any], step: int) -> list[float]:
    body = {
        "mlp": {"sizes": [32, 64, 64, 10], "activation": "relu"},
        "widths": [64, 256, 1024],
        "steps": 3,
        "optimizer": "adam",
        "learning_rate": 0.003,
        "seed": 3,
        "batch": 64,
        **extra,
    }
    response = post(client, body)
    assert response.status_code == 200, response.text
    rows = response.json()["coordinate_check"]["rows"]
    return [r["l1"] for r in rows if r["step"] == step and r["layer"] == "readout"]


def test_coordinate_check_sp_output_grows_with_width_mup_stays_flat(client: ApiClient) -> None:
    """muP's claim, through the service's own mup recipe: after Adam steps the standard
    parametrisation's output scale grows with width, muP's does not; at step 0 neither does
    (muP's readout starts at exactly zero)."""
    sp = {"scheme": "lecun_normal", "bias_scheme": "zeros"}
    mup = {
        "recipe": {
            "name": "mup",
            "optimizer": "adam",
            "readout_zero_init": True,
            "initializer_range": 0.125,  # 1/sqrt(base width 64)
        }
    }
    sp0, sp3 = _readout_l1(client, sp, 0), _readout_l1(client, sp, 3)
    mup0, mup3 = _readout_l1(client, mup, 0), _readout_l1(client, mup, 3)
    assert max(sp0) / min(sp0) < 1.5
    assert mup0 == [0.0, 0.0, 0.0]
    assert sp3[2] / sp3[0] > 3, sp3
    assert max(mup3) / min(mup3) < 1.5, mup3


def test_activation_param_is_the_named_activations_not_the_readouts(client: ApiClient) -> None:
    body = {
        "mlp": {"sizes": [8, 8, 8], "activation": "leaky_relu", "activation_param": 0.2},
        "seed": 0,
    }
    response = post(client, body)
    assert response.status_code == 200, response.text
    body["mlp"]["activation"] = "relu"
    problem = post(client, body).json()
    assert problem["errors"][0]["field"] == "mlp.activation_param"
    assert "relu" in problem["detail"] and "linear" not in problem["detail"]


def test_input_shape_that_does_not_fit_the_first_layer_names_input_shape(
    client: ApiClient,
) -> None:
    layer = {
        "name": "c",
        "layer": {"kind": "conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3},
    }
    problem = post(client, {"layers": [layer], "input_shape": [3, 8], "seed": 0}).json()
    assert problem["errors"][0]["field"] == "input_shape"
    assert "input_shape [3, 8]" in problem["detail"]


@pytest.mark.parametrize("algorithm", ["jax-threefry", "numpy-legacy", "torch-cpu"])
def test_every_algorithm_runs_the_weights_v1_models_returns(
    client: ApiClient, algorithm: str
) -> None:
    layout = "jax" if algorithm == "jax-threefry" else "torch"
    fields = {"seed": 5, "algorithm": algorithm, "layout": layout}
    layers = [{"name": "d", "layer": {"kind": "dense", "in_features": 8, "out_features": 16}}]
    run = post(client, {**fields, "layers": layers, "batch": 4}).json()["runs"][0]
    models = client.post(
        "/v1/models", params={"format": "json"}, json={**fields, "layers": layers}
    ).json()
    assert run["tensors"] == [{"name": t["name"], "sha256": t["sha256"]} for t in models["tensors"]]


def test_a_wide_dense_chain_is_not_charged_for_conv_unfolding(client: ApiClient) -> None:
    response = post(client, {"mlp": {"sizes": [1024, 1024, 10]}, "seed": 0})
    assert response.status_code == 200, response.text
    assert response.json()["cost"]["bytes"] < 64 << 20


def test_conv_geometry_in_the_layer_under_framework_names_is_run_and_echoed(
    client: ApiClient,
) -> None:
    conv = {"kind": "conv1d", "in_channels": 4, "out_channels": 8, "kernel_size": 5}
    torch_body = {
        "seed": 2,
        "batch": 4,
        "input_shape": [4, 50],
        "layers": [
            {"name": "c", "layer": {**conv, "stride": 2}},
            {"name": "fc", "layer": {"kind": "dense", "in_features": 8 * 23, "out_features": 3}},
        ],
    }
    response = post(client, torch_body)
    assert response.status_code == 200, response.text
    echoed = response.json()["model"]["layers"][0]
    assert (echoed["stride"], echoed["padding"], echoed["dilation"]) == ([2], [0], [1])
    keras = {**conv, "filters": 8, "strides": 1, "padding": "same"}
    del keras["out_channels"]
    keras_body = {
        "seed": 2,
        "batch": 4,
        "input_shape": [4, 50],
        "layout": "keras",
        "layers": [{"name": "c", "layer": keras}],
    }
    response = post(client, keras_body)
    assert response.status_code == 200, response.text
    assert response.json()["model"]["layers"][0]["padding"] == [2]
    twice = {**torch_body, "layers": [{**torch_body["layers"][0], "stride": 1}]}
    problem = post(client, twice).json()
    assert problem["errors"][0]["field"] == "layers[0].stride" and "twice" in problem["detail"]


def test_a_constant_init_is_predicted_from_its_second_moment(client: ApiClient) -> None:
    body = {
        "mlp": {"sizes": [64, 64, 64], "activation": "tanh"},
        "batch": 64,
        "seed": 3,
        "scheme": {"name": "constant", "value": 0.01},
    }
    layer = post(client, body).json()["runs"][0]["layers"][0]
    predicted = layer["predicted"]
    assert predicted["preactivation_std"] > 0
    ratio = layer["activation_squared_mean"] / predicted["activation_squared_mean"]
    assert abs(math.log(ratio)) <= predicted["tolerance"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"optimizer": "sgd"}, "optimizer"), ({"steps": 4}, "steps"), ({"widths": [8, 8]}, "widths")],
)
def test_coordinate_check_fields_are_not_ignored(
    client: ApiClient, extra: dict[str, Any], field: str
) -> None:
    response = post(client, {"mlp": {"sizes": [4, 4, 4]}, "seed": 0, **extra})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_compare_errors_name_the_entry_and_unknown_fields_list_diagnostics_fields(
    client: ApiClient,
) -> None:
    body = {"mlp": {"sizes": [4, 4]}, "seed": 0, "compare": [{"name": "random", "std": 0.01}]}
    assert post(client, body).json()["errors"][0]["field"] == "compare[0].std"
    problem = post(client, {"mlp": {"sizes": [4, 4]}, "seed": 0, "bogus": 1}).json()
    assert "compare" in problem["detail"] and "widths" in problem["detail"]
    null = post(client, {"mlp": {"sizes": [4, 4]}, "seed": 0, "compare": ["zeros", None]})
    assert null.status_code == 422 and null.json()["errors"][0]["field"] == "compare[1]"
    missing = post(client, {"mlp": {"sizes": [4, 4]}}).json()
    assert missing["detail"].startswith("seed is required")


def test_activation_errors_suggest_the_name_and_a_list_shares_its_param(
    client: ApiClient,
) -> None:
    swish = post(client, {"mlp": {"sizes": [4, 4], "activation": "swish"}, "seed": 0}).json()
    assert "Did you mean 'silu'?" in swish["detail"]
    body = {
        "mlp": {
            "sizes": [4, 4, 4, 4],
            "activation": ["leaky_relu", "elu", "linear"],
            "activation_param": 0.3,
        },
        "seed": 0,
    }
    model = post(client, body).json()["model"]["mlp"]
    assert model["activation_param"] == [0.3, 0.3, None]
