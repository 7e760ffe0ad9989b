"""Each recipe's README section has one curl example, and its request works.

tests/test_readme_examples.py runs the examples against a live server with curl (skipped where
curl is not installed); this test needs neither: it takes each "## Recipes" subsection's
``curl`` command, parses its URL and JSON body (``-d '...'``), posts the body to an in-process
app and checks the answer is a 200 whose ``recipe`` is the section's recipe, and that every
tensor the recipe initialises names the rule that chose its scheme.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.core.recipes import RECIPES
from app.core.types import FIXED_ROLES
from tests.api.conftest import ApiClient
from tests.readme_blocks import DOC_URL, FENCE, ROOT

README = (ROOT / "README.md").read_text()
CURL_URL = re.compile(r"curl -s '(" + re.escape(DOC_URL) + r"[^']*)'")
CURL_BODY = re.compile(r" -d '(.*?)'", re.S)  # JSON bodies here hold no single quote


def recipe_sections() -> dict[str, str]:
    """``### name`` -> its text, for each subsection of "## Recipes"."""
    section = README.split("\n## Recipes\n", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^### (.+)\n", section, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


SECTIONS = recipe_sections()


def curl_request(section: str) -> tuple[str, dict[str, Any]]:
    """The path and query, and the JSON body, of the section's one curl example."""
    blocks = [code for lang, code in FENCE.findall(section) if lang == "sh" and "curl " in code]
    assert len(blocks) == 1, "one curl example per recipe section"
    (code,) = blocks
    url, body = CURL_URL.search(code), CURL_BODY.search(code)
    assert url is not None and body is not None, code
    parts = urlsplit(url.group(1))
    return f"{parts.path}?{parts.query}" if parts.query else parts.path, json.loads(body.group(1))


@pytest.fixture(scope="module")
def client() -> Iterator[ApiClient]:
    api = ApiClient()
    yield api
    api.close()


def test_every_recipe_has_a_section() -> None:
    assert list(SECTIONS) == [recipe.name for recipe in RECIPES]


@pytest.mark.parametrize("name", list(SECTIONS))
def test_the_sections_curl_example_runs_its_recipe(client: ApiClient, name: str) -> None:
    path, body = curl_request(SECTIONS[name])
    recipe = body["recipe"]
    assert (recipe if isinstance(recipe, str) else recipe["name"]) == name
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["recipe"]["name"] == name
    chosen = [t for t in document["tensors"] if t["role"] not in {r.value for r in FIXED_ROLES}]
    assert chosen and all(t.get("rule") for t in chosen)
