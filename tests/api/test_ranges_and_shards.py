"""Range requests, slices, shards, shard plans and digests, against the whole response.

Every piece is compared with the same part of the whole body or tensor, byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import safetensors.numpy

from app.api.settings import Settings

from .conftest import PROBLEM_JSON, ApiClient

GET = "/v1/weights/he_normal?shape=300,700&seed=4&format=npy"
BODY = {"layer": {"kind": "tensor", "shape": [300, 700]}, "scheme": "he_normal", "seed": 4}


@pytest.fixture(scope="module", params=["buffered", "streamed"])
def api(request: pytest.FixtureRequest) -> Iterator[ApiClient]:
    settings = Settings(threads=2) if request.param == "buffered" else Settings(buffer_bytes=1)
    client = ApiClient(settings)
    yield client
    client.close()


@pytest.fixture(scope="module")
def whole(api: ApiClient) -> bytes:
    response = api.get(GET)
    assert response.status_code == 200
    assert response.headers["accept-ranges"] == "bytes"
    return response.content


def npy(content: bytes) -> np.ndarray[Any, Any]:
    return np.load(io.BytesIO(content), allow_pickle=False)


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-127", (0, 128)),
        ("bytes=100-5000", (100, 5001)),
        ("bytes=800000-", (800000, None)),
        ("bytes=-1000", (-1000, None)),
        ("bytes=0-99999999", (0, None)),
        ("bytes=127-127", (127, 128)),
    ],
)
def test_a_range_is_206_with_exactly_those_bytes(
    api: ApiClient, whole: bytes, header: str, span: tuple[int, int | None]
) -> None:
    response = api.get(GET, headers={"Range": header})
    assert response.status_code == 206, response.text
    want = whole[span[0] : span[1]]
    assert response.content == want
    start = span[0] % len(whole)
    assert (
        response.headers["content-range"] == f"bytes {start}-{start + len(want) - 1}/{len(whole)}"
    )
    assert int(response.headers["content-length"]) == len(want)


def test_ranges_stitched_give_the_whole_body(api: ApiClient, whole: bytes) -> None:
    edges = [0, 1, 128, 70_000, 262_144, 300_001, len(whole)]
    parts = [
        api.get(GET, headers={"Range": f"bytes={a}-{b - 1}"}).content
        for a, b in itertools.pairwise(edges)
    ]
    assert b"".join(parts) == whole


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "items=0-5", "bytes=9-3", "bytes=x-y"])
def test_multi_or_unparsable_ranges_get_the_whole_body(
    api: ApiClient, whole: bytes, header: str
) -> None:
    response = api.get(GET, headers={"Range": header})
    assert response.status_code == 200 and response.content == whole


@pytest.mark.parametrize("header", ["bytes=900000-", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_size(
    api: ApiClient, whole: bytes, header: str
) -> None:
    response = api.get(GET, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["content-range"] == f"bytes */{len(whole)}"


def test_if_range_with_another_etag_sends_the_whole_body(api: ApiClient, whole: bytes) -> None:
    response = api.get(GET, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert response.status_code == 200 and response.content == whole


def test_head_gives_the_get_headers_without_a_body(api: ApiClient, whole: bytes) -> None:
    head = api.request("HEAD", GET)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(whole)
    ranged = api.request("HEAD", GET, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(whole)}"


def test_binary_npz_and_safetensors_ranges_equal_their_bodies(api: ApiClient) -> None:
    for fmt in ("npz", "safetensors"):
        url = f"/v1/weights/uniform?shape=200,333&seed=9&format={fmt}"
        whole = api.get(url).content
        part = api.get(url, headers={"Range": "bytes=50-70000"})
        assert part.status_code == 206 and part.content == whole[50:70001]


SLICES = ["0:100", "10:20, 100:650", "-50:, :", "299:300, 699:700", "5:5"]


@pytest.mark.parametrize("text", SLICES)
def test_a_slice_equals_slicing_the_whole_tensor(api: ApiClient, whole: bytes, text: str) -> None:
    response = api.post("/v1/weights", params={"format": "npy"}, json={**BODY, "slice": text})
    assert response.status_code == 200, response.text
    index = tuple(
        slice(*(int(b) if b.strip() else None for b in part.split(":"))) for part in text.split(",")
    )
    want = npy(whole)[index]
    got = npy(response.content)
    assert got.shape == want.shape and got.tobytes() == want.tobytes()
    assert response.headers["x-weightinit-full-shape"] == "300,700"
    get = api.get(GET + "&slice=" + text.replace(" ", ""))
    assert get.content == response.content


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_shards_stitched_equal_the_whole_tensor(api: ApiClient, whole: bytes, dim: int) -> None:
    pieces = []
    for index in range(8):
        body = {**BODY, "shard": {"dim": dim, "index": index, "count": 8}}
        response = api.post("/v1/weights", params={"format": "npy"}, json=body)
        assert response.status_code == 200, response.text
        pieces.append(npy(response.content))
        assert api.get(f"{GET}&shard={dim},{index},8").content == response.content
    assert np.concatenate(pieces, axis=dim).tobytes() == npy(whole).tobytes()


def test_json_slices_report_full_shape_and_the_normalised_slice(api: ApiClient) -> None:
    response = api.post("/v1/weights", params={"format": "json"}, json={**BODY, "slice": "1:3,-2:"})
    tensor = response.json()["tensors"][0]
    assert tensor["shape"] == [2, 2] and tensor["full_shape"] == [300, 700]
    assert tensor["slice"] == "1:3,698:700"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"slice": "0:2:2"}, "slice"),
        ({"slice": "0:1,0:1,0:1"}, "slice"),
        ({"slice": "a:b"}, "slice"),
        ({"shard": {"dim": 2, "index": 0, "count": 2}}, "shard.dim"),
        ({"shard": {"dim": 0, "index": 3, "count": 2}}, "shard.index"),
        ({"shard": {"dim": 0, "index": 0, "count": 0}}, "shard.count"),
        ({"slice": "0:1", "shard": {"dim": 0, "index": 0, "count": 2}}, "shard"),
    ],
)
def test_bad_slices_and_shards_are_422_naming_the_field(
    api: ApiClient, extra: dict[str, Any], field: str
) -> None:
    response = api.post("/v1/weights", params={"format": "npy"}, json={**BODY, **extra})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert field in [e["field"] for e in response.json()["errors"]], response.text


@pytest.mark.parametrize("shard", ["1,2", "0,9,8", "x"])
def test_bad_get_shards_are_4xx_problems(api: ApiClient, shard: str) -> None:
    response = api.get(f"{GET}&shard={shard}")
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_JSON


MODEL = {
    "seed": 2,
    "layers": [
        {"name": "attn.q_proj", "layer": {"kind": "dense", "in_features": 64, "out_features": 96}},
        {"name": "attn.o_proj", "layer": {"kind": "dense", "in_features": 96, "out_features": 64}},
        {"name": "norm", "layer": {"kind": "layer_norm", "normalized_shape": 64}, "scheme": "ones"},
    ],
    "scheme": "he_uniform",
}
PLAN = {"*.q_proj.weight": 0, "*.q_proj.bias": 0, "*.o_proj.weight": 1}


def test_a_shard_plan_gives_each_rank_its_megatron_pieces(api: ApiClient) -> None:
    response = api.post("/v1/models.safetensors", json=MODEL)
    assert response.status_code == 200, response.text
    whole = safetensors.numpy.load(response.content)
    ranks = []
    for index in range(4):
        body = {**MODEL, "shard": {"index": index, "count": 4, "dims": PLAN}}
        response = api.post("/v1/models.safetensors", json=body)
        assert response.status_code == 200, response.text
        ranks.append(safetensors.numpy.load(response.content))
    assert ranks[1]["attn.q_proj.weight"].shape == (24, 64)
    assert ranks[1]["attn.o_proj.weight"].shape == (64, 24)
    for name, array in whole.items():
        dim = {"attn.q_proj.weight": 0, "attn.q_proj.bias": 0, "attn.o_proj.weight": 1}.get(name)
        if dim is None:
            assert all(r[name].tobytes() == array.tobytes() for r in ranks)  # unmatched: whole
        else:
            assert np.concatenate([r[name] for r in ranks], axis=dim).tobytes() == array.tobytes()


def test_a_shard_plan_with_a_dim_the_tensor_lacks_is_422(api: ApiClient) -> None:
    body = {**MODEL, "shard": {"index": 0, "count": 2, "dims": {"*.bias": 1}}}
    response = api.post("/v1/models.safetensors", json=body)
    assert response.status_code == 422
    assert "shard.dims[attn.q_proj.bias].dim" in response.text


def test_digests_match_the_downloaded_bytes_and_their_blocks(api: ApiClient, whole: bytes) -> None:
    body = {"layer": {"kind": "tensor", "shape": [300, 700]}, "scheme": "he_normal", "seed": 4}
    response = api.post("/v1/weights/digests", json=body)
    assert response.status_code == 200, response.text
    (tensor,) = response.json()["tensors"]
    data = whole[128:]
    assert tensor["sha256"] == hashlib.sha256(data).hexdigest()
    step = tensor["block_elements"] * 4
    assert tensor["blocks"] == [
        hashlib.sha256(data[i : i + step]).hexdigest() for i in range(0, len(data), step)
    ]
    sharded = api.post(
        "/v1/weights/digests", json={**body, "shard": {"dim": 1, "index": 1, "count": 3}}
    )
    piece = api.post(
        "/v1/weights",
        params={"format": "npy"},
        json={**body, "shard": {"dim": 1, "index": 1, "count": 3}},
    )
    (shard,) = sharded.json()["tensors"]
    assert shard["sha256"] == hashlib.sha256(piece.content[128:]).hexdigest()
    assert shard["full_shape"] == [300, 700] and shard["slice"] == "0:300,234:468"


def test_model_digests_equal_the_sha256_of_each_tensor(api: ApiClient) -> None:
    response = api.post("/v1/models/digests", params={"blocks": "false"}, json=MODEL)
    listed = {t["name"]: t["sha256"] for t in response.json()["tensors"]}
    loaded = safetensors.numpy.load(api.post("/v1/models.safetensors", json=MODEL).content)
    assert listed == {n: hashlib.sha256(a.tobytes()).hexdigest() for n, a in loaded.items()}
    assert all("blocks" not in t for t in response.json()["tensors"])


def test_too_many_block_digests_are_refused_before_any_work() -> None:
    client = ApiClient(Settings(max_digest_blocks=3))
    body = {"layer": {"kind": "tensor", "shape": [1024, 1024]}, "scheme": "normal", "seed": 1}
    response = client.post("/v1/weights/digests", json=body)
    assert (
        response.status_code == 413 and response.json()["limit"] == "WEIGHTINIT_MAX_DIGEST_BLOCKS"
    )
    assert (
        client.post("/v1/weights/digests", params={"blocks": "false"}, json=body).status_code == 200
    )
    client.close()


def test_a_70_billion_element_tensor_is_served_by_range_without_generating_the_rest(
    api: ApiClient,
) -> None:
    url = "/v1/weights/normal?shape=280000,250000&seed=1&dtype=bfloat16&format=safetensors"
    head = api.request("HEAD", url)
    assert head.status_code == 200, head.text
    size = int(head.headers["content-length"])
    assert size > 2 * 7e10
    tail = api.get(url, headers={"Range": "bytes=-4096"})
    assert tail.status_code == 206 and len(tail.content) == 4096
    assert tail.headers["content-range"] == f"bytes {size - 4096}-{size - 1}/{size}"
    body = {"layer": {"kind": "tensor", "shape": [280000, 250000]}, "scheme": "normal", "seed": 1}
    piece = api.post(
        "/v1/weights.safetensors",
        json={**body, "dtype": "bfloat16", "slice": "279999:280000, 249488:"},
    )
    assert piece.content[-1024:] == tail.content[-1024:]  # the last 512 values, either way


def test_head_of_a_json_body_sends_no_length(api: ApiClient) -> None:
    head = api.request("HEAD", "/v1/weights/normal?shape=4,4&seed=1&format=json")
    assert head.status_code == 200 and head.content == b""
    assert "content-length" not in head.headers and head.headers["etag"]


def test_a_range_of_a_tensor_that_can_overflow_its_dtype_is_422_not_a_broken_206(
    api: ApiClient,
) -> None:
    url = "/v1/weights/normal?seed=1&dtype=float16&format=npy&shape=4096,4096&std=1e5"
    for headers in ({"Range": "bytes=-100"}, {"Range": "bytes=0-99"}, {}):
        response = api.get(url, headers=headers)
        assert response.status_code == 422 and "largest finite value" in response.text
    assert api.request("HEAD", url).status_code == 422
    sliced = api.get(url + "&slice=0:1,0:4")  # whatever the part asked for
    assert sliced.status_code == 422


def test_negotiated_responses_vary_on_accept_and_only_get_offers_ranges(api: ApiClient) -> None:
    get = api.get(GET)
    assert get.headers["vary"] == "Accept" and get.headers["accept-ranges"] == "bytes"
    post = api.post("/v1/weights", params={"format": "npy"}, json=BODY)
    assert post.headers["vary"] == "Accept" and "accept-ranges" not in post.headers


def test_a_layer_without_tensors_is_an_empty_archive_or_a_clear_422(api: ApiClient) -> None:
    # found by schemathesis: layer_norm without affine parameters has no tensors at all
    body = {
        "layer": {"kind": "layer_norm", "normalized_shape": 4, "elementwise_affine": False},
        "seed": 1,
    }
    npy = api.post("/v1/weights.npy", json=body)
    assert npy.status_code == 422 and npy.json()["errors"][0]["field"] == "layer"
    assert (
        api.post("/v1/weights", params={"format": "npy"}, json={**body, "slice": "0:1"}).status_code
        == 422
    )
    assert safetensors.numpy.load(api.post("/v1/weights.safetensors", json=body).content) == {}
    archive = api.post("/v1/weights.npz", json=body)
    assert archive.status_code == 200 and archive.content.startswith(b"PK\x05\x06")
    assert api.post("/v1/weights", params={"format": "json"}, json=body).json()["tensors"] == []
