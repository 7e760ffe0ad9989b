"""End to end over a real socket: a uvicorn process on 127.0.0.1, started and stopped here.

The same bytes as the in-process core for every format, ETag/304, problem+json errors and
request ids, all through the real HTTP stack (uvicorn's parser, framing, headers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import serve

from .conftest import (
    assert_same_array,
    expected_layer,
    load_npy,
    load_npz,
    load_safetensors,
    problem,
    sha256_le,
    sha_header,
)
from .test_formats import decode_json_tensor

ROOT = Path(__file__).resolve().parents[2]

CONV = {"kind": "conv1d", "in_channels": 3, "out_channels": 4, "kernel_size": 5}
BODY: dict[str, Any] = {"layer": CONV, "scheme": "he_uniform", "seed": 2024, "dtype": "float32"}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A uvicorn process serving app.main:app; its URL. Always terminated in teardown."""
    with serve() as url:
        yield url


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30.0) as client:
        yield client


def _ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code == 200, (response.status_code, response.text[:1000])
    return response


EXPECTED = expected_layer(CONV, seed=2024, scheme="he_uniform")


def test_live_json_parses_back_to_the_cores_bytes(http: httpx.Client) -> None:
    for params in ({}, {"json_layout": "nested"}, {"encoding": "base64"}):
        response = _ok(http.post("/v1/weights", json=BODY, params=params))
        assert response.headers["content-type"].startswith("application/json")
        for tensor in response.json()["tensors"]:
            array = decode_json_tensor(tensor, nested=params.get("json_layout") == "nested")
            assert_same_array(array, EXPECTED[tensor["name"]], tensor["name"])
            assert tensor["sha256"] == sha256_le(EXPECTED[tensor["name"]])


@pytest.mark.parametrize(
    ("path", "params", "media"),
    [
        ("/v1/weights", {"format": "npy", "tensor": "weight"}, "application/x-npy"),
        ("/v1/weights", {"format": "npz"}, "application/x-npz"),
        ("/v1/weights", {"format": "safetensors"}, "application/vnd.safetensors"),
        ("/v1/weights.npy", {"tensor": "weight"}, "application/octet-stream"),
        ("/v1/weights.npz", {}, "application/octet-stream"),
        ("/v1/weights.safetensors", {}, "application/octet-stream"),
    ],
)
def test_live_binary_formats_give_the_cores_bytes(
    http: httpx.Client, path: str, params: dict[str, str], media: str
) -> None:
    response = _ok(http.post(path, json=BODY, params=params))
    assert response.headers["content-type"] == media
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    kind = path.rsplit(".", 1)[-1] if "." in path else params["format"]
    if kind == "npy":
        arrays = {"weight": load_npy(response.content)}
    elif kind == "npz":
        arrays = load_npz(response.content)
    else:
        arrays = load_safetensors(response.content)
    expected = {"weight": EXPECTED["weight"]} if kind == "npy" else EXPECTED
    assert sorted(arrays) == sorted(expected)
    for name, array in arrays.items():
        assert_same_array(array, expected[name], name)
    assert sha_header(response) == {n: sha256_le(a) for n, a in expected.items()}
    assert int(response.headers["content-length"]) == len(response.content)


def test_live_models_safetensors_give_the_cores_bytes(http: httpx.Client) -> None:
    body = {"seed": 8, "dtype": "bfloat16", "layers": [{"name": "enc", "layer": CONV}]}
    response = _ok(http.post("/v1/models.safetensors", json=body))
    expected = expected_layer(CONV, seed=8, dtype="bfloat16", prefix="enc.")
    arrays = load_safetensors(response.content)
    assert sorted(arrays) == sorted(expected)
    for name, array in arrays.items():
        assert_same_array(array, expected[name], name)


def test_live_etag_and_304(http: httpx.Client) -> None:
    url = "/v1/weights/orthogonal?shape=6,6&seed=4&format=npy"
    first = _ok(http.get(url))
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    cached = http.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert _ok(http.get(url, headers={"If-None-Match": '"stale"'})).content == first.content
    expected = expected_layer({"kind": "tensor", "shape": [6, 6]}, seed=4, scheme="orthogonal")
    assert_same_array(load_npy(first.content), expected["weight"], "weight")


def test_live_problem_json_errors(http: httpx.Client) -> None:
    unknown = http.post("/v1/weights", json={**BODY, "scheme": "he_unifrom"})
    assert unknown.status_code == 422
    body = problem(unknown)
    assert "scheme" in [e["field"] for e in body["errors"]]
    assert "he_uniform" in json.dumps(body)
    assert http.get("/nowhere").status_code == 404
    problem(http.get("/nowhere"))
    wrong_type = http.post("/v1/weights", content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    problem(wrong_type)
    malformed = http.post(
        "/v1/weights", content=b'{"seed": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    problem(malformed)
    assert http.get("/healthz").status_code == 200


def test_live_oversized_body_is_refused_with_413(server: str) -> None:
    big = b'{"seed": 1, "pad": "' + b"x" * (1 << 20) + b'"}'
    with httpx.Client(base_url=server, timeout=30.0) as client:
        response = client.post(
            "/v1/weights", content=big, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    body = problem(response)
    assert body["limit"] == "WEIGHTINIT_MAX_BODY_BYTES"
    assert body["value"] == 1 << 20


def test_live_request_ids_are_echoed(http: httpx.Client) -> None:
    response = _ok(http.get("/healthz", headers={"X-Request-ID": "live-42"}))
    assert response.headers["x-request-id"] == "live-42"
    failed = http.post(
        "/v1/weights", json={**BODY, "seed": -1}, headers={"X-Request-ID": "live-43"}
    )
    assert failed.status_code == 422
    assert failed.headers["x-request-id"] == "live-43"
    assert problem(failed).get("request_id") == "live-43"
    generated = _ok(http.get("/healthz"))
    assert generated.headers.get("x-request-id")
