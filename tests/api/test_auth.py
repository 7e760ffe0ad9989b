"""Optional API keys (WEIGHTINIT_API_KEYS / _FILE): 401 without a valid key, health open."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api.gate import KeyRing
from app.api.settings import Settings, SettingsError
from tests.api.conftest import PROBLEM_JSON, ApiClient
from tests.live_server import serve_process

KEYS = ("alpha-key-0123456789", "beta-key-9876543210")
DENSE = {"layer": {"kind": "dense", "in_features": 4, "out_features": 3}, "seed": 1}
# Every kind of endpoint: API routes (JSON and binary), the registry, the index, the docs,
# the OpenAPI document, the metrics, the docs' static files, and a path that does not exist.
GUARDED = [
    ("POST", "/v1/weights"),
    ("POST", "/v1/weights.npy?tensor=weight"),  # a .npy holds one of the dense layer's two
    ("GET", "/v1/weights/he_normal?shape=3,4&seed=1"),
    ("GET", "/v1/schemes"),
    ("GET", "/"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/docs-static/swagger-ui.css"),
    ("GET", "/no/such/page"),
]


@pytest.fixture(scope="module")
def keyed() -> Iterator[ApiClient]:
    api = ApiClient(Settings(api_keys=KEYS))
    yield api
    api.close()


def _call(api: ApiClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body = DENSE if method == "POST" else None
    return api.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_without_a_key_every_endpoint_but_health_is_401(
    keyed: ApiClient, method: str, path: str
) -> None:
    response = _call(keyed, method, path, {"X-Request-ID": "no-key-1"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"].startswith("Bearer")
    problem = response.json()
    assert problem["status"] == 401 and problem["title"] == "Unauthorized"
    assert problem["request_id"] == "no-key-1" == response.headers["x-request-id"]
    assert "X-API-Key" in problem["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-key"},
        {"X-API-Key": "wrong-key"},
        {"Authorization": "Bearer " + KEYS[0][:-1]},  # a prefix of a key
        {"Authorization": "Basic " + KEYS[0]},  # the right key in the wrong scheme
    ],
)
@pytest.mark.parametrize(("method", "path"), GUARDED[:4])
def test_a_wrong_key_is_401_and_never_echoed(
    keyed: ApiClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = _call(keyed, method, path, headers)
    assert response.status_code == 401
    if "Basic" not in headers.get("Authorization", ""):
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    for value in (*headers.values(), *KEYS):
        assert value.split()[-1] not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEYS[0]}"},
        {"authorization": f"bearer {KEYS[1]}"},
        {"X-API-Key": KEYS[1]},
        {"X-API-Key": "wrong", "Authorization": f"Bearer {KEYS[0]}"},
    ],
)
@pytest.mark.parametrize(("method", "path"), GUARDED[:-1])
def test_a_right_key_is_let_through(
    keyed: ApiClient, method: str, path: str, headers: dict[str, str]
) -> None:
    assert _call(keyed, method, path, headers).status_code == 200


def test_an_unknown_path_with_a_right_key_is_404(keyed: ApiClient) -> None:
    response = keyed.get("/no/such/page", headers={"X-API-Key": KEYS[0]})
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_health_and_readiness_need_no_key(keyed: ApiClient, path: str, method: str) -> None:
    assert keyed.request(method, path).status_code in (200, 405)  # HEAD: the edge's work
    assert keyed.get(path, headers={"X-API-Key": "wrong"}).status_code == 200


def test_without_keys_nothing_is_asked(client: ApiClient) -> None:
    assert client.get("/v1/schemes").status_code == 200
    assert client.get("/v1/schemes", headers={"X-API-Key": "anything"}).status_code == 200


class _Has:
    """``{"k": v} in lines``: some access line has field k equal to v."""

    def __init__(self, lines: list[dict[str, object]]) -> None:
        self.lines = lines

    def __contains__(self, wanted: object) -> bool:
        assert isinstance(wanted, dict)
        return any(all(line.get(k) == v for k, v in wanted.items()) for line in self.lines)


def access_lines(text: str) -> _Has:
    """The JSON access log lines found anywhere in ``text`` (one object per line)."""
    lines = []
    for raw in text.splitlines():
        start = raw.find("{")
        if start < 0:
            continue
        try:
            parsed = json.loads(raw[start:])
        except ValueError:
            continue
        if isinstance(parsed, dict) and parsed.get("message") == "request":
            lines.append(parsed)
    return _Has(lines)


def test_keys_never_reach_the_logs(
    keyed: ApiClient, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG):
        for headers in ({"X-API-Key": KEYS[0]}, {"Authorization": f"Bearer {KEYS[1]}"}):
            assert keyed.post("/v1/weights", json=DENSE, headers=headers).status_code == 200
        keyed.get("/v1/schemes", headers={"X-API-Key": "wrong-secret-attempt"})
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert {"route": "/v1/weights"} in access_lines(logged)  # the access log was captured
    for secret in (*KEYS, "wrong-secret-attempt"):
        assert secret not in logged


def test_the_key_ring_matches_exactly() -> None:
    ring = KeyRing(KEYS)
    assert ring.match(KEYS[1].encode()) == 1
    assert ring.match(KEYS[0].encode()) == 0
    for wrong in (b"", KEYS[0][:-1].encode(), KEYS[0].encode() + b"x", KEYS[0].upper().encode()):
        assert ring.match(wrong) is None
    assert not KeyRing(())
    assert "alpha" not in repr(Settings(api_keys=KEYS))


def test_keys_come_from_the_variable_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# operators\nfile-key-1\n\n  file-key-2  \n")
    monkeypatch.setenv("WEIGHTINIT_API_KEYS", " env-key-1 , ,env-key-2")
    monkeypatch.setenv("WEIGHTINIT_API_KEYS_FILE", str(keys_file))
    keys = Settings.from_env().api_keys
    assert keys == ("env-key-1", "env-key-2", "file-key-1", "file-key-2")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WEIGHTINIT_API_KEYS", "good,bad key", "WEIGHTINIT_API_KEYS: an API key must be"),
        ("WEIGHTINIT_API_KEYS_FILE", "/no/such/file", "WEIGHTINIT_API_KEYS_FILE: cannot read"),
        ("WEIGHTINIT_RATE_LIMIT", "fast", "WEIGHTINIT_RATE_LIMIT must be a number >= 0"),
        ("WEIGHTINIT_RATE_LIMIT", "-1", "WEIGHTINIT_RATE_LIMIT must be a number >= 0"),
        ("WEIGHTINIT_RATE_BURST", "0", "WEIGHTINIT_RATE_BURST must be a positive integer"),
        ("WEIGHTINIT_CORS_ORIGINS", "example.com", "WEIGHTINIT_CORS_ORIGINS must be"),
        ("WEIGHTINIT_CORS_ORIGINS", "https://a.example/path", "WEIGHTINIT_CORS_ORIGINS must"),
    ],
)
def test_bad_settings_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env()
    assert "bad key" not in str(caught.value)


def test_a_key_file_line_is_named_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("fine-key\nsecret with space\n")
    monkeypatch.setenv("WEIGHTINIT_API_KEYS_FILE", str(keys_file))
    with pytest.raises(SettingsError, match="WEIGHTINIT_API_KEYS_FILE line 2") as caught:
        Settings.from_env()
    assert "secret" not in str(caught.value)


def test_live_server_requires_the_key_and_never_logs_it(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with serve_process({"WEIGHTINIT_API_KEYS": ",".join(KEYS)}, log_path=log) as (url, _):
        with httpx.Client(base_url=url, timeout=30.0) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 200
            missing = http.post("/v1/weights", json=DENSE)
            wrong = http.post("/v1/weights", json=DENSE, headers={"X-API-Key": "nope-nope"})
            right = http.post("/v1/weights", json=DENSE, headers={"X-API-Key": KEYS[1]})
            bearer = http.get("/metrics", headers={"Authorization": f"Bearer {KEYS[0]}"})
        assert (missing.status_code, wrong.status_code) == (401, 401)
        assert missing.headers["content-type"] == PROBLEM_JSON
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert right.status_code == 200 and right.json()["tensors"]
        assert bearer.status_code == 200 and "weightinit_http_requests_total" in bearer.text
    logged = log.read_text()
    lines = access_lines(logged)
    assert {"status": 401} in lines and {"route": "/v1/weights"} in lines
    for secret in (*KEYS, "nope-nope"):
        assert secret not in logged
