"""jax-threefry through the HTTP API, without JAX: the committed JAX/Flax fixtures
(tests/fixtures/jax, written by tools/framework_fixtures_jax.py), exactness fields, ranges,
slices and shards, and the refusals."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import ApiClient, load_npy, load_npz, problem

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jax"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())
CASES = [(f, name) for f in MANIFEST["fixtures"] for name in f["tensors"]]


def _ulps(a: np.ndarray, b: np.ndarray) -> int:
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(1 << 31) - ia, ia)
    ib = np.where(ib < 0, -(1 << 31) - ib, ib)
    return int(np.abs(ia - ib).max())


def _body(fixture: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**fixture["request"], "algorithm": "jax-threefry", **extra}


def test_manifest_names_the_versions_it_was_made_with() -> None:
    assert MANIFEST["versions"] == {"jax": "0.10.2", "jaxlib": "0.10.2", "flax": "0.12.8"}
    assert MANIFEST["flags"] == {"jax_threefry_partitionable": True, "jax_enable_x64": False}
    assert {f["id"] for f in MANIFEST["fixtures"]} >= {
        "random_uniform",
        "random_normal",
        "glorot_uniform",
        "he_uniform",
        "lecun_normal",
        "truncated_normal",
        "flax_dense",
        "flax_conv",
        "flax_embed",
        "flax_lstm_cell",
    }
    assert len({f["seed"] for f in MANIFEST["fixtures"]}) == 2


@pytest.fixture(scope="module")
def served(client: ApiClient) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    out = {}
    for fixture in MANIFEST["fixtures"]:
        r = client.post("/v1/weights", json=_body(fixture), params={"format": "npz"})
        assert r.status_code == 200, r.text
        out[(fixture["id"], fixture["seed"])] = load_npz(r.content)
    return out


@pytest.mark.parametrize(
    ("fixture", "name"), CASES, ids=[f"{f['id']}-s{f['seed']}-{n}" for f, n in CASES]
)
def test_fixture_equals_the_service(
    served: dict[tuple[str, int], dict[str, np.ndarray]], fixture: dict[str, Any], name: str
) -> None:
    entry = fixture["tensors"][name]
    expected = np.load(FIXTURES / entry["file"], allow_pickle=False)
    assert hashlib.sha256(expected.tobytes()).hexdigest() == entry["sha256"]
    ours = served[(fixture["id"], fixture["seed"])][name]
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    if entry["exactness"] == "exact":
        assert hashlib.sha256(ours.tobytes()).hexdigest() == entry["sha256"]
    else:
        assert _ulps(ours, expected) <= entry["max_ulp"]


def test_json_states_each_tensors_exactness(client: ApiClient) -> None:
    fixture = next(f for f in MANIFEST["fixtures"] if f["id"] == "flax_lstm_cell")
    r = client.post("/v1/weights", json=_body(fixture), params={"format": "json"})
    assert r.status_code == 200, r.text
    for tensor in r.json()["tensors"]:
        entry = fixture["tensors"][tensor["name"]]
        assert tensor["exactness"] == entry["exactness"]
        if entry["exactness"] == "approximate":  # the service's bound covers the fixture's
            assert tensor["max_ulp"] >= entry["max_ulp"]
        else:
            assert "max_ulp" not in tensor


def test_digests_and_npy_header_carry_exactness(client: ApiClient) -> None:
    fixture = next(f for f in MANIFEST["fixtures"] if f["id"] == "glorot_uniform")
    r = client.post("/v1/weights/digests", json=_body(fixture))
    assert r.status_code == 200, r.text
    (tensor,) = r.json()["tensors"]
    assert tensor["exactness"] == "exact"
    assert tensor["sha256"] == fixture["tensors"]["weight"]["sha256"]
    r = client.post("/v1/weights", json=_body(fixture), params={"format": "npy"})
    assert r.headers["X-Weightinit-Exactness"] == "exact"
    assert hashlib.sha256(load_npy(r.content).tobytes()).hexdigest() == tensor["sha256"]


def test_blocks_v1_responses_have_no_exactness(client: ApiClient) -> None:
    body = {"seed": 1, "layer": {"kind": "dense", "in_features": 3, "out_features": 2}}
    r = client.post("/v1/weights", json=body, params={"format": "json"})
    assert all("exactness" not in t for t in r.json()["tensors"])
    r = client.post("/v1/weights", json=body, params={"format": "npy", "tensor": "weight"})
    assert "X-Weightinit-Exactness" not in r.headers


# ---- ranges, slices and shards: element i from (key, i) -------------------------------------

BIG = {  # 90 000 elements: two 65 536-element blocks, and a normal law (erf_inv path)
    "seed": 7,
    "algorithm": "jax-threefry",
    "layout": "jax",
    "layer": {"kind": "tensor", "shape": [300, 300]},
    "scheme": "jax.lecun_normal",
}


@pytest.fixture(scope="module")
def whole(client: ApiClient) -> np.ndarray:
    r = client.post("/v1/weights", json=BIG, params={"format": "npy"})
    assert r.status_code == 200, r.text
    return load_npy(r.content)


def test_slices_stitched_equal_the_whole(client: ApiClient, whole: np.ndarray) -> None:
    parts = []
    for rows in ("0:1", "1:218", "218:300"):
        r = client.post("/v1/weights", json={**BIG, "slice": f"{rows},:"}, params={"format": "npy"})
        assert r.status_code == 200, r.text
        parts.append(load_npy(r.content))
    assert np.array_equal(np.concatenate(parts), whole)
    r = client.post("/v1/weights", json={**BIG, "slice": "5:250,17:280"}, params={"format": "npy"})
    assert r.status_code == 200, r.text
    assert np.array_equal(load_npy(r.content), whole[5:250, 17:280])


def test_shards_stitched_equal_the_whole(client: ApiClient, whole: np.ndarray) -> None:
    for dim in (0, 1):
        parts = []
        for index in range(3):
            shard = {"dim": dim, "index": index, "count": 3}
            r = client.post("/v1/weights", json={**BIG, "shard": shard}, params={"format": "npy"})
            assert r.status_code == 200, r.text
            parts.append(load_npy(r.content))
        assert np.array_equal(np.concatenate(parts, axis=dim), whole)


def test_get_shortcut_byte_ranges_stitched_equal_the_whole(
    client: ApiClient, whole: np.ndarray
) -> None:
    url = "/v1/weights/jax.lecun_normal"
    query = {"shape": "300,300", "seed": "7", "layout": "jax", "algorithm": "jax-threefry"}
    full = client.get(url, params={**query, "format": "npy"})
    assert full.status_code == 200, full.text
    assert np.array_equal(load_npy(full.content), whole)
    cuts = [0, 1000, 262_000, len(full.content)]
    pieces = [
        client.get(url, params={**query, "format": "npy"}, headers={"Range": f"bytes={a}-{b - 1}"})
        for a, b in itertools.pairwise(cuts)
    ]
    assert all(p.status_code == 206 for p in pieces)
    assert b"".join(p.content for p in pieces) == full.content


def test_a_model_names_layers_like_a_flax_parent_module(client: ApiClient) -> None:
    """Layer 'fc' of a model: key fold_in(root, sha1('fc', 1)), unlike the lone Dense's."""
    layer = {"kind": "dense", "in_features": 20, "out_features": 30}
    alone = client.post(
        "/v1/weights",
        json={"seed": 0, "algorithm": "jax-threefry", "layout": "jax", "layer": layer},
        params={"format": "npz"},
    )
    model = client.post(
        "/v1/models",
        json={
            "seed": 0,
            "algorithm": "jax-threefry",
            "layout": "jax",
            "layers": [{"name": "fc", "layer": layer}],
        },
        params={"format": "npz"},
    )
    assert model.status_code == 200, model.text
    assert not np.array_equal(
        load_npz(model.content)["fc.kernel"], load_npz(alone.content)["kernel"]
    )


def test_a_flax_shape_map_gets_the_keys_of_its_paths_in_any_order(client: ApiClient) -> None:
    """A shape map's ``Block_0/Dense_0/kernel`` is module ("Block_0", "Dense_0"), counter 1,
    as the layer ``Block_0/Dense_0`` gives it; a sorted map (bias first), a leading ``params``
    collection and ``batch_stats`` entries change no key (tests/frameworks: live Flax)."""

    def served(**body: Any) -> dict[str, np.ndarray]:
        body = {"seed": 11, "algorithm": "jax-threefry", "layout": "jax", **body}
        r = client.post("/v1/models", json=body, params={"format": "npz"})
        assert r.status_code == 200, r.text
        return load_npz(r.content)

    dense = {"kind": "dense", "in_features": 3, "out_features": 4}
    layers = served(layers=[{"name": "Block_0/Dense_0", "layer": dense},
                            {"name": "Dense_0", "layer": dense}])  # fmt: skip
    creation = {"Block_0/Dense_0/kernel": [3, 4], "Block_0/Dense_0/bias": [4],
                "BatchNorm_0/scale": [4], "BatchNorm_0/bias": [4],
                "Dense_0/kernel": [3, 4], "Dense_0/bias": [4]}  # fmt: skip
    in_order = served(tensors=creation)
    everything = {f"params/{k}": v for k, v in creation.items()}
    everything |= {"batch_stats/BatchNorm_0/mean": [4], "batch_stats/BatchNorm_0/var": [4]}
    collections_sorted = served(tensors=dict(sorted(everything.items())))
    for path in ("Block_0/Dense_0", "Dense_0"):
        kernel = layers[f"{path}.kernel"]
        assert np.array_equal(in_order[f"{path}/kernel"], kernel)
        assert np.array_equal(collections_sorted[f"params/{path}/kernel"], kernel)
    assert not np.array_equal(layers["Block_0/Dense_0.kernel"], layers["Dense_0.kernel"])
    assert (collections_sorted["batch_stats/BatchNorm_0/var"] == 1).all()


# ---- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seed": 1 << 63}, "seed"),
        ({"dtype": "float64"}, "dtype"),
        (
            {"layout": "torch", "layer": {"kind": "dense", "in_features": 2, "out_features": 2}},
            "algorithm",
        ),
        ({"scheme": "glorot_uniform"}, "algorithm"),
        ({"scheme": {"name": "jax.truncated_normal", "lower": -1.5}}, "scheme"),
    ],
)
def test_what_jax_cannot_produce_is_a_422_naming_the_field(
    client: ApiClient, change: dict[str, Any], field: str
) -> None:
    r = client.post("/v1/weights", json={**BIG, **change}, params={"format": "npz"})
    assert r.status_code == 422, r.text
    assert field in json.dumps(problem(r))


@pytest.mark.parametrize("layout", ["torch", "keras"])
def test_another_layouts_default_points_at_the_jax_layout(client: ApiClient, layout: str) -> None:
    layer = {"kind": "dense", "in_features": 2, "out_features": 2}
    body = {"seed": 0, "algorithm": "jax-threefry", "layout": layout, "layer": layer}
    detail = problem(client.post("/v1/weights", json=body))["detail"]
    assert f"{layout}.default" in detail
    assert "ask for layout 'jax'" in detail
