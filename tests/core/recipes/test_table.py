"""The README's recipe table is the registry's rendering (``make readme`` writes it)."""

from __future__ import annotations

from pathlib import Path

from app.core.recipes.registry import RECIPES
from app.core.recipes.table import BLOCK, render_table

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_recipe_table_is_rendered_from_the_registry() -> None:
    text = README.read_text()
    assert BLOCK.replace(text) == text, "run `make readme` and commit README.md"


def test_every_recipe_has_its_row_with_its_source() -> None:
    table = render_table()
    for recipe in RECIPES:
        assert f"| `{recipe.name}` |" in table
        assert recipe.reference in table
