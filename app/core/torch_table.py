"""The README's torch-cpu exactness table, rendered from ``torch_init.EXACTNESS``.

``make readme`` writes it (``python -m app.core.torch_table --write README.md``);
tests/core/test_torch_cpu.py compares the README's block with this rendering.
"""

from __future__ import annotations

from .generated_block import GeneratedBlock
from .torch_init import EXACTNESS

START = "<!-- torch-exactness-table:start -->"
END = "<!-- torch-exactness-table:end -->"


def render_table() -> str:
    lines = [
        "| torch call | dtypes | exactness | max_ulp | why |",
        "|---|---|---|---|---|",
    ]
    for row in EXACTNESS:
        how = row.exactness
        bound = "-" if how.exact else ("none" if how.max_ulp is None else str(how.max_ulp))
        lines.append(f"| {row.call} | {row.dtypes} | {how.label} | {bound} | {row.why} |")
    return "\n".join(lines)


BLOCK = GeneratedBlock("torch-exactness-table", START, END, render_table)

if __name__ == "__main__":  # python -m app.core.torch_table [--write README.md]
    import sys

    raise SystemExit(BLOCK.main(sys.argv[1:]))
