"""The README stays true: its scheme table is the registry's, its framework-argument table is
the core's, and its examples run."""

from __future__ import annotations

import re
from pathlib import Path

from app.core.schemes import SCHEMES
from app.core.schemes.table import END, START, render_table
from app.jobs import arguments

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_scheme_table_is_generated_from_the_registry() -> None:
    block = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == render_table(), "run `make readme` and commit README.md"
    for name in SCHEMES:
        assert f"| `{name}` |" in block


def test_framework_argument_table_is_generated_from_the_core_table() -> None:
    block = README.split(arguments.START, 1)[1].split(arguments.END, 1)[0].strip()
    assert block == arguments.render_table(), "run `make readme` and commit README.md"


def test_python_examples_in_the_readme_run_and_print_what_they_claim(capsys: object) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "the README has Python examples"
    for code in blocks:
        expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
        exec(compile(code, "README.md", "exec"), {})
        out = capsys.readouterr().out.splitlines()  # type: ignore[attr-defined]
        assert out == expected
