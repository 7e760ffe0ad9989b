"""The hand-written Python SDK (weightinit_client) against a live server and mock transports."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from weightinit_client import (
    AsyncClient,
    Client,
    WeightinitError,
    fill_from_shapes,
    models_body,
    seed_value,
    shapes_to_layers,
    weights_body,
)

from tests.api.conftest import assert_same_array, expected_layer, load_npz
from tests.readme_blocks import sdk_examples

CONV = {"kind": "conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": [3, 3]}
DENSE = {"kind": "dense", "in_features": 20, "out_features": 10}
BIG_SEED = 2**64 - 1


@pytest.fixture(scope="module")
def client(server: str) -> Any:
    with Client(server, timeout=30.0) as c:
        yield c


def _same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sorted(actual) == sorted(expected)
    for name, array in expected.items():
        assert_same_array(actual[name], array, name)


@pytest.mark.parametrize("fmt", ["npz", "safetensors", "npy"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_weights_equal_the_core(client: Client, fmt: Any, dtype: str) -> None:
    got = client.weights(CONV, scheme="he_uniform", seed=7, dtype=dtype, format=fmt)
    expected = expected_layer(CONV, seed=7, scheme="he_uniform", dtype=dtype)
    _same(got, {"weight": expected["weight"]} if fmt == "npy" else expected)


def test_weights_npy_names_the_chosen_tensor(client: Client) -> None:
    got = client.weights(DENSE, scheme="lecun_normal", seed=3, format="npy", tensor="bias")
    _same(got, {"bias": expected_layer(DENSE, seed=3, scheme="lecun_normal")["bias"]})


def test_bfloat16_safetensors_and_options(client: Client) -> None:
    kwargs: dict[str, Any] = {
        "scheme": {"name": "he_normal", "mode": "fan_out"},
        "bias_scheme": "zeros",
        "dtype": "bfloat16",
        "layout": "keras",
    }
    got = client.weights(CONV, seed=11, format="safetensors", **kwargs)
    expected = expected_layer(CONV, seed=11, **kwargs)
    _same(got, expected)
    assert {str(a.dtype) for a in got.values()} == {"bfloat16"}
    legacy = client.weights(DENSE, seed=5, scheme="glorot_uniform", algorithm="numpy-legacy")
    _same(legacy, expected_layer(DENSE, seed=5, scheme="glorot_uniform", algorithm="numpy-legacy"))


def test_seeds_above_2_53_travel_as_strings(client: Client) -> None:
    assert seed_value(2**53) == 2**53
    assert seed_value(2**53 + 1) == str(2**53 + 1)
    assert weights_body(DENSE, seed=BIG_SEED)["seed"] == str(BIG_SEED)
    got = client.weights(DENSE, scheme="he_normal", seed=BIG_SEED)
    _same(got, expected_layer(DENSE, seed=BIG_SEED, scheme="he_normal"))


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_model_equals_the_core(client: Client, fmt: Any) -> None:
    layers = [
        {"name": "features.0", "layer": CONV, "scheme": "he_normal"},
        {"name": "classifier", "layer": DENSE, "bias_scheme": "zeros"},
    ]
    got = client.model(layers, seed=21, scheme="glorot_uniform", format=fmt)
    expected = {
        **expected_layer(CONV, seed=21, scheme="he_normal", prefix="features.0."),
        **expected_layer(
            DENSE, seed=21, scheme="glorot_uniform", bias_scheme="zeros", prefix="classifier."
        ),
    }
    assert sorted(got) == sorted(expected)
    for name, array in expected.items():
        assert_same_array(got[name], array, name)


def test_model_mlp_and_bfloat16(client: Client) -> None:
    mlp = client.model(mlp=[6, 4, 2], seed=3, scheme="he", bias_scheme="zeros")
    assert sorted(mlp) == ["W1", "W2", "b1", "b2"]
    assert mlp["W1"].shape == (4, 6) and mlp["b2"].shape == (2, 1)
    layers = [{"name": "enc", "layer": CONV}]
    got = client.model(layers, seed=8, dtype="bfloat16")
    _same(got, expected_layer(CONV, seed=8, dtype="bfloat16", prefix="enc."))
    with pytest.raises(ValueError, match="exactly one"):
        client.model(layers, mlp=[2, 2], seed=1)


def test_model_takes_a_shape_map(client: Client) -> None:
    """``tensors=`` sends a shape map (any sequence of ints as a shape, e.g. a torch.Size)."""
    shapes: dict[str, Any] = {
        "enc.weight": (8, 3, 3, 3),
        "enc.bias": np.zeros((8,)).shape,
        "norm.weight": [8],
        "head.bias": {"shape": [2], "scheme": "ones"},
    }
    body = models_body(seed=4, tensors=shapes)
    assert body["tensors"]["enc.bias"] == [8] and body["tensors"]["head.bias"]["scheme"] == "ones"
    got = client.model(tensors={k: v for k, v in shapes.items() if k.startswith("enc.")}, seed=8)
    _same(got, expected_layer(CONV, seed=8, prefix="enc."))  # the conv layer's names and bytes
    with pytest.raises(ValueError, match="exactly one"):
        client.model([{"name": "enc", "layer": CONV}], tensors=shapes, seed=1)


def test_schemes_and_scheme(client: Client) -> None:
    schemes = client.schemes()
    names = {s["name"] for s in schemes}
    assert {"he_normal", "orthogonal", "zeros"} <= names
    assert client.scheme("he_normal")["name"] == "he_normal"
    alias = next(s for s in schemes if s["aliases"])
    assert client.scheme(alias["aliases"][0])["name"] == alias["name"]


def test_bad_request_raises_weightinit_error(client: Client) -> None:
    with pytest.raises(WeightinitError) as caught:
        client.weights(DENSE, scheme="he_unifrom", seed=1)
    err = caught.value
    assert err.status == 422
    assert err.title and err.detail and err.request_id
    assert "scheme" in [e["field"] for e in err.errors]
    assert "he_uniform" in str(err)
    with pytest.raises(WeightinitError) as limit:
        client.weights({"kind": "tensor", "shape": [2, 2]}, seed=1, dtype="bfloat16", format="npy")
    assert limit.value.status == 422
    assert "dtype" in [e["field"] for e in limit.value.errors]
    with pytest.raises(WeightinitError) as missing:
        client.scheme("nope")
    assert missing.value.status == 404


def test_unreachable_service_is_a_weightinit_error() -> None:
    with Client("http://127.0.0.1:9", timeout=2.0) as c, pytest.raises(WeightinitError) as caught:
        c.schemes()
    assert caught.value.status == 0
    assert "unreachable" in caught.value.title


def test_async_client_equals_the_core(server: str) -> None:
    async def run() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        async with AsyncClient(server, timeout=30.0) as c:
            w = await c.weights(CONV, scheme="orthogonal", seed=9, format="safetensors")
            m = await c.model([{"name": "a", "layer": DENSE}], seed=9, format="npz")
            return w, m, await c.schemes()

    weights, model, schemes = asyncio.run(run())
    _same(weights, expected_layer(CONV, seed=9, scheme="orthogonal"))
    _same(model, expected_layer(DENSE, seed=9, prefix="a."))
    assert schemes


# ---- download ------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_download_writes_the_same_bytes(client: Client, tmp_path: Path, server: str) -> None:
    layer = {"kind": "tensor", "shape": [512, 1024]}
    body = weights_body(layer, scheme="he_normal", seed=4)
    content, _ = client.request_bytes("weights", body, "npz")
    quiet = io.StringIO()
    written = client.download(tmp_path / "w.npz", body, format="npz", progress=quiet)
    assert written == len(content)
    assert (tmp_path / "w.npz").read_bytes() == content
    assert quiet.getvalue() == ""  # not a terminal: no progress bar
    _same(load_npz(content), expected_layer(layer, seed=4, scheme="he_normal"))

    tty = _Tty()
    client.download(
        tmp_path / "m.safetensors",
        {"mlp": {"sizes": [300, 200]}, "seed": 1},
        op="models",
        format="safetensors",
        progress=tty,
    )
    assert "100%" in tty.getvalue() and tty.getvalue().endswith("\n")

    async def adownload() -> int:
        async with AsyncClient(server) as c:
            return await c.download(tmp_path / "a.npz", body, format="npz", progress=quiet)

    assert asyncio.run(adownload()) == len(content)
    assert (tmp_path / "a.npz").read_bytes() == content

    with pytest.raises(WeightinitError) as caught:
        client.download(tmp_path / "bad.npz", {"seed": -1, "layer": layer}, format="npz")
    assert caught.value.status == 422
    assert not (tmp_path / "bad.npz").exists()
    assert not list(tmp_path.glob("*.part"))


# ---- retries (mock transport) ----------------------------------------------------------------


def _flaky(responses: list[httpx.Response], calls: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return responses[min(len(calls) - 1, len(responses) - 1)]

    return httpx.MockTransport(handler)


SCHEMES_OK = httpx.Response(200, json={"schemes": [{"name": "zeros"}]})
BUSY = {"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "busy"}


def test_retry_honours_retry_after_then_succeeds() -> None:
    calls: list[httpx.Request] = []
    slept: list[float] = []
    responses = [
        httpx.Response(503, headers={"Retry-After": "2"}, json=BUSY),
        httpx.Response(429, json={**BUSY, "status": 429, "title": "Too Many Requests"}),
        SCHEMES_OK,
    ]
    transport = _flaky(responses, calls)
    with Client("http://x", transport=transport, sleep=slept.append, backoff=0.25) as c:
        assert c.schemes() == [{"name": "zeros"}]
    assert len(calls) == 3
    assert slept == [2.0, 0.5]  # Retry-After, then backoff * 2**1


def test_retry_gives_up_after_n_attempts() -> None:
    calls: list[httpx.Request] = []
    slept: list[float] = []
    busy = httpx.Response(503, headers={"Retry-After": "100", "X-Request-ID": "r1"}, json=BUSY)
    transport = _flaky([busy], calls)
    with (
        Client("http://x", transport=transport, sleep=slept.append, retries=3, max_delay=5) as c,
        pytest.raises(WeightinitError) as caught,
    ):
        c.weights(DENSE, seed=1)
    assert len(calls) == 4  # 1 + 3 retries
    assert slept == [5.0, 5.0, 5.0]  # Retry-After capped at max_delay
    assert caught.value.status == 503 and caught.value.detail == "busy"
    assert caught.value.request_id == "r1"


def test_no_retry_on_4xx_and_async_retries() -> None:
    calls: list[httpx.Request] = []
    bad = httpx.Response(422, json={**BUSY, "status": 422, "errors": [{"field": "seed"}]})
    with (
        Client("http://x", transport=_flaky([bad], calls), sleep=lambda s: None) as c,
        pytest.raises(WeightinitError),
    ):
        c.schemes()
    assert len(calls) == 1

    acalls: list[httpx.Request] = []
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    def handler(request: httpx.Request) -> httpx.Response:
        acalls.append(request)
        if len(acalls) == 1:
            return httpx.Response(503, headers={"Retry-After": "1"}, json=BUSY)
        return httpx.Response(200, json={"schemes": []})

    async def run() -> list[dict[str, Any]]:
        transport = httpx.MockTransport(handler)
        async with AsyncClient("http://x", transport=transport, sleep=fake_sleep) as c:
            return await c.schemes()

    assert asyncio.run(run()) == []
    assert slept == [1.0]


def test_retry_applies_to_download(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []
    slept: list[float] = []
    ok = httpx.Response(200, content=b"payload", headers={"Content-Length": "7"})
    transport = _flaky([httpx.Response(503, headers={"Retry-After": "0"}, json=BUSY), ok], calls)
    with Client("http://x", transport=transport, sleep=slept.append) as c:
        assert c.download(tmp_path / "f.npy", {"seed": 1}) == 7
    assert (tmp_path / "f.npy").read_bytes() == b"payload"
    assert slept == [0.0]
    assert json.loads(calls[0].content)["seed"] == 1


# ---- the name -> shape recipe ----------------------------------------------------------------

TORCH_STATE = {
    "conv1.weight": (6, 3, 5, 5),
    "conv1.bias": (6,),
    "fc.weight": (10, 96),
    "fc.bias": (10,),
    "bn.weight": (6,),
    "head.weight.weight": (4, 10),  # a module literally named "weight" still round-trips
}


def test_fill_from_shapes_names_arrays_as_the_model_does(client: Client) -> None:
    def scheme_for(name: str, shape: tuple[int, ...]) -> str | None:
        return "zeros" if name.endswith(".bias") else ("ones" if len(shape) == 1 else None)

    got = fill_from_shapes(client, TORCH_STATE, seed=12, scheme="he_normal", scheme_for=scheme_for)
    assert list(got) == list(TORCH_STATE)
    for name, shape in TORCH_STATE.items():
        assert got[name].shape == shape
        scheme = scheme_for(name, shape) or "he_normal"
        layer = {"kind": "tensor", "shape": list(shape)}
        expected = expected_layer(layer, seed=12, scheme=scheme, prefix=f"{name}.")[
            f"{name}.weight"
        ]
        assert_same_array(got[name], expected, name)
    assert not got["conv1.bias"].any()
    assert (got["bn.weight"] == 1).all()


def test_fill_from_shapes_flax_style_paths(client: Client) -> None:
    tree = {"params/Dense_0/kernel": (8, 4), "params/Dense_0/bias": (4,)}
    layers = shapes_to_layers(tree)
    assert [item["name"] for item in layers] == list(tree)
    got = fill_from_shapes(
        client,
        tree,
        seed=2,
        scheme="lecun_normal",
        layout="jax",
        format="npz",
        scheme_for=lambda n, s: "zeros" if len(s) == 1 else None,
    )
    assert list(got) == list(tree)
    expected = expected_layer(
        {"kind": "tensor", "shape": [8, 4]},
        seed=2,
        scheme="lecun_normal",
        layout="jax",
        prefix="params/Dense_0/kernel.",
    )["params/Dense_0/kernel.weight"]
    assert_same_array(got["params/Dense_0/kernel"], expected, "kernel")
    assert np.array_equal(got["params/Dense_0/bias"], np.zeros(4, np.float32))


def test_readme_examples_run(server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocks = sdk_examples()
    assert len(blocks) == 3
    monkeypatch.setenv("WEIGHTINIT_URL", server)
    monkeypatch.chdir(tmp_path)  # the examples write files
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(block.replace('"http://127.0.0.1:8000"', "None"), namespace)
    assert namespace["w"]["weight"].shape == (256, 784)
    assert sorted(namespace["m"]) == ["W1", "W2", "b1", "b2"]
    assert list(namespace["arrays"]) == list(namespace["shapes"])
    assert not namespace["arrays"]["fc.bias"].any()
    assert namespace["size"] == (tmp_path / "emb.npy").stat().st_size == 8192 * 1024 * 4 + 128
    whole, rank3 = np.load(tmp_path / "emb.npy"), np.load(tmp_path / "emb.rank3.npy")
    assert np.array_equal(rank3, whole[3072:4096])
    assert namespace["q"].shape == (1024, 1024)
    assert namespace["rank"]["attn.q_proj.weight"].shape == (512, 1024)
    assert namespace["rank"]["attn.o_proj.weight"].shape == (4096, 128)
    assert len(namespace["digests"][0]["blocks"]) == 64


def _recording(seen: list[str | None]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"schemes": []})

    return httpx.MockTransport(handler)


def test_the_api_key_is_sent_as_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str | None] = []
    monkeypatch.delenv("WEIGHTINIT_API_KEY", raising=False)
    with Client("http://x", api_key="k-arg", transport=_recording(seen)) as c:
        c.schemes()
    with Client("http://x", transport=_recording(seen)) as c:
        c.schemes()
    monkeypatch.setenv("WEIGHTINIT_API_KEY", "k-env")
    with Client("http://x", transport=_recording(seen)) as c:
        c.schemes()
    with Client("http://x", api_key="k-arg", transport=_recording(seen)) as c:
        c.schemes()  # the argument wins over the environment
    assert seen == ["Bearer k-arg", None, "Bearer k-env", "Bearer k-arg"]


def test_the_async_client_sends_the_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str | None] = []
    monkeypatch.setenv("WEIGHTINIT_API_KEY", "k-env")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"schemes": []})

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with AsyncClient("http://x", transport=transport) as c:
            await c.schemes()

    asyncio.run(main())
    assert seen == ["Bearer k-env"]


def test_the_package_exports_every_public_name_on_first_use() -> None:
    import weightinit_client

    assert sorted(weightinit_client.__all__) == sorted(weightinit_client._MODULES)
    for name in weightinit_client.__all__:
        assert getattr(weightinit_client, name) is not None, name
        assert name in dir(weightinit_client)
    assert weightinit_client.Client is Client
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = weightinit_client.nope
