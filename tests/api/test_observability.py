"""/metrics (Prometheus text format, route templates), JSON access logs and request ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.api import metrics
from app.api.settings import Settings
from tests.api.conftest import ApiClient
from tests.live_server import ROOT, clean_env, free_port, serve_process

DENSE = {"layer": {"kind": "dense", "in_features": 4, "out_features": 3}, "seed": 1}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_total(values: Samples, method: str, route: str, status: int) -> float:
    labels = (("method", method), ("route", route), ("status", str(status)))
    return values.get(("weightinit_http_requests_total", labels), 0.0)


@pytest.fixture
def api() -> ApiClient:
    return ApiClient(Settings(cache_bytes=0))


def test_metrics_count_requests_by_route_template(api: ApiClient) -> None:
    before = samples(api.get("/metrics").text)
    for scheme in ("he_normal", "glorot_uniform", "zeros"):
        assert api.get(f"/v1/weights/{scheme}?shape=3,4&seed=1").status_code == 200
    assert api.post("/v1/weights", json=DENSE).status_code == 200
    assert api.get("/v1/schemes/no_such_scheme").status_code == 404
    for path in ("/no/such/page", "/another/made-up/path"):
        assert api.get(path).status_code == 404
    assert api.request("BREW", "/v1/weights").status_code == 405
    response = api.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def grew(method: str, route: str, status: int) -> float:
        return requests_total(after, method, route, status) - requests_total(
            before, method, route, status
        )

    assert grew("GET", "/v1/weights/{scheme}", 200) == 3  # the template, not three paths
    assert grew("POST", "/v1/weights", 200) == 1
    assert grew("GET", "/v1/schemes/{name}", 404) == 1
    assert grew("GET", metrics.UNMATCHED, 404) == 2  # unknown paths: one label value
    assert grew("other", "/v1/weights", 405) == 1  # unknown methods: one label value
    routes = {dict(labels).get("route") for (name, labels) in after if "http_" in name}
    assert not any(route and "he_normal" in route for route in routes)

    key = ("weightinit_http_request_duration_seconds_count",)
    labels = (("method", "GET"), ("route", "/v1/weights/{scheme}"))
    assert after[(*key, labels)] - before.get((*key, labels), 0) == 3
    sent = ("weightinit_http_response_bytes_total", (("method", "POST"), ("route", "/v1/weights")))
    assert after[sent] - before.get(sent, 0) > 100
    for name in (
        "weightinit_generation_jobs_active",
        "weightinit_generation_jobs_queued",
        "weightinit_cancellations_total",
    ):
        assert (name, ()) in after


def test_rejections_are_counted_by_reason() -> None:
    api = ApiClient(Settings(api_keys=("k" * 20,), max_body_bytes=100))
    name = "weightinit_rejections_total"
    try:
        before = samples(api.get("/metrics", headers={"X-API-Key": "k" * 20}).text)
        assert api.get("/v1/schemes").status_code == 401
        big = api.post("/v1/weights", content=b"x" * 200, headers={"X-API-Key": "k" * 20})
        assert big.status_code == 413
        after = samples(api.get("/metrics", headers={"X-API-Key": "k" * 20}).text)
    finally:
        api.close()
    for reason in ("unauthorized", "too_large"):
        labels = (("reason", reason),)
        assert after[(name, labels)] - before.get((name, labels), 0) == 1
    with pytest.raises(ValueError, match="unknown rejection reason"):
        metrics.record_rejection("bored")


def test_one_json_log_line_per_request_with_its_fields(
    api: ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    api.post("/v1/weights", json=DENSE, headers={"X-Request-ID": "log-1"})
    api.get("/v1/weights/he_normal?shape=3,4&seed=1", headers={"X-Request-ID": "log-2"})
    api.get("/no/such/page", headers={"X-Request-ID": "log-3"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    access = [line for line in lines if line.get("logger") == "weightinit.access"]
    assert [line["request_id"] for line in access] == ["log-1", "log-2", "log-3"]
    for line in access:
        assert {"ts", "level", "method", "route", "status", "duration_s", "bytes"} <= set(line)
        assert line["duration_s"] >= 0 and line["bytes"] > 0
    assert [(a["method"], a["route"], a["status"]) for a in access] == [
        ("POST", "/v1/weights", 200),
        ("GET", "/v1/weights/{scheme}", 200),
        ("GET", metrics.UNMATCHED, 404),
    ]
    assert "seed" not in json.dumps(access)  # no body or query string is logged


def test_request_id_is_in_every_problem_and_header(api: ApiClient) -> None:
    for method, path, body in (
        ("POST", "/v1/weights", {"seed": 1}),
        ("GET", "/no/such/page", None),
        ("POST", "/v1/weights", "not json"),
    ):
        response = api.request(method, path, json=body, headers={"X-Request-ID": "rid-7"})
        assert response.status_code >= 400
        assert response.headers["x-request-id"] == "rid-7"
        assert response.json()["request_id"] == "rid-7"
    generated = api.get("/no/such/page")
    assert generated.json()["request_id"] == generated.headers["x-request-id"]
    assert len(generated.headers["x-request-id"]) == 32


def _metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    return sum(v for (n, _), v in samples(text).items() if n == name)


def test_live_an_abandoned_stream_is_a_cancellation(tmp_path: Path) -> None:
    """A real process: while a large stream is paused the job is active; the client leaving
    counts one cancellation and frees the job."""
    with serve_process() as (url, _):
        before = _metric(url, "weightinit_cancellations_total")
        big = f"{url}/v1/weights/he_normal?shape=8192,8192&seed=1&format=npy"
        with httpx.Client(timeout=30.0) as http, http.stream("GET", big) as response:
            assert response.status_code == 200
            chunks = response.iter_raw(1 << 16)  # kept: dropping it would close the response
            next(chunks)
            assert _metric(url, "weightinit_generation_jobs_active") == 1
            assert _metric(url, "weightinit_cancellations_total") == before
        deadline = time.monotonic() + 10
        while _metric(url, "weightinit_cancellations_total") == before:
            assert time.monotonic() < deadline, "the cancellation was not counted"
            time.sleep(0.1)
        assert _metric(url, "weightinit_generation_jobs_active") == 0


def test_live_workers_share_metrics_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two uvicorn workers with PROMETHEUS_MULTIPROC_DIR: /metrics adds up both."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**clean_env(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--workers", "2"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert process.poll() is None and time.monotonic() < deadline, "not started"
            time.sleep(0.1)
        base = _metric(url, "weightinit_http_requests_total")
        for _ in range(40):  # new connections: the kernel hands them to either worker
            assert httpx.get(f"{url}/v1/schemes", headers={"Connection": "close"}).is_success
        totals = [_metric(url, "weightinit_http_requests_total") - base for _ in range(5)]
        # every scrape, whichever worker answers it, counts every worker's requests (and
        # the scrapes before it)
        assert totals == [41, 42, 43, 44, 45]
        assert len({path.name for path in tmp_path.glob("counter_*.db")}) >= 2
    finally:
        process.terminate()
        process.wait(timeout=20)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


if os.name != "posix":  # pragma: no cover
    pytest.skip("live multi-worker tests need POSIX", allow_module_level=True)
