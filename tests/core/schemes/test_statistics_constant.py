"""Statistics of the constant schemes: zeros, ones, constant and their framework rows.

Checked exactly: every element equals the value, in every output dtype.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core.dtypes import numpy_dtype
from app.core.generate import generate_tensor
from app.core.types import DType
from tests.core.stats_helpers import ALL_DTYPES, SEED, shaped

CONSTANT_CASES: list[tuple[str, dict[str, float], float]] = [
    ("zeros", {}, 0.0),
    ("zero", {}, 0.0),
    ("ones", {}, 1.0),
    ("one", {}, 1.0),
    ("constant", {"value": 0.25}, 0.25),
    ("torch.zeros_", {}, 0.0),
    ("torch.ones_", {}, 1.0),
    ("torch.constant_", {"val": -1.5}, -1.5),
    ("keras.Zeros", {}, 0.0),
    ("keras.Ones", {}, 1.0),
    ("keras.Constant", {}, 0.0),
    ("keras.Constant", {"value": 2.5}, 2.5),
    ("jax.zeros", {}, 0.0),
    ("jax.ones", {}, 1.0),
    ("jax.constant", {"value": 3.0}, 3.0),
]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize(("scheme", "params", "value"), CONSTANT_CASES, ids=lambda x: str(x))
def test_constant_schemes_fill_exactly_their_value(
    scheme: str, params: dict[str, float], value: float, dtype: DType
) -> None:
    values = generate_tensor(shaped(scheme, params, (3, 5, 7), dtype=dtype), SEED)
    assert values.dtype == numpy_dtype(dtype)
    assert (values.astype(np.float64) == value).all()
