"""Tests for app/encoders/render.py: decimals spelt as Python's repr(float) spells them."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.encoders.render import layout, render, templates
from app.encoders.shortest import float_spec, shortest_decimals

from .helpers import BFLOAT16


def spell(negative: bool, digits: str, exponent: int) -> str:
    """layout() with its digit cells filled in."""
    template = iter(digits)
    return "".join(
        next(template) if c == "D" else c for c in layout(negative, len(digits), exponent)
    )


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != 0))
def test_layout_is_the_layout_of_python_repr(x: float) -> None:
    """repr's digits and exponent, dropped into the template, give repr back."""
    sign, digit_tuple, exp = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent = len(digit_tuple) + int(exp) - 1  # scientific exponent of d.ddd
    assert spell(bool(sign), digits, exponent) == repr(x)


@pytest.mark.parametrize(
    ("negative", "digits", "exponent", "text"),
    [
        (False, "1", 0, "1.0"),
        (True, "0", 0, "-0.0"),
        (False, "125", 1, "12.5"),
        (False, "1", 2, "100.0"),
        (False, "25146045", -3, "0.0025146045"),
        (False, "1", -4, "0.0001"),
        (False, "1", -5, "1e-05"),
        (False, "1", 15, "1000000000000000.0"),
        (False, "1", 16, "1e+16"),
        (False, "34028235", 38, "3.4028235e+38"),
        (True, "14", -45, "-1.4e-45"),
    ],
)
def test_each_exponent_range_gets_reprs_notation(
    negative: bool, digits: str, exponent: int, text: str
) -> None:
    assert spell(negative, digits, exponent) == text


@pytest.mark.parametrize("dtype", [np.dtype(np.float32), np.dtype(np.float16), BFLOAT16], ids=str)
def test_render_writes_each_number_then_its_separator(dtype: np.dtype) -> None:  # type: ignore[type-arg]
    values = np.array([0.5, -0.0, 100.0, 1e-5, -3.0, 0.0], dtype=dtype)
    separators = (b",", b"],[", b"")
    index = np.array([0, 1, 0, 0, 0, 2])
    got = render(shortest_decimals(values), float_spec(dtype), index, separators)
    assert got == b"0.5,-0.0],[100.0,1e-05,-3.0,0.0"
    parts = got.decode("ascii").replace("],[", ",").split(",")
    assert got.count(b"],[") == 1 and got.endswith(b"0.0") and len(parts) == 6
    back = np.array([float(p) for p in parts], np.float64).astype(dtype)
    assert back.tobytes() == values.tobytes()


def test_render_of_nothing_is_empty() -> None:
    spec = float_spec(np.dtype(np.float32))
    empty = shortest_decimals(np.array([], np.float32))
    assert render(empty, spec, np.array([], np.int64), (b",",)) == b""


def test_templates_cover_every_sign_digit_count_and_exponent() -> None:
    spec = float_spec(np.dtype(np.float16))
    table = templates(spec)
    exponents = max(spec.max_exponent, 0) - min(spec.min_exponent, 0) + 1
    assert table.chars.shape[0] == 2 * spec.max_digits * exponents
    assert (table.digit_mask.sum(axis=1) >= 1).all()
    assert templates(spec) is table  # built once per dtype
