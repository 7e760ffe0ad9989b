"""The README's "Why initialization matters" figure is the service's own output: a fresh run
gives the committed series (within the last bits a machine may change), the SVG shows every
run, and the figures the README quotes hold."""

from __future__ import annotations

import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LABELS = ("zeros", "random(scale=0.01)", "glorot_normal", "he_normal")


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_why_init_plot", ROOT / "tools" / "make_why_init_plot.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return _tool()


@pytest.fixture(scope="module")
def fresh(tool: ModuleType) -> dict[str, Any]:
    series: dict[str, Any] = tool.series(tool.document())
    return series


def test_committed_series_match_a_fresh_run(tool: ModuleType, fresh: dict[str, Any]) -> None:
    kept = json.loads(tool.SERIES.read_text())
    assert kept["body"] == tool.BODY
    assert tool.close(kept, fresh), "docs/why-initialization.json drifted: run make readme"


def test_svg_is_valid_and_draws_every_run(tool: ModuleType) -> None:
    root = ET.fromstring(tool.SVG.read_bytes())
    ids = {element.get("id") for element in root.iter()}
    for label in LABELS:
        assert f"activation-std:{label}" in ids, label
        assert f"gradient-std:{label}" in ids, label
    text = tool.SVG.read_text()
    assert "(all zero)" in text  # the zeros run is marked, not dropped


def test_readme_shows_the_figure_and_its_claims_hold(fresh: dict[str, Any]) -> None:
    section = re.search(
        r"^## Why initialization matters\n(.*?)(?=^## )", README.read_text(), re.S | re.M
    )
    assert section is not None
    assert "docs/why-initialization.svg" in section.group(1)
    runs = fresh["runs"]
    assert all(layer["symmetric"] for layer in runs["zeros"])
    assert all(layer["activation_std"] == 0.0 for layer in runs["zeros"])
    assert runs["random(scale=0.01)"][-2]["activation_std"] < 1e-10
    he = runs["he_normal"]
    first = he[0]["activation_std"]
    assert all(first / 2 <= layer["activation_std"] <= 2 * first for layer in he[:-1])
    predicted = {round(layer["predicted_activation_std"], 12) for layer in he[:-1]}
    assert len(predicted) == 1  # flat: sqrt(1 - 1/pi) at every hidden layer
    xavier = runs["glorot_normal"]
    assert xavier[-2]["predicted_activation_std"] < 1e-2 * xavier[0]["predicted_activation_std"]
