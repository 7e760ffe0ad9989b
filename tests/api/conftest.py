"""Shared helpers for the HTTP API tests: an in-process client, the core's expected arrays.

Requests go through ``httpx.AsyncClient`` over ``httpx.ASGITransport`` (starlette's
``TestClient`` is deprecated in the pinned version), driven from synchronous tests by one
``asyncio.Runner`` per client, so every request of a client shares one event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import ml_dtypes
import numpy as np
import pytest
from numpy.typing import NDArray

from app.api.settings import Settings
from app.core.initialize import initialize_layer
from app.main import create_app

PROBLEM_JSON = "application/problem+json"


class ApiClient:
    """A synchronous facade over an ``httpx.AsyncClient`` bound to an in-process ASGI app."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.app = create_app(settings if settings is not None else Settings())
        self._runner = asyncio.Runner()
        # raise_app_exceptions=False: an unhandled error must show up as the 500 a real
        # client would see (and fail the "never a 500" assertions), not as a test crash.
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://test")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        return self._client.build_request(method, url, **kwargs)

    def send(self, request: httpx.Request) -> httpx.Response:
        return self._runner.run(self._client.send(request))

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()


@pytest.fixture(scope="module")
def client() -> Iterator[ApiClient]:
    """An app with the default limits."""
    api = ApiClient()
    yield api
    api.close()


# ---- expected values ---------------------------------------------------------------------------


def sha256_le(array: NDArray[Any]) -> str:
    """sha256 of the little-endian C-order bytes of ``array``."""
    little = np.ascontiguousarray(array)
    if little.dtype.byteorder == ">":
        little = little.astype(little.dtype.newbyteorder("<"))
    return hashlib.sha256(little.tobytes()).hexdigest()


def expected_layer(
    layer: Mapping[str, Any],
    *,
    seed: int,
    scheme: Any = None,
    bias_scheme: Any = None,
    dtype: str = "float32",
    layout: str = "torch",
    algorithm: str = "blocks-v1",
    prefix: str = "",
) -> dict[str, NDArray[Any]]:
    """The core's arrays for one layer, computed in-process (the reference for every format)."""
    fields = {k: v for k, v in layer.items() if k != "kind"}
    return initialize_layer(
        str(layer["kind"]),
        fields,
        seed=seed,
        scheme=scheme,
        bias_scheme=bias_scheme,
        layout=layout,
        dtype=dtype,
        algorithm=algorithm,
        prefix=prefix,
    )


def assert_same_array(actual: NDArray[Any], expected: NDArray[Any], what: str = "") -> None:
    """Byte-for-byte equality, plus dtype and shape (bytes alone would miss a reshape)."""
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.ascontiguousarray(actual).tobytes() == np.ascontiguousarray(expected).tobytes(), (
        f"{what}: bytes differ"
    )


def load_npy(content: bytes) -> NDArray[Any]:
    array: NDArray[Any] = np.load(io.BytesIO(content), allow_pickle=False)
    return array


def load_npz(content: bytes) -> dict[str, NDArray[Any]]:
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


_SAFETENSORS_DTYPES: dict[str, Any] = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "I64": np.int64,
}


def load_safetensors(content: bytes) -> dict[str, NDArray[Any]]:
    """Read with the safetensors package.

    ``safetensors.numpy.load`` has no bfloat16 (numpy has none), so the tensors come from the
    package's own parser, ``safetensors.deserialize``, viewed with ml_dtypes' bfloat16; for the
    other dtypes the result is cross-checked against ``safetensors.numpy.load``.
    """
    import safetensors
    from safetensors.numpy import load

    out: dict[str, NDArray[Any]] = {}
    for name, view in safetensors.deserialize(content):
        dtype = np.dtype(_SAFETENSORS_DTYPES[view["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(bytes(view["data"]), dtype=dtype).reshape(view["shape"])
    if all(view_dtype != "BF16" for view_dtype in _safetensors_dtypes(content)):
        by_numpy = load(content)
        assert sorted(by_numpy) == sorted(out)
        for name, array in by_numpy.items():
            assert_same_array(array, out[name], name)
    return out


def safetensors_header(content: bytes) -> dict[str, Any]:
    """The JSON header of a safetensors file (8-byte little-endian length, then JSON)."""
    size = int.from_bytes(content[:8], "little")
    header: dict[str, Any] = json.loads(content[8 : 8 + size])
    return header


def _safetensors_dtypes(content: bytes) -> list[str]:
    header = safetensors_header(content)
    return [str(v["dtype"]) for k, v in header.items() if k != "__metadata__"]


def sha_header(response: httpx.Response) -> dict[str, str]:
    """``X-Weightinit-Sha256: name=digest,name=digest`` as a dict."""
    raw = response.headers["x-weightinit-sha256"]
    pairs = [item.strip().split("=", 1) for item in raw.split(",") if item.strip()]
    return {name: digest for name, digest in pairs}


def problem(response: httpx.Response) -> dict[str, Any]:
    """The problem+json body of an error response, after checking its RFC 9457 shape."""
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON, (
        response.status_code,
        response.headers.get("content-type"),
        response.text[:500],
    )
    body: dict[str, Any] = json.loads(response.content)
    for key in ("type", "title", "status", "detail"):
        assert key in body, f"problem+json without {key!r}: {body}"
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["status"] == response.status_code
    return body


def assert_refused(response: httpx.Response, field: str, words: str) -> None:
    """A 422 problem+json whose errors name ``field`` (or a field under it) and say ``words``."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    fields = [e["field"] for e in problem.get("errors", [])] or [problem.get("field")]
    assert any(f is not None and f.startswith(field) for f in fields), problem
    messages = [problem["detail"], *(e["message"] for e in problem.get("errors", []))]
    assert any(words in m for m in messages), problem
