"""Input hardening at the edge (issue 11): one test per class of hostile input.

Strings that are not text, names outside the one alphabet, bodies that are not UTF-8 JSON,
deep or wide JSON, HEAD on GET routes, and query parameters that contradict the path: each
gets its 4xx problem+json naming the field or the rule, never a 500.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.jobs.names import name_problem

from .conftest import ApiClient, problem

DENSE = {"kind": "dense", "in_features": 2, "out_features": 2}
JSON = {"content-type": "application/json"}


def weights(**changes: Any) -> dict[str, Any]:
    return {"layer": DENSE, "scheme": "he_normal", "seed": 1, **changes}


def fields_of(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/v1/weights", b'"scheme": "he_\\ud800"', "scheme"),
        ("/v1/weights", b'"scheme": {"name": "\\udc00"}', "scheme.name"),
        ("/v1/weights", b'"scheme": {"name": "normal", "\\ud800": 1}', "scheme"),
        ("/v1/weights", b'"slice": "0:1\\u0000"', "slice"),
        ("/v1/weights", b'"bias_scheme": "zeros\\u001b"', "bias_scheme"),
    ],
)
def test_strings_that_are_not_text_are_a_422_naming_the_field(
    client: ApiClient, path: str, raw: bytes, field: str
) -> None:
    body = b'{"layer": {"kind": "dense", "in_features": 2, "out_features": 2}, "seed": 1, '
    response = client.post(path, content=body + raw + b"}", headers=JSON)
    assert response.status_code == 422, response.text
    found = problem(response)
    assert fields_of(found) == [field]
    assert "Must be text" in found["detail"] and field in found["detail"]


def test_a_model_layer_name_that_is_not_text_is_a_422(client: ApiClient) -> None:
    layer = b'{"kind": "dense", "in_features": 2, "out_features": 2}'
    raw = b'{"seed": 1, "layers": [{"name": "x\\udfff", "layer": ' + layer + b"}]}"
    response = client.post("/v1/models?format=npz", content=raw, headers=JSON)
    assert response.status_code == 422
    assert fields_of(problem(response)) == ["layers[0].name"]


@pytest.mark.parametrize(
    "name",
    ["../x", "/abs", "a//b", "a/", "a/./b", "a/../b", ".", "..", "caf\u00e9", "a b", "x" * 256],
)
@pytest.mark.parametrize("fmt", ["npz", "safetensors", "json"])
def test_layer_names_outside_the_alphabet_are_a_422_before_generation(
    client: ApiClient, name: str, fmt: str
) -> None:
    body = {"seed": 1, "layers": [{"name": name, "layer": DENSE}]}
    response = client.post(f"/v1/models?format={fmt}", json=body)
    assert response.status_code == 422, response.text
    found = problem(response)
    assert fields_of(found) == ["layers[0].name"]
    assert "letters, digits" in found["detail"] or "at most 255 characters" in found["detail"]
    assert "[A-Za-z" not in found["detail"] and "^" not in found["detail"]  # words, no regex


@pytest.mark.parametrize("name", ["Model.Encoder", "dense_1/kernel", "a.b-c_d/e..f", "x" * 240])
def test_names_in_the_alphabet_work_in_every_format(client: ApiClient, name: str) -> None:
    body = {"seed": 1, "layers": [{"name": name, "layer": DENSE}]}
    for fmt in ("npz", "safetensors", "json"):
        response = client.post(f"/v1/models?format={fmt}", json=body)
        assert response.status_code == 200, (fmt, response.text)


def test_the_full_tensor_name_obeys_the_rule_too(client: ApiClient) -> None:
    # 250 characters are a valid layer name; with ".weight" the tensor name is 257 long.
    body = {"seed": 1, "layers": [{"name": "x" * 250, "layer": DENSE}]}
    response = client.post("/v1/models?format=npz", json=body)
    assert response.status_code == 422
    found = problem(response)
    assert fields_of(found) == ["layers[0].name"] and ".weight" not in found["detail"][:20]
    assert name_problem("x" * 250 + ".weight") is not None


@pytest.mark.parametrize(
    ("encoded", "status"),
    [
        (json.dumps(weights()).encode("utf-16"), 415),  # with its BOM
        (json.dumps(weights()).encode("utf-16-le"), 415),
        (json.dumps(weights()).encode("utf-32"), 415),
        (b"\xef\xbb\xbf" + json.dumps(weights()).encode(), 415),  # a UTF-8 BOM
        (json.dumps(weights(scheme="he_normal")).encode()[:-1] + b', "x": "\xff\xfe"}', 400),
    ],
)
def test_only_utf8_json_without_a_bom_is_accepted(
    client: ApiClient, encoded: bytes, status: int
) -> None:
    response = client.post("/v1/weights", content=encoded, headers=JSON)
    assert response.status_code == status, response.text
    assert "RFC 8259" in problem(response)["detail"]


def test_a_charset_other_than_utf8_is_a_415(client: ApiClient) -> None:
    headers = {"content-type": "application/json; charset=utf-16"}
    response = client.post("/v1/weights", content=json.dumps(weights()).encode(), headers=headers)
    assert response.status_code == 415
    assert "UTF-8" in problem(response)["detail"]
    ok = {"content-type": "application/json; charset=UTF-8"}
    assert client.post("/v1/weights", json=weights(), headers=ok).status_code == 200


@pytest.mark.parametrize("depth", [33, 900, 200_000])
def test_deeply_nested_bodies_are_a_quick_400(client: ApiClient, depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    raw = b'{"layer": {"kind": "dense", "in_features": 2, "out_features": 2}, "seed": 1, '
    start = time.monotonic()
    response = client.post("/v1/weights", content=raw + b'"scheme": ' + nested + b"}", headers=JSON)
    assert time.monotonic() - start < 2.0
    assert response.status_code == 400, response.text
    assert "deeper than 32 levels" in problem(response)["detail"]


def test_an_array_over_the_item_limit_is_a_400_naming_it(client: ApiClient) -> None:
    raw = json.dumps({"seed": 1, "mlp": {"sizes": [1] * 70_000}}).encode()
    response = client.post("/v1/models", content=raw, headers=JSON)
    assert response.status_code == 400
    found = problem(response)
    assert fields_of(found) == ["mlp.sizes"] and "65536" in found["detail"]


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", "/", "/v1/schemes", "/v1/gains", "/openapi.json", "/docs"],
)
def test_head_is_served_on_every_get_route(client: ApiClient, path: str) -> None:
    get = client.get(path)
    head = client.request("HEAD", path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.content))


def test_head_on_a_post_only_route_is_still_a_405(client: ApiClient) -> None:
    response = client.request("HEAD", "/v1/weights")
    assert response.status_code == 405


def test_the_get_shortcut_refuses_a_name_parameter(client: ApiClient) -> None:
    response = client.get(
        "/v1/weights/he_normal", params={"shape": "2,2", "seed": 1, "name": "zeros"}
    )
    assert response.status_code == 422
    found = problem(response)
    assert fields_of(found) == ["name"] and "he_normal" in found["detail"]


@pytest.mark.parametrize(
    ("path", "other"),
    [("/v1/weights.npy", "json"), ("/v1/weights.npz", "npy"), ("/v1/models.npz", "safetensors")],
)
def test_a_per_format_path_refuses_another_format_parameter(
    client: ApiClient, path: str, other: str
) -> None:
    body = weights() if path.startswith("/v1/weights") else {"seed": 1, "mlp": {"sizes": [2, 2]}}
    response = client.post(f"{path}?format={other}", json=body)
    assert response.status_code == 422
    found = problem(response)
    assert fields_of(found) == ["format"] and other in found["detail"]
    own = path.rsplit(".", 1)[1]
    one = "&tensor=weight" if own == "npy" else ""  # a .npy holds one of the layer's tensors
    assert client.post(f"{path}?format={own}{one}", json=body).status_code == 200


# ---- hypothesis: hostile bodies (any text, lone surrogates included) never give a 5xx -------

_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF)
_bad = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\x85"])  # not text
# (st.text() never yields lone surrogates: strings are joined from characters instead)
_text = st.lists(st.one_of(_char, _bad), max_size=12).map("".join)
_scheme_text = st.builds(str.__add__, st.sampled_from(["he_", "normal", "zeros", ""]), _text)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)
_bodies = st.fixed_dictionaries(
    {},
    optional={
        "layer": st.one_of(_json, st.just(DENSE)),
        "scheme": st.one_of(
            _scheme_text, st.fixed_dictionaries({"name": _scheme_text}, optional={"x": _json})
        ),
        "seed": st.one_of(st.just(1), _json),
        "name": _text,
        "layers": st.lists(st.fixed_dictionaries({"name": _text, "layer": st.just(DENSE)})),
        "slice": _text,
    },
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies, path=st.sampled_from(["/v1/weights", "/v1/models", "/v1/models.npz"]))
def test_hostile_bodies_never_get_a_5xx(client: ApiClient, body: dict[str, Any], path: str) -> None:
    raw = json.dumps(body).encode()  # ensure_ascii: lone surrogates go out as \\udxxx escapes
    response = client.post(path, content=raw, headers=JSON)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        problem(response)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/weights/digests", "POST"),  # not the /v1/weights/{scheme} shortcut's
        ("PUT", "/v1/weights/he_normal", "GET, HEAD"),
        ("DELETE", "/healthz", "GET, HEAD"),
        ("PATCH", "/v1/models", "POST"),
    ],
)
def test_a_405_names_the_methods_of_the_path_it_was_sent_to(
    client: ApiClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == "application/problem+json"
