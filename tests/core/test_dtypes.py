"""Tests for app/core/dtypes.py: output dtypes, working precisions, one rounding, overflow."""

from __future__ import annotations

import sys

import ml_dtypes
import numpy as np
import pytest

from app.core.dtypes import cast_output, finfo_max, numpy_dtype, working_dtype
from app.core.errors import InvalidParameterError
from app.core.generate import generate_tensor
from app.core.types import DType

from .plan_helpers import tensor_plan as plan


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (DType.FLOAT64, np.dtype(np.float64)),
        (DType.FLOAT32, np.dtype(np.float32)),
        (DType.FLOAT16, np.dtype(np.float16)),
        (DType.BFLOAT16, np.dtype(ml_dtypes.bfloat16)),
    ],
    ids=str,
)
def test_each_output_dtype_is_its_numpy_dtype_half_precisions_included(
    dtype: DType, expected: np.dtype[np.generic]
) -> None:
    assert numpy_dtype(dtype) == expected


@pytest.mark.parametrize("dtype", list(DType), ids=str)
def test_only_float64_is_sampled_in_float64_the_rest_in_float32(dtype: DType) -> None:
    assert working_dtype(dtype) is (np.float64 if dtype is DType.FLOAT64 else np.float32)


@pytest.mark.parametrize(
    ("dtype", "largest"),
    [
        (DType.FLOAT64, sys.float_info.max),
        (DType.FLOAT32, float(np.finfo(np.float32).max)),
        (DType.FLOAT16, 65504.0),
        (DType.BFLOAT16, (2 - 2**-7) * 2.0**127),
    ],
    ids=str,
)
def test_finfo_max_is_the_largest_finite_value(dtype: DType, largest: float) -> None:
    assert finfo_max(dtype) == largest


def test_cast_output_keeps_an_array_already_in_the_output_dtype() -> None:
    values = np.array([1.5, -2.0], dtype=np.float32)
    assert cast_output(values, DType.FLOAT32) is values


@pytest.mark.parametrize(
    ("dtype", "ulp"), [(DType.FLOAT16, 2.0**-10), (DType.BFLOAT16, 2.0**-7)], ids=str
)
def test_cast_output_rounds_to_nearest_ties_to_even(dtype: DType, ulp: float) -> None:
    """Halfway between two neighbours goes to the even one; just past halfway goes up."""
    values = np.array(
        [1 + ulp / 2, 1 + 3 * ulp / 2, 1 + ulp / 2 + ulp / 8, -(1 + ulp / 2)], dtype=np.float32
    )
    out = cast_output(values, dtype)
    assert out.dtype == numpy_dtype(dtype)
    assert out.astype(np.float64).tolist() == [1.0, 1 + 2 * ulp, 1 + ulp, -1.0]


@pytest.mark.parametrize(
    ("dtype", "value"),
    [(DType.FLOAT16, 65520.0), (DType.BFLOAT16, 3.4e38), (DType.FLOAT32, 1e300)],
    ids=str,
)
def test_a_value_that_overflows_the_output_dtype_is_refused_on_field_dtype(
    dtype: DType, value: float
) -> None:
    values = np.array([0.0, value], dtype=np.float64)
    with pytest.raises(InvalidParameterError, match=f"overflow {dtype.value}") as info:
        cast_output(values, dtype)
    assert info.value.field == "dtype"
    assert f"{finfo_max(dtype):g}" in info.value.message


def test_the_largest_finite_value_itself_is_not_an_overflow() -> None:
    out = cast_output(np.array([65504.0, -65504.0], dtype=np.float32), DType.FLOAT16)
    assert out.tolist() == [65504.0, -65504.0]


def test_a_non_finite_working_value_is_refused_too() -> None:
    with pytest.raises(InvalidParameterError) as info:
        cast_output(np.array([np.nan], dtype=np.float64), DType.FLOAT64)
    assert info.value.field == "dtype"


def test_an_empty_array_casts_to_an_empty_array() -> None:
    out = cast_output(np.empty((0, 3), dtype=np.float32), DType.BFLOAT16)
    assert out.shape == (0, 3) and out.dtype == numpy_dtype(DType.BFLOAT16)


# ---- through generate_tensor (moved from test_determinism.py) -----------------------------------


@pytest.mark.parametrize("dtype", [DType.FLOAT16, DType.BFLOAT16])
def test_half_precisions_are_the_float32_values_rounded_once(dtype: DType) -> None:
    f32 = generate_tensor(plan("he_normal", (50, 40)), 11)
    half = generate_tensor(plan("he_normal", (50, 40), dtype), 11)
    assert half.dtype == numpy_dtype(dtype)
    assert half.tobytes() == f32.astype(numpy_dtype(dtype)).tobytes()


def test_overflowing_a_half_precision_is_a_clear_error() -> None:
    with pytest.raises(InvalidParameterError, match="overflow float16") as info:
        generate_tensor(plan("constant", (3,), DType.FLOAT16, value=1e6), 0)
    assert info.value.field == "dtype"
