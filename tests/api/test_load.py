"""A bounded loopback load test against a real uvicorn (README, "Operations").

2 000 requests, 32 at a time: small JSON and npy downloads, small models, bad requests of
every kind, a few large streams and a few expensive (orthogonal) models. Every request must
complete; no 5xx but the documented 503 (with ``Retry-After``); every error problem+json;
``/healthz`` answers within :data:`HEALTH_BOUND` seconds throughout; the server is healthy
afterwards with its threads back under a bound. ``make soak`` runs a longer variant
(``WEIGHTINIT_SOAK=1``) and prints the server's RSS and the small-request p99.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.live_server import serve_process

PROBLEM_JSON = "application/problem+json"
SOAK = os.environ.get("WEIGHTINIT_SOAK") == "1"
REQUESTS = 20_000 if SOAK else 2_000
CONCURRENCY = 32
HEALTH_BOUND = 5.0
ALLOWED = {200, 400, 404, 405, 413, 415, 422, 503}
MAX_THREADS = 96  # 2 lanes x 2 generation threads, anyio's 40 workers, uvicorn's own; margin
EXPENSIVE_EVERY = 500  # one expensive model and one large stream per 500 requests

ORTHO = {
    "layers": [
        {"name": f"o{i}", "layer": {"kind": "dense", "in_features": 1024, "out_features": 1024}}
        for i in range(2)
    ],
    "scheme": "orthogonal",
}


@dataclass(frozen=True)
class Call:
    kind: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _json(body: object) -> tuple[bytes, dict[str, str]]:
    return json.dumps(body).encode(), {"content-type": "application/json"}


def _bad(rng: random.Random, i: int) -> Call:
    """One request of each class a client gets wrong, in turn."""
    post = "/v1/weights"
    negative = json.dumps({"seed": 1, "layer": {"kind": "dense", "in_features": -1}})
    bad = [
        Call("bad", "POST", post, b'{"seed": 1, "layer": ', _json({})[1]),  # 400
        Call("bad", "GET", f"/v1/weights/he_nrmal?shape=4,4&seed={i}"),  # 404
        Call("bad", "POST", post, negative.encode(), _json({})[1]),  # 422
        Call("bad", "POST", post, b"seed=1", {"content-type": "text/plain"}),  # 415
        # over WEIGHTINIT_MAX_JSON_ELEMENTS: 413
        Call("bad", "GET", "/v1/weights/normal?shape=4096,4096&seed=1&format=json"),
        Call("bad", "DELETE", post),  # 405
        Call("bad", "GET", f"/v1/nothing/{rng.randrange(1000)}"),  # 404
    ]
    return bad[i % len(bad)]


def plan(count: int) -> list[Call]:
    rng = random.Random(11)
    calls: list[Call] = []
    for i in range(count):
        if i % EXPENSIVE_EVERY == 7:
            body, headers = _json({**ORTHO, "seed": i})
            calls.append(Call("expensive", "POST", "/v1/models.safetensors", body, headers))
            continue
        if i % EXPENSIVE_EVERY == 250:  # 64 MiB, streamed
            path = f"/v1/weights/uniform?shape=4096,4096&seed={i}&format=npy"
            calls.append(Call("large", "GET", path))
            continue
        roll = rng.random()
        if roll < 0.5:
            scheme = rng.choice(["he_normal", "xavier_uniform", "normal", "orthogonal"])
            path = f"/v1/weights/{scheme}?shape=16,16&seed={rng.randrange(400)}&format=json"
            calls.append(Call("small", "GET", path))
        elif roll < 0.7:
            layer = {"kind": "dense", "in_features": 64, "out_features": 32}
            body, headers = _json({"seed": rng.randrange(10**6), "layer": layer})
            calls.append(Call("small", "POST", "/v1/weights.npy?tensor=weight", body, headers))
        elif roll < 0.8:
            sizes = [32, rng.choice([8, 16, 24]), 8]
            body, headers = _json({"seed": i, "mlp": {"sizes": sizes}})
            calls.append(Call("small", "POST", "/v1/models.safetensors", body, headers))
        else:
            calls.append(_bad(rng, i))
    return calls


@dataclass
class Outcome:
    call: Call
    status: int
    seconds: float
    problem: dict[str, Any] | None
    headers: httpx.Headers


def _problem(response: httpx.Response, body: bytes) -> dict[str, Any] | None:
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type") == PROBLEM_JSON, (response.status_code, body)
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == response.status_code and problem["detail"], problem
    return problem


async def _one(client: httpx.AsyncClient, call: Call) -> Outcome:
    started = time.monotonic()
    request = client.build_request(call.method, call.path, content=call.body, headers=call.headers)
    response = await client.send(request, stream=True)
    try:
        size = 0
        chunks: list[bytes] = []
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if response.status_code >= 400:
                chunks.append(chunk)
        length = response.headers.get("content-length")
        assert length is None or int(length) == size, (call, length, size)
    finally:
        await response.aclose()
    problem = _problem(response, b"".join(chunks))
    return Outcome(
        call, response.status_code, time.monotonic() - started, problem, response.headers
    )


async def _health(url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as probe:
        while not stop.is_set():
            started = time.monotonic()
            response = await probe.get("/healthz")
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200
            await asyncio.sleep(0.2)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


async def _load(url: str, pid: int, calls: list[Call]) -> tuple[list[Outcome], list[float], float]:
    queue: asyncio.Queue[Call] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    outcomes: list[Outcome] = []
    health: list[float] = []
    peak_rss = 0.0
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal peak_rss
        while not queue.empty():
            call = queue.get_nowait()
            try:
                outcomes.append(await _one(client, call))
            except httpx.HTTPError as exc:
                raise AssertionError(f"{call} did not complete: {exc!r}") from exc
            peak_rss = max(peak_rss, _rss_mib(pid))

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        prober = asyncio.create_task(_health(url, stop, health))
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
        stop.set()
        await prober
    return outcomes, health, peak_rss


async def _large_lane_is_free(url: str) -> list[tuple[int, float]]:
    """As many large jobs as the large lane has slots (4 by default), at once: each runs at
    once if no slot leaked (a leaked slot would queue one for WEIGHTINIT_QUEUE_TIMEOUT_S)."""

    async def one(client: httpx.AsyncClient, seed: int) -> tuple[int, float]:
        started = time.monotonic()
        path = f"/v1/weights/uniform?shape=4096,4096&seed={10**6 + seed}&format=npy"
        response = await client.get(path)
        return response.status_code, time.monotonic() - started

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return list(await asyncio.gather(*(one(client, seed) for seed in range(4))))


def test_mixed_load_completes_without_5xx_and_health_answers_throughout() -> None:
    calls = plan(REQUESTS)
    with serve_process({"WEIGHTINIT_THREADS": "2"}) as (url, pid):
        started = time.monotonic()
        outcomes, health, peak_rss = asyncio.run(_load(url, pid, calls))
        elapsed = time.monotonic() - started
        assert len(outcomes) == len(calls)  # every request completed
        for outcome in outcomes:
            assert outcome.status in ALLOWED, (outcome.call, outcome.status, outcome.problem)
            if outcome.status == 503:  # the documented overload answer, and only that
                assert outcome.headers["retry-after"].isdigit(), outcome.headers
                assert outcome.problem and outcome.problem["reason"] in (
                    "queue_full",
                    "queue_timeout",
                )
        kinds = {o.call.kind for o in outcomes if o.status == 200}
        assert kinds == {"small", "large", "expensive"}
        assert {o.status for o in outcomes if o.call.kind == "bad"} <= ALLOWED - {200, 503}
        assert max(health) < HEALTH_BOUND, f"/healthz took {max(health):.1f} s"
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
        assert httpx.get(url + "/readyz", timeout=10).status_code == 200
        assert _threads(pid) <= MAX_THREADS
        after = asyncio.run(_large_lane_is_free(url))
        assert all(status == 200 and seconds < 8 for status, seconds in after), after
        small = sorted(o.seconds for o in outcomes if o.call.kind == "small" and o.status == 200)
        p99 = small[int(0.99 * (len(small) - 1))]
        refused = sum(o.status == 503 for o in outcomes)
        print(
            f"\n{len(outcomes)} requests in {elapsed:.1f} s; small p99 {p99 * 1000:.0f} ms, "
            f"median {statistics.median(small) * 1000:.0f} ms; /healthz max "
            f"{max(health) * 1000:.0f} ms; 503s {refused}; server RSS peak {peak_rss:.0f} MiB, "
            f"now {_rss_mib(pid):.0f} MiB; threads {_threads(pid)}"
        )
