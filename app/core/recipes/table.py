"""The README's recipe table, rendered from the registry (``registry.RECIPES``).

``make readme`` writes it (``python -m app.core.recipes.table --write README.md``);
tests/api/test_recipes.py compares the README's block with this rendering.
"""

from __future__ import annotations

from ..generated_block import GeneratedBlock
from .registry import RECIPES

START = "<!-- recipe-table:start -->"
END = "<!-- recipe-table:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


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


BLOCK = GeneratedBlock("recipe-table", START, END, render_table)

if __name__ == "__main__":  # python -m app.core.recipes.table [--write README.md]
    import sys

    raise SystemExit(BLOCK.main(sys.argv[1:]))
