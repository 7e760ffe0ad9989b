"""The registry: every name has one literal row, every framework row says whose it is."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from app.core.errors import UnknownNameError
from app.core.schemes import ALIASES, SCHEMES, Scheme, all_names, get_scheme, resolve_scheme
from app.core.schemes.canonical import CANONICAL_SCHEMES
from app.core.schemes.frameworks import FRAMEWORK_SCHEMES

SCHEMES_DIR = Path(__file__).parents[3] / "app" / "core" / "schemes"
TABLE_MODULES = {
    **{row.name: SCHEMES_DIR / "canonical.py" for row in CANONICAL_SCHEMES},
    **{row.name: SCHEMES_DIR / "frameworks.py" for row in FRAMEWORK_SCHEMES},
}
SOURCES = {path: path.read_text() for path in SCHEMES_DIR.glob("*.py")}
FRAMEWORKS = ("torch", "keras", "jax", "flax")


@pytest.mark.parametrize("name", all_names())
def test_every_name_occurs_literally_once_in_its_table_module(name: str) -> None:
    # `grep -rn '"he_normal"' app/core/schemes/` lands on the row (or the alias in its row).
    table = TABLE_MODULES[ALIASES.get(name, name)]
    literal = f'"{name}"'
    assert SOURCES[table].count(literal) == 1, f"{literal} is not one literal in {table.name}"
    elsewhere = [p.name for p, text in SOURCES.items() if p != table and literal in text]
    assert not elsewhere, f"{literal} also appears in {elsewhere}"


@pytest.mark.parametrize("row", SCHEMES.values(), ids=lambda s: s.name)
def test_every_framework_row_reports_its_framework_and_cites_only_it(row: Scheme) -> None:
    prefix = row.name.split(".")[0] if "." in row.name else None
    assert row.framework == prefix
    if prefix is not None:
        assert prefix in row.reference
        others = [f for f in FRAMEWORKS if f != prefix and re.search(rf"\b{f}\b", row.reference)]
        assert not others, f"{row.name} cites {others}: {row.reference}"


@pytest.mark.parametrize("row", SCHEMES.values(), ids=lambda s: s.name)
def test_engine_arguments_are_exactly_the_fixed_ones_plus_the_parameters(row: Scheme) -> None:
    keywords = {
        name
        for name, p in inspect.signature(row.engine.function).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    given = [row.engine.renamed.get(p.name, p.name) for p in row.params]
    assert not set(given) & set(row.engine.fixed), "a parameter may not override a fixed argument"
    assert set(given) | set(row.engine.fixed) == keywords
    assert set(row.engine.renamed) <= {p.name for p in row.params}


def test_names_are_unique_across_tables_and_aliases() -> None:
    names = [
        n for row in (*CANONICAL_SCHEMES, *FRAMEWORK_SCHEMES) for n in (row.name, *row.aliases)
    ]
    assert len(names) == len(set(names)) == len(all_names())


def test_an_alias_resolves_to_its_canonical_row() -> None:
    assert get_scheme("kaiming_normal") is SCHEMES["he_normal"]
    assert resolve_scheme("he").describe()["name"] == "he_normal"


def test_an_unknown_name_suggests_the_nearest_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_scheme("he_normall", field="layers[0].scheme")
    assert info.value.field == "layers[0].scheme"
    assert "he_normal" in str(info.value)


def test_a_name_that_is_not_a_string_is_an_unknown_name() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_scheme(3)  # type: ignore[arg-type]
    assert info.value.field == "scheme"
