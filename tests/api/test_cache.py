"""Identical requests replay the same small response; nothing else is ever replayed."""

from __future__ import annotations

from app.api.settings import Settings

from .conftest import ApiClient

URL = "/v1/weights/he_uniform?shape=64,64&seed=1&format=json"
BODY = {"layer": {"kind": "dense", "in_features": 30, "out_features": 20}, "seed": 3}


def test_a_repeated_request_is_a_hit_with_the_same_bytes_and_its_own_request_id() -> None:
    api = ApiClient(Settings())
    first, second = api.get(URL), api.get(URL)
    assert first.headers["x-weightinit-cache"] == "miss"
    assert second.headers["x-weightinit-cache"] == "hit"
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    post = [api.post("/v1/weights", params={"format": "npz"}, json=BODY) for _ in range(2)]
    assert [p.headers["x-weightinit-cache"] for p in post] == ["miss", "hit"]
    assert post[0].content == post[1].content
    api.close()


def test_accept_ranges_errors_and_digests_are_not_replayed() -> None:
    api = ApiClient(Settings())
    negotiated = URL.replace("&format=json", "")
    npy = api.get(negotiated, headers={"Accept": "application/x-npy"})
    assert npy.headers["x-weightinit-cache"] == "miss" and npy.content.startswith(b"\x93NUMPY")
    assert api.get(negotiated).content.startswith(b"{")  # JSON, cached under its own Accept
    assert api.get(negotiated, headers={"Accept": "application/x-npy"}).content == npy.content
    ranged = api.get(URL.replace("json", "npy"), headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and "x-weightinit-cache" not in ranged.headers
    for _ in range(2):
        bad = api.get("/v1/weights/he_uniform?shape=64,64&seed=x")
        assert bad.status_code == 422 and bad.headers.get("x-weightinit-cache") != "hit"
        digest = api.post("/v1/weights/digests", json=BODY)
        assert "x-weightinit-cache" not in digest.headers
    api.close()


def test_a_hit_answers_if_none_match_with_304() -> None:
    api = ApiClient(Settings())
    etag = api.get(URL).headers["etag"]
    again = api.get(URL, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    api.close()


def test_the_cache_stays_within_its_bytes_and_can_be_turned_off() -> None:
    api = ApiClient(Settings(cache_bytes=200_000))
    url = "/v1/weights/normal?shape=64,64&seed={}&format=npy"  # 16 KiB each
    for seed in range(20):
        assert api.get(url.format(seed)).headers["x-weightinit-cache"] == "miss"
    # 20 x 16 KiB > 200 000 bytes: the oldest were evicted, the newest are kept
    assert api.get(url.format(19)).headers["x-weightinit-cache"] == "hit"
    assert api.get(url.format(0)).headers["x-weightinit-cache"] == "miss"
    off = ApiClient(Settings(cache_bytes=0))
    assert "x-weightinit-cache" not in off.get(URL).headers
    assert "x-weightinit-cache" not in off.get(URL).headers
    api.close()
    off.close()
