"""The canonical table: textbook names, variance presets over one engine in the exact order."""

from __future__ import annotations

from fractions import Fraction

import pytest

from app.core.errors import InvalidParameterError
from app.core.schemes import Scheme, resolve_scheme
from app.core.schemes.canonical import CANONICAL_SCHEMES
from app.core.schemes.variance import (
    Order,
    variance_scaling,
    variance_scaling_for_activation,
    variance_scaling_with_gain,
)

VARIANCE_ENGINES = (variance_scaling, variance_scaling_with_gain, variance_scaling_for_activation)
PRESETS = [row for row in CANONICAL_SCHEMES if row.engine.function in VARIANCE_ENGINES]


def test_no_canonical_row_claims_a_framework() -> None:
    assert all(row.framework is None for row in CANONICAL_SCHEMES)


def test_the_variance_presets_are_the_glorot_he_lecun_families_and_the_general_scheme() -> None:
    names = sorted(row.name for row in PRESETS)
    families = ("glorot", "he", "lecun")
    kinds = ("uniform", "normal", "truncated_normal")
    expected = sorted(["variance_scaling", *(f"{f}_{k}" for f in families for k in kinds)])
    assert names == expected
    assert all(row.uses_fans for row in PRESETS)


@pytest.mark.parametrize("row", PRESETS, ids=lambda r: r.name)
def test_every_variance_preset_computes_in_the_exact_order(row: Scheme) -> None:
    assert row.engine.fixed["order"] is Order.EXACT


def test_lecun_fixes_scale_one_and_fan_in() -> None:
    row = next(r for r in CANONICAL_SCHEMES if r.name == "lecun_uniform")
    assert row.engine.fixed["scale"] == Fraction(1)
    assert row.params == ()


def test_he_rejects_an_activation_outside_torchs_table_at_resolve_time() -> None:
    with pytest.raises(InvalidParameterError) as info:
        resolve_scheme("he_normal", {"nonlinearity": "gelu"})
    assert info.value.field == "scheme.nonlinearity"
    assert "variance_preserving" in str(info.value)


def test_he_accepts_the_same_activation_with_the_variance_preserving_rule() -> None:
    resolved = resolve_scheme(
        "he_normal", {"nonlinearity": "gelu", "gain_rule": "variance_preserving"}
    )
    assert resolved.describe()["gain_rule"] == "variance_preserving"


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("uniform", {"low": 1.0, "high": 1.0}, "scheme.low"),
        ("truncated_normal", {"a": 2.0, "b": -2.0}, "scheme.a"),
        ("normal", {"std": 0.0}, "scheme.std"),
        ("sparse", {}, "scheme.sparsity"),
        ("dirac", {"groups": 0}, "scheme.groups"),
    ],
)
def test_invalid_parameters_name_their_field(
    name: str, params: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        resolve_scheme(name, params)
    assert info.value.field == field
