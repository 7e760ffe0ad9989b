"""A README block generated from code: the text between two marker comments.

The scheme table, the shape-map rule table and the framework-argument table are each
rendered by their own module and written by ``make readme`` (``python -m <module> --write
README.md``); a test compares each block with its rendering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GeneratedBlock:
    """The block between ``start`` and ``end``, rendered by ``render``."""

    what: str  # for the error when the markers are missing, e.g. "scheme-table"
    start: str
    end: str
    render: Callable[[], str]

    def replace(self, text: str) -> str:
        """``text`` with the generated block between the markers."""
        head, sep, rest = text.partition(self.start)
        if not sep or self.end not in rest:
            raise ValueError(f"README has no {self.what} markers")
        _, _, tail = rest.partition(self.end)
        return f"{head}{self.start}\n{self.render()}\n{self.end}{tail}"

    def main(self, argv: Sequence[str]) -> int:
        """``--write PATH`` rewrites the block in PATH; no arguments print the block."""
        if len(argv) == 2 and argv[0] == "--write":
            path = Path(argv[1])
            path.write_text(self.replace(path.read_text()))
            return 0
        print(self.render())
        return 0
