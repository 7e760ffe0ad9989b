"""The README's recipe table and its section per recipe, rendered from the registry
(``registry.RECIPES``).

``make readme`` writes them (``python -m app.core.recipes.table --write README.md``): the
table between the ``recipe-table`` markers, and each recipe's summary, formula, source,
scope and parameters between ``<!-- recipe:NAME:start -->`` and ``<!-- recipe:NAME:end -->``
under its ``### NAME`` heading (the curl example after the block is written by hand).
tests/core/recipes/test_table.py compares every block with this rendering, and
tests/test_readme_recipes.py runs each section's example.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..generated_block import GeneratedBlock
from .base import Recipe, RecipeParam
from .context import CONTEXT_FIELDS
from .registry import RECIPES

START = "<!-- recipe-table:start -->"
END = "<!-- recipe-table:end -->"


def _text(text: str) -> str:
    """Plain markdown text: no raw HTML (``layer<s>`` is not a tag)."""
    return text.replace("<", "&lt;").replace("\n", " ")


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|")


def _code(text: str) -> str:
    """``text`` as a code span (its ``*``, ``^`` and ``<`` stay as written)."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_table() -> str:
    lines = [
        "| recipe | applies to | formula | parameters (default) | reports | follows |",
        "|---|---|---|---|---|---|",
    ]
    for recipe in RECIPES:
        params = ", ".join(
            f"`{p.name}`" + ("" if p.default is None else f" ({p.default})") for p in recipe.params
        )
        reports = "what the forward pass must apply" if recipe.changes_forward else "-"
        lines.append(
            f"| `{recipe.name}` | {_cell(recipe.applies_to)} | {_cell(recipe.formula)} | "
            f"{params or '-'} | {reports} | {_cell(recipe.reference)} |"
        )
    return "\n".join(lines)


def _param(p: RecipeParam, architectures: bool) -> str:
    out = f"`{p.name}`"
    if p.choices:
        out += " (" + " or ".join(f"`{c}`" for c in p.choices) + ")"
    if p.default is not None:
        default = str(p.default).lower() if isinstance(p.default, bool) else p.default
        out += f", default `{default}`"
    # a model value (not muP's base widths): an architecture's config gives it
    configured = architectures and p.name in CONTEXT_FIELDS
    return f"{out}: {_text(p.description)}" + ("; *from the architecture*" if configured else "")


def render_recipe(recipe: Recipe) -> str:
    """The generated part of the recipe's README section."""
    lines = [
        f"{_text(recipe.summary)}.",
        "",
        f"- **Formula:** {_code(recipe.formula)}",
        f"- **Source:** {_code(recipe.reference)}",
        f"- **Applies to:** {_text(recipe.applies_to)}",
    ]
    if recipe.params:
        lines.append(
            "- **Parameters** (in the `recipe` object; with an architecture, its name and "
            "config give those marked *from the architecture*):"
        )
        lines += [f"  - {_param(p, bool(recipe.architectures))}" for p in recipe.params]
    if recipe.changes_forward:
        lines.append(
            "- **Changes the forward pass:** the response's `recipe` object says what to apply "
            "(`forward`) with the values it needs."
        )
    return "\n".join(lines)


def recipe_markers(name: str) -> tuple[str, str]:
    return f"<!-- recipe:{name}:start -->", f"<!-- recipe:{name}:end -->"


def _recipe_block(recipe: Recipe) -> GeneratedBlock:
    start, end = recipe_markers(recipe.name)
    return GeneratedBlock(f"recipe {recipe.name}", start, end, lambda: render_recipe(recipe))


BLOCK = GeneratedBlock("recipe-table", START, END, render_table)
RECIPE_BLOCKS = tuple(_recipe_block(recipe) for recipe in RECIPES)
BLOCKS = (BLOCK, *RECIPE_BLOCKS)


def main(argv: Sequence[str]) -> int:
    """``--write PATH`` rewrites every block in PATH; no arguments print them."""
    if len(argv) == 2 and argv[0] == "--write":
        path = Path(argv[1])
        text = path.read_text()
        for block in BLOCKS:
            text = block.replace(text)
        path.write_text(text)
        return 0
    print("\n\n".join(block.render() for block in BLOCKS))
    return 0


if __name__ == "__main__":  # python -m app.core.recipes.table [--write README.md]
    import sys

    raise SystemExit(main(sys.argv[1:]))
