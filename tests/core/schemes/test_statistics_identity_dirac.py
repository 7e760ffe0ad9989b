"""Statistics of the deterministic structured schemes: identity (eye) and dirac.

Checked exactly, in every output dtype: gain on the main diagonal and exact zeros elsewhere;
dirac's ones at the positions torch.nn.init.dirac_ writes them, channels-last layouts the same
kernel with its axes moved.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core.dtypes import numpy_dtype
from app.core.generate import generate_tensor
from app.core.types import DType, Layout
from tests.core.stats_helpers import ALL_DTYPES, SEED, Array, shaped

IDENTITY_CASES: list[tuple[str, dict[str, float], tuple[int, int], Layout, float]] = [
    ("identity", {"gain": 2.5}, (5, 7), Layout.TORCH, 2.5),
    ("identity", {"gain": 2.5}, (7, 5), Layout.TORCH, 2.5),
    ("identity", {}, (4, 4), Layout.JAX, 1.0),
    ("eye", {"gain": -0.5}, (4, 4), Layout.TORCH, -0.5),
    ("torch.eye_", {}, (3, 6), Layout.TORCH, 1.0),
    ("keras.Identity", {"gain": -0.5}, (6, 3), Layout.KERAS, -0.5),
    ("keras.Identity", {}, (4, 4), Layout.KERAS, 1.0),
]
DIRAC_SCHEMES = ["dirac", "torch.dirac_"]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize(("scheme", "params", "shape", "layout", "gain"), IDENTITY_CASES)
def test_identity_is_exactly_gain_times_eye(
    scheme: str,
    params: dict[str, float],
    shape: tuple[int, int],
    layout: Layout,
    gain: float,
    dtype: DType,
) -> None:
    """gain on the main diagonal (rectangular too), exact zeros elsewhere, in every dtype."""
    values = generate_tensor(shaped(scheme, params, shape, layout=layout, dtype=dtype), SEED)
    assert values.dtype == numpy_dtype(dtype)
    expected = (gain * np.eye(*shape)).astype(numpy_dtype(dtype))
    np.testing.assert_array_equal(values, expected)


def _ones_at(shape: tuple[int, ...], positions: list[tuple[int, ...]]) -> Array:
    out = np.zeros(shape)
    for pos in positions:
        out[pos] = 1.0
    return out


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("scheme", DIRAC_SCHEMES)
@pytest.mark.parametrize(
    ("shape", "groups", "ones"),
    [
        ((2, 3, 4), 1, [(0, 0, 2), (1, 1, 2)]),
        ((4, 2, 3, 3), 2, [(0, 0, 1, 1), (1, 1, 1, 1), (2, 0, 1, 1), (3, 1, 1, 1)]),
        ((3, 3, 4, 4), 1, [(0, 0, 2, 2), (1, 1, 2, 2), (2, 2, 2, 2)]),  # even k: k//2
        ((2, 2, 3, 3, 3), 1, [(0, 0, 1, 1, 1), (1, 1, 1, 1, 1)]),
        ((6, 4, 3), 3, [(0, 0, 1), (1, 1, 1), (2, 0, 1), (3, 1, 1), (4, 0, 1), (5, 1, 1)]),
    ],
)
def test_dirac_has_ones_exactly_at_torchs_positions(
    scheme: str, shape: tuple[int, ...], groups: int, ones: list[tuple[int, ...]], dtype: DType
) -> None:
    """torch.nn.init.dirac_ (verified): ones at (g·out/g + d, d, k//2...), zeros elsewhere."""
    plan = shaped(scheme, {"groups": groups}, shape, dtype=dtype)
    values = generate_tensor(plan, SEED)
    np.testing.assert_array_equal(values.astype(np.float64), _ones_at(shape, ones))


@pytest.mark.parametrize("layout", [Layout.KERAS, Layout.JAX])
@pytest.mark.parametrize(
    ("torch_shape", "groups"), [((4, 2, 3, 3), 2), ((2, 3, 4), 1), ((4, 4, 3, 3, 3), 4)]
)
def test_channels_last_dirac_is_the_transposed_torch_dirac(
    layout: Layout, torch_shape: tuple[int, ...], groups: int
) -> None:
    """A (*kernel, in, out) dirac equals the (out, in, *kernel) one with axes moved."""
    rank = len(torch_shape)
    last_shape = (*torch_shape[2:], torch_shape[1], torch_shape[0])
    torch_w = generate_tensor(shaped("dirac", {"groups": groups}, torch_shape), SEED)
    last_w = generate_tensor(shaped("dirac", {"groups": groups}, last_shape, layout=layout), SEED)
    np.testing.assert_array_equal(last_w, np.transpose(torch_w, (*range(2, rank), 1, 0)))
