"""Every output format hands out exactly the core's bytes (issue 5, "Acceptance").

The reference for every response is computed in-process with the numerical core
(``app.core.initialize.initialize_layer``) and compared byte for byte after reading the
response with the reference reader of its format (json + numpy, ``np.load``, safetensors).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from typing import Any

import httpx
import ml_dtypes
import numpy as np
import pytest
from numpy.typing import NDArray

from app.core.schemes import ALIASES, SCHEMES

from .conftest import (
    ApiClient,
    assert_same_array,
    expected_layer,
    load_npy,
    load_npz,
    load_safetensors,
    problem,
    safetensors_header,
    sha256_le,
    sha_header,
)

NUMPY_DTYPES: dict[str, Any] = {
    "float32": np.float32,
    "float64": np.float64,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "int64": np.int64,
}
FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")

DENSE = {"kind": "dense", "in_features": 7, "out_features": 5}
CONV = {"kind": "conv2d", "in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2}
LSTM = {"kind": "lstm", "input_size": 3, "hidden_size": 4}
BATCH_NORM = {"kind": "batch_norm", "num_features": 5}

MEDIA = {
    "json": "application/json",
    "npy": "application/x-npy",
    "npz": "application/x-npz",
    "safetensors": "application/vnd.safetensors",
}
OCTET = "application/octet-stream"


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip().lower()


def weights_body(layer: dict[str, Any] = DENSE, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"layer": layer, "seed": 42}
    body.update(extra)
    return body


def ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code == 200, (response.status_code, response.text[:1000])
    return response


def decode_json_tensor(tensor: dict[str, Any], *, nested: bool = False) -> NDArray[Any]:
    """A response tensor parsed back the way a client would: float64, then the tensor's dtype."""
    dtype = NUMPY_DTYPES[tensor["dtype"]]
    shape = tuple(tensor["shape"])
    data = tensor["data"]
    if isinstance(data, str):  # encoding=base64: the raw little-endian bytes
        raw = base64.b64decode(data, validate=True)
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    if tensor["dtype"] == "int64":
        return np.array(data, dtype=np.int64).reshape(shape)
    values = np.array(data, dtype=np.float64)
    if nested:
        assert values.shape == shape, f"nested data has shape {values.shape}, not {shape}"
    else:
        assert values.ndim == 1 and values.size == math.prod(shape), "flat data is not flat"
    return values.astype(dtype).reshape(shape)


# ---- JSON ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("json_layout", ["flat", "nested"])
def test_json_numbers_parse_back_to_the_cores_bytes(
    client: ApiClient, dtype: str, json_layout: str
) -> None:
    for layer, scheme in ((DENSE, "he_normal"), (CONV, "glorot_uniform"), (LSTM, None)):
        body = weights_body(layer, dtype=dtype, **({"scheme": scheme} if scheme else {}))
        response = ok(client.post("/v1/weights", json=body, params={"json_layout": json_layout}))
        assert media_type(response) == "application/json"
        payload = response.json()
        expected = expected_layer(layer, seed=42, scheme=scheme, dtype=dtype)
        assert [t["name"] for t in payload["tensors"]] == list(expected)
        for tensor in payload["tensors"]:
            array = decode_json_tensor(tensor, nested=json_layout == "nested")
            assert_same_array(array, expected[tensor["name"]], f"{layer['kind']}/{tensor['name']}")
            assert tensor["sha256"] == sha256_le(expected[tensor["name"]])
            assert tensor["dtype"] == dtype
            assert tensor["shape"] == list(expected[tensor["name"]].shape)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_json_base64_is_the_raw_little_endian_bytes(client: ApiClient, dtype: str) -> None:
    body = weights_body(CONV, dtype=dtype, scheme="he_uniform")
    response = ok(client.post("/v1/weights", json=body, params={"encoding": "base64"}))
    expected = expected_layer(CONV, seed=42, scheme="he_uniform", dtype=dtype)
    for tensor in response.json()["tensors"]:
        assert isinstance(tensor["data"], str)
        assert_same_array(decode_json_tensor(tensor), expected[tensor["name"]], tensor["name"])
        raw = base64.b64decode(tensor["data"])
        assert hashlib.sha256(raw).hexdigest() == tensor["sha256"]


def test_json_int64_and_scalar_tensors_round_trip(client: ApiClient) -> None:
    """batch_norm's num_batches_tracked is an int64 scalar; running stats are fixed values."""
    for json_layout in ("flat", "nested"):
        response = ok(
            client.post(
                "/v1/weights", json=weights_body(BATCH_NORM), params={"json_layout": json_layout}
            )
        )
        expected = expected_layer(BATCH_NORM, seed=42)
        tensors = {t["name"]: t for t in response.json()["tensors"]}
        assert list(tensors) == list(expected)
        counter = tensors["num_batches_tracked"]
        assert counter["dtype"] == "int64"
        assert counter["shape"] == []
        for name, tensor in tensors.items():
            # a scalar is [v] flat and v (or [v]) nested; reshape(()) accepts all of them
            array = np.array(tensor["data"], dtype=NUMPY_DTYPES[tensor["dtype"]]).reshape(
                tuple(tensor["shape"])
            )
            assert_same_array(array, expected[name], name)
            assert tensor["sha256"] == sha256_le(expected[name])
        assert tensors["running_mean"]["fan_in"] is None
        assert tensors["running_mean"]["fan_out"] is None


def _significant_digits(text: str) -> int:
    mantissa = text.lower().lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) or 1


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_json_numbers_are_the_shortest_round_trip_decimals(client: ApiClient, dtype: str) -> None:
    """No more digits than numpy's shortest repr in the tensor's own dtype."""
    response = ok(client.post("/v1/weights", json=weights_body(DENSE, dtype=dtype)))
    literals = json.loads(response.text, parse_float=str, parse_int=str)
    numpy_type = NUMPY_DTYPES[dtype]
    for tensor in literals["tensors"]:
        for text in tensor["data"]:
            shortest = np.format_float_scientific(numpy_type(float(text)), unique=True)
            assert numpy_type(float(text)) == numpy_type(float(shortest))
            assert _significant_digits(text) <= _significant_digits(shortest), (text, shortest)


def test_json_metadata_describes_each_tensor(client: ApiClient) -> None:
    response = ok(client.post("/v1/weights", json=weights_body(DENSE, scheme="he_normal")))
    payload = response.json()
    assert payload["seed"] == 42
    assert payload["dtype"] == "float32"
    assert payload["layout"] == "torch"
    assert payload["algorithm"] == "blocks-v1"
    weight, bias = payload["tensors"]
    assert weight["name"] == "weight" and bias["name"] == "bias"
    assert weight["scheme"]["name"] == "he_normal"
    assert {"mode", "nonlinearity", "a"} <= set(weight["scheme"])  # every resolved parameter
    assert (weight["fan_in"], weight["fan_out"]) == (7, 5)
    assert weight["std"] == pytest.approx(math.sqrt(2.0 / 7.0), rel=1e-12)
    assert weight["bound"] is None
    # torch's default bias: U(+-1/sqrt(fan_in))
    assert bias["bound"] == pytest.approx(1 / math.sqrt(7), rel=1e-12)
    assert bias["std"] == pytest.approx(1 / math.sqrt(7) / math.sqrt(3), rel=1e-12)


def test_json_truncated_schemes_report_sigma_and_truncation(client: ApiClient) -> None:
    body = weights_body(DENSE, scheme={"name": "truncated_normal", "std": 2.0, "a": -1, "b": 3})
    weight = ok(client.post("/v1/weights", json=body)).json()["tensors"][0]
    assert weight["sigma"] == pytest.approx(2.0)
    assert weight["truncation"] == pytest.approx([-2.0, 6.0])
    assert 0 < weight["std"] < 2.0  # the std of the truncated law, not sigma


# ---- binary formats -----------------------------------------------------------------------------


def _assert_attachment(response: httpx.Response, extension: str) -> str:
    disposition = response.headers["content-disposition"]
    match = re.fullmatch(r'attachment; ?filename="([^"]+)"', disposition)
    assert match, disposition
    filename = match.group(1)
    assert filename.endswith(extension), disposition
    return filename


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_npy_loads_with_numpy_to_the_cores_bytes(client: ApiClient, dtype: str) -> None:
    expected = expected_layer(CONV, seed=42, dtype=dtype)
    for name in ("weight", "bias"):
        params = {"format": "npy", "tensor": name}
        response = ok(
            client.post("/v1/weights", json=weights_body(CONV, dtype=dtype), params=params)
        )
        assert media_type(response) == MEDIA["npy"]
        assert _assert_attachment(response, ".npy") == f"{name}.npy"
        array = load_npy(response.content)
        assert_same_array(array, expected[name], name)
        assert sha_header(response) == {name: sha256_le(expected[name])}


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_npz_loads_with_numpy_to_every_tensor(client: ApiClient, dtype: str) -> None:
    for layer in (CONV, LSTM, BATCH_NORM):
        expected = expected_layer(layer, seed=42, dtype=dtype)
        response = ok(
            client.post(
                "/v1/weights", json=weights_body(layer, dtype=dtype), params={"format": "npz"}
            )
        )
        assert media_type(response) == MEDIA["npz"]
        _assert_attachment(response, ".npz")
        arrays = load_npz(response.content)
        assert sorted(arrays) == sorted(expected)
        for name, array in arrays.items():
            assert_same_array(array, expected[name], name)
        assert sha_header(response) == {n: sha256_le(a) for n, a in expected.items()}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_safetensors_loads_with_the_safetensors_package(client: ApiClient, dtype: str) -> None:
    for layer in (CONV, LSTM, BATCH_NORM):
        expected = expected_layer(layer, seed=42, dtype=dtype)
        response = ok(
            client.post(
                "/v1/weights",
                json=weights_body(layer, dtype=dtype),
                params={"format": "safetensors"},
            )
        )
        assert media_type(response) == MEDIA["safetensors"]
        _assert_attachment(response, ".safetensors")
        arrays = load_safetensors(response.content)
        assert sorted(arrays) == sorted(expected)
        for name, array in arrays.items():
            assert_same_array(array, expected[name], name)
        assert sha_header(response) == {n: sha256_le(a) for n, a in expected.items()}
        header = safetensors_header(response.content)
        wanted = {"float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16"}[dtype]
        for name, array in expected.items():
            assert header[name]["dtype"] == ("I64" if array.dtype == np.int64 else wanted)


def test_json_sha256_fields_match_the_binary_sha_header(client: ApiClient) -> None:
    body = weights_body(LSTM, scheme="orthogonal")
    fields = {
        t["name"]: t["sha256"] for t in ok(client.post("/v1/weights", json=body)).json()["tensors"]
    }
    for fmt in ("npz", "safetensors"):
        response = ok(client.post("/v1/weights", json=body, params={"format": fmt}))
        assert sha_header(response) == fields


# ---- per-format operations ----------------------------------------------------------------------

PER_FORMAT = [
    ("/v1/weights.npy", "/v1/weights", "npy"),
    ("/v1/weights.npz", "/v1/weights", "npz"),
    ("/v1/weights.safetensors", "/v1/weights", "safetensors"),
    ("/v1/models.npz", "/v1/models", "npz"),
    ("/v1/models.safetensors", "/v1/models", "safetensors"),
]
MODEL_BODY: dict[str, Any] = {
    "seed": 5,
    "layers": [
        {"name": "encoder.0", "layer": DENSE, "scheme": "he_normal"},
        {"name": "encoder.1", "layer": BATCH_NORM},
    ],
}


@pytest.mark.parametrize(("path", "base", "fmt"), PER_FORMAT)
def test_per_format_operation_sends_octet_stream_with_the_same_bytes(
    client: ApiClient, path: str, base: str, fmt: str
) -> None:
    body = MODEL_BODY if base == "/v1/models" else weights_body(CONV, dtype="float16")
    one = {"tensor": "weight"} if fmt == "npy" else {}  # a .npy holds one of the two
    via_query = ok(client.post(base, json=body, params={"format": fmt, **one}))
    for accept in (None, OCTET, "*/*"):
        headers = {"Accept": accept} if accept else {}
        direct = ok(client.post(path, json=body, headers=headers, params=one))
        assert media_type(direct) == OCTET
        assert direct.content == via_query.content
        assert direct.headers["content-disposition"] == via_query.headers["content-disposition"]
        assert direct.headers["x-weightinit-sha256"] == via_query.headers["x-weightinit-sha256"]


def test_npy_of_a_layer_with_several_tensors_names_one(client: ApiClient) -> None:
    """A .npy holds one array: without ``tensor`` a 422 lists the tensors and points at npz
    and safetensors (until issue 12 it silently sent the first)."""
    for path, params in (("/v1/weights", {"format": "npy"}), ("/v1/weights.npy", {})):
        response = client.post(path, json=weights_body(CONV), params=params)
        assert response.status_code == 422, response.text
        found = problem(response)
        assert found["errors"][0]["field"] == "tensor"
        for word in ("weight", "bias", "npz", "safetensors", "tensor="):
            assert word in found["detail"], found["detail"]
    single = {"kind": "tensor", "shape": [3, 4]}  # one tensor: npy needs no name
    assert ok(client.post("/v1/weights.npy", json=weights_body(single))).content
    no_bias = ok(client.post("/v1/weights.npy", json=weights_body({**CONV, "bias": False})))
    assert_same_array(
        load_npy(no_bias.content),
        expected_layer({**CONV, "bias": False}, seed=42)["weight"],
        "weight",
    )


def test_weights_npy_operation_takes_the_tensor_query(client: ApiClient) -> None:
    body = weights_body(CONV)
    direct = ok(client.post("/v1/weights.npy", params={"tensor": "bias"}, json=body))
    expected = expected_layer(CONV, seed=42)["bias"]
    assert_same_array(load_npy(direct.content), expected, "bias")
    assert _assert_attachment(direct, ".npy") == "bias.npy"


# ---- negotiation --------------------------------------------------------------------------------

NEGOTIATION = [
    # (Accept, ?format=, the format whose bytes come back)
    (None, None, "json"),
    ("*/*", None, "json"),
    ("application/json", None, "json"),
    ("application/x-npy", None, "npy"),
    ("application/x-npz", None, "npz"),
    ("application/vnd.safetensors", None, "safetensors"),
    ("application/octet-stream", None, "npy"),
    ("text/html, application/x-npz;q=0.5", None, "npz"),
    ("application/json;q=0.1, application/vnd.safetensors", None, "safetensors"),
    ("application/x-npy", "json", "json"),
    ("application/json", "npz", "npz"),
    ("text/html", "safetensors", "safetensors"),
    ("application/octet-stream", "npz", "npz"),
]


# One tensor of the conv layer in every format (a .npy holds one).
ONE = {"tensor": "weight"}


@pytest.fixture(scope="module")
def weights_by_format(client: ApiClient) -> dict[str, bytes]:
    body = weights_body(CONV)
    return {
        fmt: ok(client.post("/v1/weights", json=body, params={"format": fmt, **ONE})).content
        for fmt in ("json", "npy", "npz", "safetensors")
    }


@pytest.mark.parametrize(("accept", "fmt", "chosen"), NEGOTIATION)
def test_accept_negotiation_on_weights_and_the_query_wins(
    client: ApiClient,
    weights_by_format: dict[str, bytes],
    accept: str | None,
    fmt: str | None,
    chosen: str,
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    params = {"format": fmt, **ONE} if fmt else ONE
    request = client.build(
        "POST", "/v1/weights", json=weights_body(CONV), params=params, headers=headers
    )
    if accept is None:
        del request.headers["accept"]  # httpx adds Accept: */* by default
    response = ok(client.send(request))
    assert response.content == weights_by_format[chosen]
    if accept == OCTET and fmt is None:
        # "Accept: application/octet-stream means npy": the npy bytes, labelled either way
        assert media_type(response) in (MEDIA["npy"], OCTET)
    else:
        assert media_type(response) == MEDIA[chosen]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("application/octet-stream", "safetensors"),
        ("application/vnd.safetensors", "safetensors"),
        ("application/x-npz", "npz"),
        ("application/json", "json"),
    ],
)
def test_accept_negotiation_on_models(client: ApiClient, accept: str, chosen: str) -> None:
    expected = ok(client.post("/v1/models", json=MODEL_BODY, params={"format": chosen})).content
    response = ok(client.post("/v1/models", json=MODEL_BODY, headers={"Accept": accept}))
    assert response.content == expected
    if accept != OCTET:
        assert media_type(response) == MEDIA[chosen]
    else:
        assert media_type(response) in (MEDIA["safetensors"], OCTET)


# ---- seeds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2**53 + 1, 2**63 + 12345, 2**64 - 1, 0])
def test_seed_as_decimal_string_equals_the_integer(client: ApiClient, seed: int) -> None:
    as_int = ok(client.post("/v1/weights", json=weights_body(seed=seed), params={"format": "npz"}))
    as_text = ok(
        client.post("/v1/weights", json=weights_body(seed=str(seed)), params={"format": "npz"})
    )
    assert as_int.content == as_text.content
    assert as_int.headers["etag"] == as_text.headers["etag"]
    expected = expected_layer(DENSE, seed=seed)
    arrays = load_npz(as_text.content)
    for name, array in expected.items():
        assert_same_array(arrays[name], array, name)
    payload = ok(client.post("/v1/weights", json=weights_body(seed=str(seed)))).json()
    assert payload["seed"] == seed  # the exact integer, not a float approximation
    assert f'"seed": {seed}' in ok(client.post("/v1/weights", json=weights_body(seed=seed))).text


# ---- the GET shortcut ---------------------------------------------------------------------------

GET_CASES: list[tuple[str, dict[str, str], dict[str, Any], dict[str, Any]]] = [
    # (scheme in the path, query, the equivalent POST body's parts, tensor layer extras)
    ("he_normal", {"mode": "fan_out"}, {"scheme": {"name": "he_normal", "mode": "fan_out"}}, {}),
    ("kaiming_normal", {}, {"scheme": "kaiming_normal"}, {}),
    (
        "orthogonal",
        {"gain": "2", "dtype": "float64"},
        {"scheme": {"name": "orthogonal", "gain": 2.0}, "dtype": "float64"},
        {},
    ),
    (
        "normal",
        {"mean": "1", "std": "0.5", "layout": "keras", "dtype": "float16"},
        {
            "scheme": {"name": "normal", "mean": 1.0, "std": 0.5},
            "layout": "keras",
            "dtype": "float16",
        },
        {},
    ),
    ("he_uniform", {"fan_in": "3"}, {"scheme": "he_uniform"}, {"fan_in": 3.0}),
    (
        "random",
        {"algorithm": "numpy-legacy"},
        {"scheme": "random", "algorithm": "numpy-legacy"},
        {},
    ),
]


@pytest.mark.parametrize(("scheme", "query", "post_parts", "layer_extra"), GET_CASES)
def test_get_shortcut_equals_the_post_with_a_tensor_layer(
    client: ApiClient,
    scheme: str,
    query: dict[str, str],
    post_parts: dict[str, Any],
    layer_extra: dict[str, Any],
) -> None:
    shape = [6, 4] if scheme != "normal" else [3, 4, 5]
    layer = {"kind": "tensor", "shape": shape, **layer_extra}
    post_body = {"layer": layer, "seed": 9, **post_parts}
    base_query = {"shape": ",".join(map(str, shape)), "seed": "9", **query}
    for fmt in ("json", "npy", "npz", "safetensors"):
        if fmt == "npy" and post_parts.get("dtype") == "bfloat16":
            continue
        got = ok(client.get(f"/v1/weights/{scheme}", params={**base_query, "format": fmt}))
        posted = ok(client.post("/v1/weights", json=post_body, params={"format": fmt}))
        assert got.content == posted.content, fmt
        assert media_type(got) == media_type(posted)
        assert got.headers["etag"] == posted.headers["etag"]
    got_json = ok(client.get(f"/v1/weights/{scheme}", params=base_query)).json()
    assert [t["name"] for t in got_json["tensors"]] == ["weight"]
    fields = {k: v for k, v in post_parts.items() if k in ("dtype", "layout", "algorithm")}
    expected = expected_layer(layer, seed=9, scheme=post_parts["scheme"], **fields)["weight"]
    npy = ok(client.get(f"/v1/weights/{scheme}", params={**base_query, "format": "npy"}))
    assert_same_array(load_npy(npy.content), expected, "weight")


# ---- models -------------------------------------------------------------------------------------


def test_models_name_tensors_layer_dot_tensor_with_the_cores_values(client: ApiClient) -> None:
    body = {
        "seed": 11,
        "dtype": "float64",
        "scheme": "glorot_uniform",
        "layers": [
            {"name": "encoder.0", "layer": DENSE},
            {"name": "encoder.1", "layer": CONV, "scheme": "orthogonal", "bias_scheme": "zeros"},
            {"name": "rnn", "layer": LSTM},
        ],
    }
    response = ok(client.post("/v1/models", json=body))
    names = [t["name"] for t in response.json()["tensors"]]
    expected: dict[str, NDArray[Any]] = {}
    for item in body["layers"]:
        expected.update(
            expected_layer(
                item["layer"],
                seed=11,
                dtype="float64",
                scheme=item.get("scheme", "glorot_uniform"),
                bias_scheme=item.get("bias_scheme"),
                prefix=item["name"] + ".",
            )
        )
    assert names == list(expected)
    assert names[:2] == ["encoder.0.weight", "encoder.0.bias"]
    for tensor in response.json()["tensors"]:
        assert_same_array(decode_json_tensor(tensor), expected[tensor["name"]], tensor["name"])
    for fmt, reader in (("npz", load_npz), ("safetensors", load_safetensors)):
        binary = ok(client.post("/v1/models", json=body, params={"format": fmt}))
        _assert_attachment(binary, f".{fmt}")
        arrays = reader(binary.content)
        assert sorted(arrays) == sorted(expected)
        for name, array in arrays.items():
            assert_same_array(array, expected[name], name)


def test_models_adding_or_moving_a_layer_changes_no_other_layer(client: ApiClient) -> None:
    enc0 = {"name": "encoder.0", "layer": DENSE, "scheme": "he_normal"}
    enc1 = {"name": "encoder.1", "layer": CONV}
    extra = {"name": "decoder.0", "layer": LSTM}
    base = {"seed": 3, "layers": [enc0, enc1]}
    grown = {"seed": 3, "layers": [extra, enc1, enc0]}
    before = load_npz(ok(client.post("/v1/models", json=base, params={"format": "npz"})).content)
    after = load_npz(ok(client.post("/v1/models", json=grown, params={"format": "npz"})).content)
    assert set(before) < set(after)
    for name, array in before.items():
        assert_same_array(after[name], array, name)


def _textbook_mlp(sizes: list[int], scale: str) -> dict[str, NDArray[np.float64]]:
    """The textbook code, literally: np.random.seed(3), then randn per layer, in order."""
    state = np.random.get_state()
    try:
        np.random.seed(3)
        params: dict[str, NDArray[np.float64]] = {}
        for layer in range(1, len(sizes)):
            n, n_prev = sizes[layer], sizes[layer - 1]
            if scale == "he":
                params[f"W{layer}"] = np.random.randn(n, n_prev) * np.sqrt(2 / n_prev)
            else:
                params[f"W{layer}"] = np.random.randn(n, n_prev) * 0.01
            params[f"b{layer}"] = np.zeros((n, 1))
        return params
    finally:
        np.random.set_state(state)


@pytest.mark.parametrize("scheme", ["he", "random"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_shorthand_with_numpy_legacy_equals_the_textbook_code(
    client: ApiClient, scheme: str, dtype: str
) -> None:
    sizes = [784, 256, 10] if scheme == "he" else [12, 7, 5, 3]
    body = {
        "mlp": {"sizes": sizes},
        "scheme": scheme,
        "bias_scheme": "zeros",
        "seed": 3,
        "algorithm": "numpy-legacy",
        "dtype": dtype,
    }
    response = ok(client.post("/v1/models", json=body, params={"format": "npz"}))
    arrays = load_npz(response.content)
    expected = _textbook_mlp(sizes, scheme)
    assert sorted(arrays) == sorted(expected)
    for name, array in expected.items():
        assert_same_array(arrays[name], array.astype(NUMPY_DTYPES[dtype]), name)
    if scheme == "random":  # the small case: check the JSON's tensor order too
        tensors = ok(client.post("/v1/models", json=body)).json()["tensors"]
        assert [t["name"] for t in tensors] == [
            f"{p}{i}" for i in range(1, len(sizes)) for p in "Wb"
        ]


def test_mlp_shorthand_with_blocks_v1_uses_the_textbook_shapes(client: ApiClient) -> None:
    body = {"mlp": {"sizes": [6, 4, 2]}, "scheme": "he", "bias_scheme": "zeros", "seed": 3}
    tensors = ok(client.post("/v1/models", json=body)).json()["tensors"]
    assert [(t["name"], t["shape"]) for t in tensors] == [
        ("W1", [4, 6]),
        ("b1", [4, 1]),
        ("W2", [2, 4]),
        ("b2", [2, 1]),
    ]
    assert tensors[0]["std"] == pytest.approx(math.sqrt(2 / 6), rel=1e-12)
    assert all(v == 0 for v in tensors[1]["data"])


# ---- ETags --------------------------------------------------------------------------------------


def _strong(etag: str) -> str:
    assert not etag.startswith("W/"), f"weak ETag {etag}"
    assert re.fullmatch(r'"[\x21\x23-\x7e]+"', etag), etag
    return etag


def test_same_post_gives_the_same_strong_etag_and_different_requests_differ(
    client: ApiClient,
) -> None:
    first = ok(client.post("/v1/weights", json=weights_body()))
    second = ok(client.post("/v1/weights", json=weights_body()))
    etag = _strong(first.headers["etag"])
    assert second.headers["etag"] == etag
    others = [
        client.post("/v1/weights", json=weights_body(seed=43)),
        client.post("/v1/weights", json=weights_body(dtype="float64")),
        client.post("/v1/weights", json=weights_body(scheme="he_normal")),
        client.post("/v1/weights", json=weights_body(), params={"format": "npz"}),
        client.post("/v1/weights", json=weights_body(), params={"json_layout": "nested"}),
    ]
    tags = [ok(r).headers["etag"] for r in others]
    assert len({etag, *tags}) == len(tags) + 1


def test_post_with_a_matching_if_none_match_still_sends_the_body(client: ApiClient) -> None:
    """RFC 9110 reserves 304 for GET/HEAD: a POST always answers with the content."""
    first = ok(client.post("/v1/weights", json=weights_body()))
    again = client.post(
        "/v1/weights", json=weights_body(), headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 200
    assert again.content == first.content


GET_URLS = [
    "/v1/weights/he_normal?shape=8,4&seed=1",
    "/v1/weights/he_normal?shape=8,4&seed=1&format=npy",
    "/v1/schemes",
    "/v1/schemes/he_normal",
    "/v1/gains",
]


@pytest.mark.parametrize("url", GET_URLS)
def test_get_with_if_none_match_gives_304(client: ApiClient, url: str) -> None:
    first = ok(client.get(url))
    etag = _strong(first.headers["etag"])
    assert ok(client.get(url)).headers["etag"] == etag
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x"
    for header in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        cached = client.get(url, headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.content == b""
        assert cached.headers["etag"] == etag
    fresh = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert fresh.status_code == 200
    assert fresh.content == first.content


# ---- registry, health, index --------------------------------------------------------------------


def test_list_schemes_lists_the_whole_registry(client: ApiClient) -> None:
    schemes = ok(client.get("/v1/schemes")).json()["schemes"]
    assert [s["name"] for s in schemes] == list(SCHEMES)
    by_name = {s["name"]: s for s in schemes}
    assert set(ALIASES) == {a for s in schemes for a in s["aliases"]}
    he = by_name["he_normal"]
    assert {"kaiming_normal", "he"} <= set(he["aliases"])
    assert he["formula"] and he["reference"] and he["uses_fans"] is True
    mode = next(p for p in he["params"] if p["name"] == "mode")
    assert mode["type"] == "choice" and "fan_in" in mode["choices"]
    sparse = next(p for p in by_name["sparse"]["params"] if p["name"] == "sparsity")
    assert sparse["required"] is True


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("he_normal", "he_normal"),
        ("kaiming_normal", "he_normal"),
        ("xavier_uniform", "glorot_uniform"),
    ],
)
def test_get_scheme_by_name_or_alias(client: ApiClient, name: str, canonical: str) -> None:
    scheme = ok(client.get(f"/v1/schemes/{name}")).json()
    assert scheme["name"] == canonical
    listed = {s["name"]: s for s in ok(client.get("/v1/schemes")).json()["schemes"]}
    assert scheme == listed[canonical]


def test_list_gains_gives_the_gain_table(client: ApiClient) -> None:
    gains = ok(client.get("/v1/gains")).json()["gains"]
    torch = {g["name"]: g for g in gains if g["rule"] == "torch"}
    assert torch["relu"]["value"] == pytest.approx(math.sqrt(2))
    assert torch["tanh"]["value"] == pytest.approx(5 / 3)
    assert torch["selu"]["value"] == pytest.approx(3 / 4)
    assert {g["rule"] for g in gains} == {"torch", "variance_preserving"}
    assert all(g["formula"] and g["reference"] for g in gains)


def test_health_readiness_and_index(client: ApiClient) -> None:
    assert ok(client.get("/healthz")).json() == {"status": "ok"}
    assert ok(client.get("/readyz")).json()["status"] == "ready"
    index = ok(client.get("/")).json()
    assert index["service"] == "weightinit"
    links = index["links"]
    for key in ("weights", "models", "schemes", "gains", "openapi", "docs"):
        assert key in links
    for key in (
        "schemes",
        "gains",
        "recipes",
        "architectures",
        "openapi",
        "docs",
        "health",
        "ready",
    ):
        assert ok(client.get(links[key])).status_code == 200
    shortcut = links["weights_get"].replace("{scheme}", "he_normal") + "&format=npy"
    assert ok(client.get(shortcut)).status_code == 200


def test_request_id_is_echoed_or_generated(client: ApiClient) -> None:
    echoed = ok(client.get("/healthz", headers={"X-Request-ID": "abc-123"}))
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = ok(client.get("/healthz"))
    assert generated.headers["x-request-id"]
