"""POST /v1/diagnostics as a plot: ``?format=svg|png`` or ``Accept``; the SVG draws the
document's numbers (a group per run and panel, each value where the log axis puts it), the
PNG decodes, both byte-identical for the same request."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest

from app.api.settings import Settings
from tests.encoders.plot_helpers import groups, legend_text, marker_positions, png_size, svg_tree

from .conftest import PROBLEM_JSON, ApiClient

DEPTH = 8
BODY = {
    "mlp": {"sizes": [32] * (DEPTH + 1), "activation": "relu"},
    "compare": ["zeros", {"name": "random", "scale": 0.01}, "he_normal"],
    "seed": 3,
    "batch": 16,
}


@pytest.fixture(scope="module")
def client() -> Iterator[ApiClient]:
    api = ApiClient(Settings())
    yield api
    api.close()


@pytest.fixture(scope="module")
def document(client: ApiClient) -> dict[str, Any]:
    response = client.post("/v1/diagnostics", json=BODY)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture(scope="module")
def svg(client: ApiClient) -> bytes:
    response = client.post("/v1/diagnostics", json=BODY, params={"format": "svg"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-disposition"] == 'inline; filename="diagnostics.svg"'
    return response.content


def test_svg_has_a_group_per_run_and_panel(document: dict[str, Any], svg: bytes) -> None:
    ids = groups(svg_tree(svg))
    labels = [run["label"] for run in document["runs"]]
    assert len(labels) == 3
    for label in labels:
        gid = "_".join(label.split())
        assert f"activation-std:{gid}" in ids
        assert f"gradient-std:{gid}" in ids


def test_the_zeros_run_is_marked_all_zero_not_dropped(document: dict[str, Any], svg: bytes) -> None:
    root = svg_tree(svg)
    (zeros,) = [run for run in document["runs"] if run["scheme"]["name"] == "zeros"]
    assert all(layer["activation_std"] == 0 for layer in zeros["layers"])
    gid = f"activation-std:{zeros['label']}"
    assert len(marker_positions(groups(root)[gid])) == DEPTH
    assert legend_text(root, gid) == f"{zeros['label']} (all zero)"


def test_each_value_is_drawn_where_the_log_axis_puts_it(
    document: dict[str, Any], svg: bytes
) -> None:
    """Every positive activation std of the document lies on one affine map from log10(value)
    to the SVG's y (the panel's log axis), to 0.01 pt."""
    ids = groups(svg_tree(svg))
    points: list[tuple[float, float]] = []
    for run in document["runs"]:
        values = [layer["activation_std"] for layer in run["layers"]]
        if not any(v and v > 0 for v in values):
            continue
        marks = marker_positions(ids[f"activation-std:{'_'.join(run['label'].split())}"])
        assert len(marks) == len(values)
        points += [(math.log10(v), y) for v, (_, y) in zip(values, marks, strict=True)]
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
        (x - mean_x) ** 2 for x, _ in points
    )
    assert slope < 0  # larger values higher up (SVG y grows downwards)
    residuals = [abs(mean_y + slope * (x - mean_x) - y) for x, y in points]
    assert max(residuals) < 0.01


def test_png_decodes(client: ApiClient) -> None:
    response = client.post("/v1/diagnostics", json=BODY, params={"format": "png"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert png_size(response.content) == (1000, 420)


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_the_same_request_gives_the_same_bytes(client: ApiClient, fmt: str) -> None:
    first = client.post("/v1/diagnostics", json=BODY, params={"format": fmt}).content
    second = client.post("/v1/diagnostics", json=BODY, params={"format": fmt}).content
    assert first == second


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("image/svg+xml", "image/svg+xml"),
        ("image/png", "image/png"),
        ("image/*", "image/svg+xml"),
        ("image/png;q=0.5, image/svg+xml", "image/svg+xml"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
    ],
)
def test_accept_chooses_the_format(client: ApiClient, accept: str, media_type: str) -> None:
    body = {**BODY, "mlp": {"sizes": [8, 8, 8], "activation": "tanh"}}
    response = client.post("/v1/diagnostics", json=body, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type


def test_format_wins_over_accept(client: ApiClient) -> None:
    body = {**BODY, "mlp": {"sizes": [8, 8, 8], "activation": "tanh"}}
    response = client.post(
        "/v1/diagnostics", json=body, params={"format": "svg"}, headers={"Accept": "image/png"}
    )
    assert response.headers["content-type"] == "image/svg+xml"
    ET.fromstring(response.content)


def test_an_unproducible_accept_is_406_and_an_unknown_format_422(client: ApiClient) -> None:
    response = client.post("/v1/diagnostics", json=BODY, headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "image/svg+xml" in response.json()["detail"]
    response = client.post("/v1/diagnostics", json=BODY, params={"format": "pdf"})
    assert response.status_code == 422


def test_a_coordinate_check_adds_its_panel(client: ApiClient) -> None:
    body = {
        "mlp": {"sizes": [8, 16, 16, 4], "activation": "relu"},
        "scheme": "lecun_normal",
        "widths": [16, 32],
        "steps": 2,
        "seed": 0,
        "batch": 8,
    }
    response = client.post("/v1/diagnostics", json=body, params={"format": "svg"})
    assert response.status_code == 200, response.text
    ids = groups(svg_tree(response.content))
    assert any(i.startswith("coord-l1:") and i.endswith(":step2") for i in ids)
    assert any(i.startswith("coord-l1:") and i.endswith(":step0") for i in ids)
