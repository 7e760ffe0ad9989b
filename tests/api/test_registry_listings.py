"""GET /v1/schemes, /v1/recipes and /v1/architectures list the registries (app/jobs/registry.py):
/v1/schemes lists every recipe and architecture too, the same entries as the other two, and a
recipe runs on every architecture it says it is made for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.core.architectures import ARCHITECTURES, TORCHVISION_VERSION, TRANSFORMERS_VERSION
from app.core.recipes import RECIPES
from app.core.schemes import SCHEMES
from app.jobs.registry import scheme_out

from .conftest import ApiClient

FIXTURES = Path(__file__).parent.parent / "fixtures" / "architectures"
# What a recipe needs beyond what an architecture's config supplies.
RECIPE_EXTRA: dict[str, dict[str, Any]] = {
    "mup": {"base_config": {"d_model": 8}, "optimizer": "adam"},
}
BUFFERS = ("running_stat", "counter")  # BatchNorm's statistics: no recipe initialises them
PAIRS = [
    (recipe.name, family, cls)
    for recipe in RECIPES
    for family in recipe.architectures
    for cls in ARCHITECTURES[family].classes
]


def _get(client: ApiClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_schemes_lists_recipes_and_architectures_as_their_own_endpoints_do(
    client: ApiClient,
) -> None:
    listing = _get(client, "/v1/schemes")
    assert list(listing) == ["architectures", "recipes", "schemes"]
    assert listing["schemes"] == [scheme_out(s) for s in SCHEMES.values()]  # unchanged
    assert listing["recipes"] == _get(client, "/v1/recipes")["recipes"]
    assert listing["architectures"] == _get(client, "/v1/architectures")["architectures"]
    assert [r["name"] for r in listing["recipes"]] == [r.name for r in RECIPES]
    assert [a["name"] for a in listing["architectures"]] == list(ARCHITECTURES)


def test_every_recipe_and_architecture_names_its_reference(client: ApiClient) -> None:
    listing = _get(client, "/v1/schemes")
    for recipe in listing["recipes"]:
        # owner/repo: a file in it (what the recipe follows)
        assert "/" in recipe["reference"].split(":")[0] and ".py" in recipe["reference"]
        assert recipe["applies_to"].startswith(", ".join(recipe["architectures"]))
    versions = {"resnet": f"torchvision {TORCHVISION_VERSION}"}
    for arch in listing["architectures"]:
        expected = versions.get(arch["name"], f"transformers {TRANSFORMERS_VERSION}")
        assert arch["reference"] == expected
        assert arch["default_class"] in arch["classes"]


def test_an_architectures_recipes_are_the_recipes_made_for_it(client: ApiClient) -> None:
    listing = _get(client, "/v1/schemes")
    made_for = {
        a["name"]: [r["name"] for r in listing["recipes"] if a["name"] in r["architectures"]]
        for a in listing["architectures"]
    }
    assert {a["name"]: a["recipes"] for a in listing["architectures"]} == made_for
    assert made_for["resnet"] == ["fixup"] and "t5" in made_for["t5"]
    assert all(set(r.architectures) <= set(ARCHITECTURES) for r in RECIPES)


def test_the_listings_are_cached_by_etag(client: ApiClient) -> None:
    for url in ("/v1/schemes", "/v1/recipes", "/v1/architectures"):
        etag = client.get(url).headers["etag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.headers["etag"] == etag


@pytest.mark.parametrize(("recipe", "family", "cls"), PAIRS, ids=["-".join(p) for p in PAIRS])
def test_a_recipe_runs_on_every_architecture_it_is_made_for(
    client: ApiClient, recipe: str, family: str, cls: str
) -> None:
    config = json.loads((FIXTURES / f"{family}_tiny.json").read_text())["config"]
    body = {
        "seed": 1,
        "architecture": family,
        "config": config,
        "class": cls,
        "recipe": {"name": recipe, **RECIPE_EXTRA.get(recipe, {})},
    }
    response = client.post("/v1/models/manifest", json=body)
    assert response.status_code == 200, response.text
    tensors = response.json()["tensors"]
    initialised = [t for t in tensors if t["role"] not in BUFFERS]
    assert initialised and [t["name"] for t in initialised if not t.get("rule")] == []
