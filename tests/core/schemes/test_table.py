"""The README's scheme table is rendered from the registry rows."""

from __future__ import annotations

import pytest

from app.core.schemes import SCHEMES
from app.core.schemes.table import END, START, main, render_table, replace_block


def test_one_row_per_scheme_with_its_engine_and_framework() -> None:
    rows = render_table().splitlines()[2:]
    assert len(rows) == len(SCHEMES)
    he = next(r for r in rows if r.startswith("| `keras.HeNormal` |"))
    assert (
        "`variance_scaling(order=keras, scale=2, mode=fan_in, distribution=truncated_normal)`" in he
    )
    assert he.endswith("| keras |")


def test_pipes_inside_a_formula_are_escaped() -> None:
    row = next(r for r in render_table().splitlines() if r.startswith("| `keras.GlorotUniform` |"))
    assert "limit = math.sqrt(3*scale) \\| stddev" in row
    assert row.count(" | ") == 6  # seven cells, none split by the formula's own pipe


def test_replace_block_keeps_the_text_around_the_markers() -> None:
    text = f"head\n{START}\nold table\n{END}\ntail\n"
    out = replace_block(text)
    assert out.startswith(f"head\n{START}\n| scheme |")
    assert out.endswith(f"{END}\ntail\n")
    assert "old table" not in out


def test_replace_block_refuses_a_readme_without_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here")


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out.strip() == render_table()
