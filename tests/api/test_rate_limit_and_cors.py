"""Per-key token-bucket rate limit (WEIGHTINIT_RATE_LIMIT / _BURST) and the CORS allow-list."""

from __future__ import annotations

import pytest

from app.api.gate import TokenBuckets
from app.api.settings import Settings
from tests.api.conftest import PROBLEM_JSON, ApiClient

KEYS = ("key-one-0123456789", "key-two-0123456789")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token every 1/2 s
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 60  # never more than the burst
    assert [buckets.take("a") for _ in range(4)][-1] > 0


def test_after_the_burst_429_with_retry_after_per_client() -> None:
    api = ApiClient(Settings(rate_limit=0.5, rate_burst=3))
    try:
        statuses = [api.get("/v1/schemes").status_code for _ in range(3)]
        limited = api.get("/v1/schemes", headers={"X-Request-ID": "slow-down"})
        health = [api.get(path).status_code for path in ("/healthz", "/readyz", "/metrics")]
    finally:
        api.close()
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == PROBLEM_JSON
    assert limited.headers["retry-after"] == "2"  # 1 token at 0.5/s: 2 s
    problem = limited.json()
    assert problem["title"] == "Too many requests"
    assert problem["request_id"] == "slow-down"
    assert problem["limit"] == "WEIGHTINIT_RATE_LIMIT"
    assert "client address" in problem["detail"]
    assert health == [200, 200, 200]  # health, readiness and metrics are never limited


def test_with_keys_each_key_has_its_own_bucket() -> None:
    api = ApiClient(Settings(api_keys=KEYS, rate_limit=0.1, rate_burst=2))
    one, two = ({"X-API-Key": key} for key in KEYS)
    try:
        first = [api.get("/v1/schemes", headers=one).status_code for _ in range(3)]
        second = [api.get("/v1/schemes", headers=two).status_code for _ in range(2)]
        limited = api.get("/v1/schemes", headers=one)
        unauthorized = api.get("/v1/schemes")  # no key: 401, not a bucket of its own
    finally:
        api.close()
    assert first == [200, 200, 429]
    assert second == [200, 200]
    assert limited.headers["retry-after"] == "10"
    assert "API key" in limited.json()["detail"] and KEYS[0] not in limited.text
    assert unauthorized.status_code == 401


def test_rate_limit_is_off_by_default(client: ApiClient) -> None:
    assert {client.get("/v1/schemes").status_code for _ in range(30)} == {200}


ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_cors_preflight_is_allowed_only_for_listed_origins() -> None:
    api = ApiClient(Settings(cors_origins=(ORIGIN,), api_keys=KEYS))
    try:
        allowed = api.request("OPTIONS", "/v1/weights", headers={"Origin": ORIGIN, **PREFLIGHT})
        other = api.request(
            "OPTIONS", "/v1/weights", headers={"Origin": "https://evil.example", **PREFLIGHT}
        )
        simple = api.get("/v1/schemes", headers={"Origin": ORIGIN, "X-API-Key": KEYS[0]})
        refused = api.get("/v1/schemes", headers={"Origin": ORIGIN})
    finally:
        api.close()
    # A preflight carries no key: it is answered before the key is asked for.
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    assert simple.status_code == 200
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    # A refusal is readable by the page too (it can show the problem).
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ORIGIN


def test_cors_is_off_by_default(client: ApiClient) -> None:
    preflight = client.request("OPTIONS", "/v1/weights", headers={"Origin": ORIGIN, **PREFLIGHT})
    simple = client.get("/v1/schemes", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers
