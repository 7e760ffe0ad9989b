"""Tests for app/core/types.py: the closed vocabularies and parse_choice.

The enum values are the strings the API, the CLI and the SDKs send; the algorithm names are
frozen (a released name's bytes never change), so they are restated here.
"""

from __future__ import annotations

import pytest

from app.core.errors import UnknownNameError
from app.core.types import Algorithm, Distribution, DType, Layout, Mode, parse_choice


def test_the_vocabularies_are_the_documented_strings() -> None:
    assert [d.value for d in DType] == ["float32", "float64", "float16", "bfloat16"]
    assert [x.value for x in Layout] == ["torch", "keras", "jax"]
    assert [m.value for m in Mode] == ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
    assert [d.value for d in Distribution] == ["truncated_normal", "normal", "uniform"]
    assert [a.value for a in Algorithm] == [
        "blocks-v1",
        "numpy-legacy",
        "jax-threefry",
        "torch-cpu",
    ]


def test_a_member_is_returned_as_it_is() -> None:
    assert parse_choice(DType, DType.BFLOAT16, "dtype", "dtype") is DType.BFLOAT16


@pytest.mark.parametrize(
    ("enum", "value", "member"),
    [
        (DType, "float16", DType.FLOAT16),
        (Layout, "jax", Layout.JAX),
        (Algorithm, "numpy-legacy", Algorithm.NUMPY_LEGACY),
    ],
)
def test_a_value_string_gives_its_member(enum: type, value: str, member: object) -> None:
    assert parse_choice(enum, value, "x", "x") is member


@pytest.mark.parametrize(
    ("value", "name", "suggestion"),
    [
        ("flaot32", "flaot32", "float32"),
        ("FLOAT32", "FLOAT32", "float32"),  # values are case-sensitive; the hint is not
        ("int8", "int8", None),
        (32, "32", None),
        (None, "None", None),
    ],
)
def test_anything_else_is_an_unknown_name_on_the_given_field(
    value: object, name: str, suggestion: str | None
) -> None:
    with pytest.raises(UnknownNameError) as info:
        parse_choice(DType, value, "dtype", "request.dtype")
    error = info.value
    assert (error.what, error.name, error.field) == ("dtype", name, "request.dtype")
    assert error.choices == ["bfloat16", "float16", "float32", "float64"]
    assert error.suggestion == suggestion
