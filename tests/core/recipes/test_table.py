"""The README's recipe table and each recipe's section are the registry's rendering
(``make readme`` writes them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.core.generated_block import GeneratedBlock
from app.core.recipes.registry import RECIPES
from app.core.recipes.table import (
    BLOCK,
    BLOCKS,
    RECIPE_BLOCKS,
    main,
    recipe_markers,
    render_recipe,
    render_table,
)

README = Path(__file__).resolve().parents[3] / "README.md"


def _recipes_section(text: str) -> str:
    return text.split("\n## Recipes\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_recipe_table_is_rendered_from_the_registry() -> None:
    text = README.read_text()
    assert BLOCK.replace(text) == text, "run `make readme` and commit README.md"


@pytest.mark.parametrize("block", RECIPE_BLOCKS, ids=[r.name for r in RECIPES])
def test_each_recipe_section_is_rendered_from_the_registry(block: GeneratedBlock) -> None:
    text = README.read_text()
    assert block.replace(text) == text, "run `make readme` and commit README.md"


def test_every_recipe_has_its_row_with_its_source() -> None:
    table = render_table()
    for recipe in RECIPES:
        assert f"| `{recipe.name}` |" in table
        assert recipe.reference.replace("<", "&lt;") in table


def test_the_recipes_section_has_one_heading_per_recipe_in_registry_order() -> None:
    section = _recipes_section(README.read_text())
    headings = re.findall(r"^### (.+)$", section, flags=re.M)
    assert headings == [recipe.name for recipe in RECIPES]
    for recipe in RECIPES:
        start, end = recipe_markers(recipe.name)
        own = section.split(f"\n### {recipe.name}\n", 1)[1].split("\n### ", 1)[0]
        assert own.lstrip().startswith(start) and end in own, recipe.name


def test_each_section_gives_the_formula_source_and_every_parameter() -> None:
    for recipe in RECIPES:
        text = render_recipe(recipe)
        assert f"**Formula:** `{recipe.formula}`" in text
        assert f"**Source:** `{recipe.reference}`" in text
        for param in recipe.params:
            assert f"  - `{param.name}`" in text
        assert ("Changes the forward pass" in text) == recipe.changes_forward


def test_make_readme_writes_every_block(tmp_path: Path) -> None:
    stale = README.read_text()
    for recipe in RECIPES[:2]:
        start, end = recipe_markers(recipe.name)
        head, rest = stale.split(start, 1)
        stale = head + start + "\nstale\n" + end + rest.split(end, 1)[1]
    path = tmp_path / "README.md"
    path.write_text(stale)
    assert main(["--write", str(path)]) == 0
    assert path.read_text() == README.read_text()
    assert len(BLOCKS) == len(RECIPES) + 1
