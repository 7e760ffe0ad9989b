"""The README's jax-threefry exactness table, rendered from ``jax_threefry.EXACTNESS``.

``make readme`` writes it (``python -m app.core.jax_table --write README.md``);
tests/core/test_threefry.py compares the README's block with this rendering.
"""

from __future__ import annotations

from .generated_block import GeneratedBlock
from .jax_threefry import EXACTNESS

START = "<!-- jax-exactness-table:start -->"
END = "<!-- jax-exactness-table:end -->"


def render_table() -> str:
    lines = ["| JAX / Flax | exactness | max_ulp | why |", "|---|---|---|---|"]
    for row in EXACTNESS:
        label = "exact" if row.exact else "approximate"
        bound = "-" if row.max_ulp is None else str(row.max_ulp)
        lines.append(f"| {row.calls} | {label} | {bound} | {row.why} |")
    return "\n".join(lines)


BLOCK = GeneratedBlock("jax-exactness-table", START, END, render_table)

if __name__ == "__main__":  # python -m app.core.jax_table [--write README.md]
    import sys

    raise SystemExit(BLOCK.main(sys.argv[1:]))
