"""Tests for app/encoders/shortest.py: shortest round-trip decimals of float32/16/bfloat16.

The reference is numpy's Dragon4 (``format_float_scientific(unique=True)``), independent of
the vectorised search; the JSON-level consequences are in test_json_numbers.py.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.encoders import shortest as shortest_module
from app.encoders.shortest import decade, float_spec, shortest_decimals

from .helpers import BFLOAT16, special_values

SHORTEST_DTYPES = [np.dtype(np.float32), np.dtype(np.float16), BFLOAT16]


def dragon4_digit_count(value: Any) -> int:
    """Significant digits of numpy's shortest unique scientific spelling of ``value``."""
    mantissa = np.format_float_scientific(value, unique=True, trim="-").split("e")[0]
    return len(mantissa.lstrip("-").replace(".", "").rstrip("0")) or 1


def spelt(digits: int, ndigits: int, exponent: int) -> Decimal:
    return Decimal(digits).scaleb(exponent - ndigits + 1)


def check_shortest(values: np.ndarray) -> None:  # type: ignore[type-arg]
    """Each decimal reads back as the same value, and none with one digit fewer does.

    Read back as a client does (test_json_numbers.parse): the decimal as float64, then cast.
    """
    d = shortest_decimals(values)
    dtype = values.dtype
    assert (d.ndigits == [len(str(int(x))) for x in d.digits]).all()
    for i, value in enumerate(values):
        negative, digits, n, e = (bool(d.negative[i]), int(d.digits[i]), int(d.ndigits[i]),
                                  int(d.exponent[i]))  # fmt: skip
        assert negative == bool(np.signbit(value))
        back = np.array([float(spelt(digits, n, e))], np.float64).astype(dtype)[0]
        assert back == abs(value) and not (digits == 0 and value != 0), (value, digits, e)
        if n > 1:  # the two (n-1)-digit neighbours of the exact value both miss it
            exact = Decimal(float(abs(value)))
            for rounding in (ROUND_FLOOR, ROUND_CEILING):
                shorter = Context(prec=n - 1, rounding=rounding).plus(exact)
                with np.errstate(over="ignore"):  # past the largest value: inf, a miss
                    miss = np.array([float(shorter)], np.float64).astype(dtype)[0]
                assert miss != abs(value), (value, shorter)


@pytest.mark.parametrize("dtype", SHORTEST_DTYPES, ids=str)
def test_edge_values_get_the_shortest_decimal_that_reads_back(dtype: np.dtype[Any]) -> None:
    values = special_values(dtype)
    check_shortest(values[np.isfinite(values.astype(np.float64))])


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1))
def test_float32_decimals_are_as_short_as_dragon4s(floats: list[float]) -> None:
    values = np.array(floats, np.float32)
    check_shortest(values)
    counts = shortest_decimals(values).ndigits.tolist()
    assert counts == [dragon4_digit_count(v) for v in values]


def test_zeros_are_one_digit_zero_and_keep_their_sign() -> None:
    d = shortest_decimals(np.array([0.0, -0.0], np.float32))
    assert d.negative.tolist() == [False, True]
    assert d.digits.tolist() == [0, 0] and d.ndigits.tolist() == [1, 1]
    assert d.exponent.tolist() == [0, 0]


def test_trailing_zeros_of_a_rounded_up_candidate_are_stripped() -> None:
    d = shortest_decimals(np.array([100.0, 1e10, 0.5], np.float32))
    assert d.digits.tolist() == [1, 1, 5] and d.exponent.tolist() == [2, 10, -1]


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        shortest_decimals(np.array([1.0, np.inf], np.float32))


@pytest.mark.parametrize(
    ("dtype", "digits", "low", "high"),
    [
        (np.dtype(np.float32), 9, -45, 38),
        (np.dtype(np.float16), 5, -8, 4),
        (BFLOAT16, 4, -41, 38),
    ],
    ids=str,
)
def test_float_spec_states_digits_and_decimal_exponent_range(
    dtype: np.dtype[Any], digits: int, low: int, high: int
) -> None:
    spec = float_spec(dtype)
    assert (spec.max_digits, spec.min_exponent, spec.max_exponent) == (digits, low, high)
    assert spec.uint.itemsize == dtype.itemsize
    assert spec.sign_bit == 1 << (8 * dtype.itemsize - 1)


@pytest.mark.parametrize("dtype", [np.dtype(np.float64), np.dtype(np.int64)], ids=str)
def test_other_dtypes_have_no_spec(dtype: np.dtype[Any]) -> None:
    with pytest.raises(TypeError, match="float32, float16 or bfloat16"):
        float_spec(dtype)


def test_decade_is_floor_log10_exactly_at_powers_of_ten() -> None:
    a = np.array([1.0, 9.999999, 10.0, 1e-45, 1.4e-45, 3.4e38, float(ml_dtypes.bfloat16(1e38))])
    assert decade(a).tolist() == [0, 0, 1, -45, -45, 38, 37]


def test_wide_path_settles_near_ties_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate within a few ulp of a float32 rounding boundary is decided by float(str).

    (Moved from test_json_numbers.py.)
    """
    spec = shortest_module.float_spec(np.dtype(np.float32))
    x = np.float32(1e30)
    midpoint = (float(x) + float(np.nextafter(x, np.float32(np.inf)))) / 2  # exact double
    k = 14
    m = round(Decimal(midpoint) / Decimal(10) ** k)  # 17 digits: within ~1 ulp of midpoint
    calls: list[tuple[float, int]] = []
    original = shortest_module._exact_roundtrip

    def spy(m_: float, k_: int, target: int, spec_: Any) -> bool:
        calls.append((m_, k_))
        return original(m_, k_, target, spec_)

    monkeypatch.setattr(shortest_module, "_exact_roundtrip", spy)
    copies = 1000  # e.g. a constant tensor: one exact check, not one per element
    target = np.full(copies, np.array(x).view(np.uint32))
    ok = shortest_module._roundtrips(
        np.full(copies, float(m)), np.full(copies, k), target, spec, wide=True
    )
    assert calls == [(float(m), k)]
    exact = np.array(float(f"{m}e{k}")).astype(np.float32).view(np.uint32)
    assert ok.tolist() == [int(exact) == int(target[0])] * copies


@pytest.mark.parametrize("dtype", SHORTEST_DTYPES, ids=str)
@pytest.mark.parametrize("distinct", [1, 2, 64, 65])
def test_few_distinct_values_give_the_per_element_decimals(
    dtype: np.dtype[Any], distinct: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search once per distinct bit pattern (a constant init, a norm's ones) gathers the
    decimals the search per element gives; -0.0 and 0.0 stay apart."""
    rng = np.random.default_rng(distinct)
    pool = np.concatenate([np.array([-0.0, 0.0, 1.0]), rng.normal(0, 10.0, distinct)])
    values = rng.choice(pool[:distinct].astype(dtype), 5000)
    gathered = shortest_decimals(values)
    monkeypatch.setattr(shortest_module, "FEW_VALUES_MIN_SIZE", 10**12)
    each = shortest_decimals(values)
    for field in ("negative", "digits", "ndigits", "exponent"):
        assert np.array_equal(getattr(gathered, field), getattr(each, field)), field
