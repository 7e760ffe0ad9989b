"""The arrays the Python SDK returns: writable, each with memory of its own, in every format.

The parsers get the service's own bytes (``app.encoders``); safetensors is cross-checked
against the safetensors package's parser, which the client does not depend on.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from numpy.typing import NDArray
from weightinit_client import AsyncClient, Client, parse
from weightinit_client._core import parse_safetensors

from app.encoders import encode_npy, encode_npz, encode_safetensors
from tests.api.conftest import assert_same_array, expected_layer, load_safetensors

RNG = np.random.default_rng(2024)
ARRAYS: dict[str, NDArray[Any]] = {
    "conv.weight": RNG.standard_normal((4, 2, 3)).astype(np.float32),
    "conv.bias": RNG.standard_normal(4).astype(np.float64),
    "half": RNG.standard_normal((3, 3)).astype(np.float16),
    "ids": np.arange(5, dtype=np.int64),
    "empty": np.zeros((0, 3), np.float32),
    "scalar": np.array(1.5, np.float32),
}
BF16 = {"bf": RNG.standard_normal((2, 5)).astype(ml_dtypes.bfloat16)}
CONV = {"kind": "conv1d", "in_channels": 2, "out_channels": 4, "kernel_size": 3}


def encoded(fmt: str) -> tuple[bytes, dict[str, NDArray[Any]]]:
    """The service's bytes for ``fmt`` and the arrays they hold."""
    if fmt == "npy":
        return encode_npy(ARRAYS["conv.weight"]), {"weight": ARRAYS["conv.weight"]}
    if fmt == "npz":
        return encode_npz(ARRAYS), ARRAYS
    arrays = {**ARRAYS, **BF16}
    return encode_safetensors(arrays), arrays


def assert_writable_and_apart(arrays: dict[str, NDArray[Any]], content: bytes) -> None:
    """Every array writable; none shares memory with another or with the response bytes."""
    body = np.frombuffer(content, np.uint8)
    for name, array in arrays.items():
        assert array.flags.writeable, name
        assert not np.shares_memory(array, body), name
    for (a, x), (b, y) in itertools.combinations(arrays.items(), 2):
        assert not np.shares_memory(x, y), (a, b)


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors"])
def test_parsed_arrays_are_writable_copies(fmt: str) -> None:
    content, expected = encoded(fmt)
    got = parse(fmt, content)
    assert sorted(got) == sorted(expected)
    for name, array in expected.items():
        assert_same_array(got[name], array, name)
    assert_writable_and_apart(got, content)
    for array in got.values():  # writing changes that array only, not a later parse
        array[...] = 0
    again = parse(fmt, content)
    for name, array in expected.items():
        assert_same_array(again[name], array, name)


def test_safetensors_agrees_with_the_safetensors_package() -> None:
    content = encode_safetensors({**ARRAYS, **BF16})
    ours, theirs = parse_safetensors(content), load_safetensors(content)
    assert sorted(ours) == sorted(theirs)
    for name, array in theirs.items():
        assert_same_array(ours[name], array, name)
    header = json.loads(content[8 : 8 + int.from_bytes(content[:8], "little")])
    assert list(ours) == [name for name in header if name != "__metadata__"]  # file order


def test_bfloat16_without_ml_dtypes_is_uint16_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    content = encode_safetensors({**ARRAYS, **BF16})
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # import ml_dtypes -> ImportError
    got = parse_safetensors(content)
    assert got["bf"].dtype == np.dtype("<u2")
    assert got["bf"].tobytes() == BF16["bf"].tobytes()
    assert got["bf"].flags.writeable
    assert_same_array(got["conv.weight"], ARRAYS["conv.weight"])


def _file(header: Any, data: bytes = b"\0" * 4) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _entry(dtype: str, shape: list[int], offsets: list[int]) -> dict[str, Any]:
    return {"x": {"dtype": dtype, "shape": shape, "data_offsets": offsets}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x01\x00", "too short"),
        ((100).to_bytes(8, "little") + b"{}", "header"),
        (_file(_entry("U8", [1], [0, 1])), "dtype"),
        (_file(_entry("F32", [2], [0, 4])), "4 bytes"),
        (_file(_entry("F32", [1], [4, 8])), "offsets"),
        (_file(_entry("F32", [-1], [0, 0])), "shape"),
        (_file({"x": {"dtype": "F32"}}), "malformed"),
        (_file([]), "not a JSON object"),
    ],
    ids=["short", "header-size", "dtype", "size", "offsets", "shape", "fields", "not-an-object"],
)
def test_a_safetensors_header_that_does_not_fit_raises(content: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_safetensors(content)


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors"])
def test_the_clients_return_writable_arrays(server: str, fmt: Any) -> None:
    with Client(server) as client:
        got = client.weights(CONV, scheme="he_uniform", seed=4, format=fmt)
        model = client.model([{"name": "a", "layer": CONV}], seed=4, format="safetensors")
        bf16 = client.weights(CONV, seed=4, dtype="bfloat16", format="safetensors")

    async def fetch() -> dict[str, NDArray[Any]]:
        async with AsyncClient(server) as client:
            return await client.weights(CONV, scheme="he_uniform", seed=4, format=fmt)

    expected = expected_layer(CONV, seed=4, scheme="he_uniform")
    for arrays in (got, asyncio.run(fetch())):
        assert sorted(arrays) == (["weight"] if fmt == "npy" else sorted(expected))
        for name, array in arrays.items():
            assert_same_array(array, expected[name], name)
        assert_writable_and_apart(arrays, b"")
    assert_writable_and_apart(model, b"")
    assert_writable_and_apart(bf16, b"")
    assert {str(a.dtype) for a in bf16.values()} == {"bfloat16"}
