"""Role-aware defaults over HTTP: every tensor states its role and resolved scheme, request-wide
schemes skip norms, ``role_schemes`` and per-layer fields override, the mlp shorthand's biases
start at zero and follow ``layout``, and the ETag covers what the defaults resolved to."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.api.settings import Settings
from app.jobs.job import Selection, model_job
from app.jobs.requests import ModelRequest

from .conftest import ApiClient, problem


def _tensors(client: ApiClient, body: dict[str, Any], path: str = "/v1/models") -> dict[str, Any]:
    response = client.post(path, params={"format": "json"}, json=body)
    assert response.status_code == 200, response.text[:400]
    return {t["name"]: t for t in response.json()["tensors"]}


def test_the_mlp_shorthands_biases_default_to_zeros_and_say_so(client: ApiClient) -> None:
    tensors = _tensors(client, {"mlp": {"sizes": [4, 3, 2]}, "scheme": "he_normal", "seed": 1})
    for name in ("b1", "b2"):
        assert tensors[name]["role"] == "bias"
        assert tensors[name]["scheme"] == {"name": "zeros"}
        assert set(tensors[name]["data"]) == {0.0}
    assert tensors["W1"]["role"] == "weight"
    assert tensors["W1"]["scheme"]["name"] == "he_normal"


def test_an_explicit_bias_scheme_still_wins_over_the_mlp_default(client: ApiClient) -> None:
    body = {"mlp": {"sizes": [4, 3]}, "bias_scheme": "ones", "seed": 1}
    assert set(_tensors(client, body)["b1"]["data"]) == {1.0}
    body = {"mlp": {"sizes": [4, 3]}, "role_schemes": {"bias": "ones"}, "seed": 1}
    assert set(_tensors(client, body)["b1"]["data"]) == {1.0}


@pytest.mark.parametrize(
    ("layout", "kernel", "bias", "default"),
    [
        ("torch", [3, 4], [3, 1], "torch.default"),
        ("keras", [4, 3], [3], "keras.default"),
        ("jax", [4, 3], [3], "flax.default"),
    ],
)
def test_the_mlp_shorthand_honours_the_layout(
    client: ApiClient, layout: str, kernel: list[int], bias: list[int], default: str
) -> None:
    tensors = _tensors(client, {"mlp": {"sizes": [4, 3]}, "layout": layout, "seed": 2})
    assert tensors["W1"]["shape"] == kernel
    assert tensors["b1"]["shape"] == bias
    assert tensors["W1"]["scheme"] == {"name": default}


def test_a_model_wide_fan_scheme_with_a_batch_norm_keeps_the_norm_at_one_and_zero(
    client: ApiClient,
) -> None:
    body = {
        "layers": [
            {"name": "fc", "layer": {"kind": "dense", "in_features": 4, "out_features": 3}},
            {"name": "bn", "layer": {"kind": "batch_norm", "num_features": 3}},
        ],
        "scheme": "he_normal",
        "seed": 3,
    }
    tensors = _tensors(client, body)
    assert (tensors["bn.weight"]["role"], set(tensors["bn.weight"]["data"])) == (
        "norm_scale",
        {1.0},
    )
    assert (tensors["bn.bias"]["role"], set(tensors["bn.bias"]["data"])) == ("norm_shift", {0.0})
    assert tensors["bn.running_var"]["role"] == "running_stat"
    assert tensors["bn.num_batches_tracked"]["role"] == "counter"
    assert tensors["fc.weight"]["scheme"]["name"] == "he_normal"


def test_role_schemes_and_a_layer_role_reach_a_readout_head(client: ApiClient) -> None:
    body = {
        "layers": [
            {"name": "fc", "layer": {"kind": "dense", "in_features": 4, "out_features": 3}},
            {
                "name": "head",
                "role": "readout",
                "layer": {"kind": "dense", "in_features": 3, "out_features": 2},
            },
            {
                "name": "norm",
                "layer": {"kind": "layer_norm", "normalized_shape": 2},
                "role_schemes": {"norm_scale": "zeros"},
            },
        ],
        "scheme": "he_normal",
        "role_schemes": {"readout": "zeros", "bias": "ones"},
        "seed": 4,
    }
    tensors = _tensors(client, body)
    assert tensors["head.weight"]["role"] == "readout"
    assert set(tensors["head.weight"]["data"]) == {0.0}
    assert set(tensors["fc.bias"]["data"]) == {1.0}
    assert set(tensors["norm.weight"]["data"]) == {0.0}
    assert set(tensors["norm.bias"]["data"]) == {0.0}  # a norm's shift is not a bias
    assert tensors["fc.weight"]["scheme"]["name"] == "he_normal"


def test_weights_take_role_schemes_too(client: ApiClient) -> None:
    body = {
        "layer": {"kind": "embedding", "num_embeddings": 5, "embedding_dim": 2},
        "role_schemes": {"embedding": "ones"},
        "seed": 0,
    }
    (table,) = _tensors(client, body, "/v1/weights").values()
    assert (table["role"], set(table["data"])) == ("embedding", {1.0})


@pytest.mark.parametrize(
    ("roles", "field", "words"),
    [
        ({"running_stat": "ones"}, "role_schemes", "running_stat"),
        ({"redout": "ones"}, "role_schemes", "readout"),
    ],
)
def test_a_role_that_cannot_be_named_is_a_422_naming_it(
    client: ApiClient, roles: dict[str, str], field: str, words: str
) -> None:
    body = {"mlp": {"sizes": [2, 2]}, "role_schemes": roles, "seed": 0}
    response = client.post("/v1/models", json=body)
    assert response.status_code == 422
    found = problem(response)
    assert any(e["field"].startswith(field) for e in found["errors"]), found
    assert words in found["detail"], found["detail"]


def test_digests_state_each_tensors_role_and_scheme(client: ApiClient) -> None:
    body = {"mlp": {"sizes": [3, 2]}, "seed": 0}
    response = client.post("/v1/models/digests", json=body)
    assert response.status_code == 200, response.text[:300]
    tensors = {t["name"]: t for t in response.json()["tensors"]}
    assert (tensors["b1"]["role"], tensors["b1"]["scheme"]) == ("bias", {"name": "zeros"})


def test_the_etag_covers_the_resolved_schemes_not_only_the_request() -> None:
    request = ModelRequest.model_validate({"mlp": {"sizes": [3, 2]}, "seed": 0})
    job = model_job(request, Settings(), Selection("json"))
    changed_default = [
        plan.__class__(**{**plan.__dict__, "scheme": {"name": "ones"}}) for plan in job.plans
    ]
    other = job.__class__(**{**job.__dict__, "plans": changed_default})
    assert other.canonical == job.canonical
    assert other.etag() != job.etag()


def test_the_readmes_roles_example_is_accepted_and_does_what_it_says(client: ApiClient) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", readme, re.S)
    (example,) = [json.loads(b) for b in blocks if "role_schemes" in b]
    tensors = _tensors(client, example)
    assert set(tensors["head.weight"]["data"]) == {0.0}
    assert tensors["head.weight"]["role"] == "readout"
    assert set(tensors["bn.weight"]["data"]) == {1.0}
    assert tensors["body.weight"]["scheme"]["name"] == "he_normal"


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors"])
def test_a_binary_body_of_one_tensor_states_its_role_and_scheme_in_headers(
    client: ApiClient, fmt: str
) -> None:
    body = {"layer": {"kind": "tensor", "shape": [3, 2]}, "scheme": "he_normal", "seed": 0}
    response = client.post("/v1/weights", params={"format": fmt}, json=body)
    assert response.status_code == 200
    assert response.headers["x-weightinit-role"] == "weight"
    scheme = json.loads(response.headers["x-weightinit-scheme"])
    assert scheme["name"] == "he_normal"


@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
@pytest.mark.parametrize("size", [1 << 10, 1 << 22])  # built whole, and streamed (16 MiB)
def test_a_binary_body_of_several_tensors_states_every_role_and_scheme_in_a_header(
    client: ApiClient, fmt: str, size: int
) -> None:
    body = {
        "layers": [
            {
                "name": "body",
                "layer": {"kind": "dense", "in_features": size // 8, "out_features": 8},
            },
            {"name": "bn", "layer": {"kind": "batch_norm", "num_features": 8}},
            {
                "name": "head",
                "layer": {"kind": "dense", "in_features": 8, "out_features": 2},
                "role": "readout",
                "scheme": "zeros",
            },
        ],
        "scheme": "he_normal",
        "seed": 3,
    }
    response = client.post("/v1/models", params={"format": fmt}, json=body)
    assert response.status_code == 200
    manifest = json.loads(response.headers["x-weightinit-tensors"])
    if size < 1 << 12:  # small enough to compare with the JSON response
        expected = {name: [t["role"], t["scheme"]] for name, t in _tensors(client, body).items()}
        assert manifest == expected
    assert list(manifest)[:2] == ["body.weight", "body.bias"]
    assert manifest["head.weight"] == ["readout", {"name": "zeros"}]
    assert manifest["bn.running_mean"][0] == "running_stat"


def test_a_manifest_too_long_for_a_header_is_left_to_the_digests(client: ApiClient) -> None:
    layers = [
        {"name": f"block{i}.proj", "layer": {"kind": "dense", "in_features": 2, "out_features": 2}}
        for i in range(200)
    ]
    body = {"layers": layers, "seed": 1}
    response = client.post("/v1/models", params={"format": "safetensors"}, json=body)
    assert response.status_code == 200
    assert "x-weightinit-tensors" not in response.headers
    digests = client.post("/v1/models/digests", json=body).json()
    assert len(digests["tensors"]) == 400
    assert {t["role"] for t in digests["tensors"]} == {"weight", "bias"}
