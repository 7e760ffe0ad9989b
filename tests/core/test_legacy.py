"""numpy-legacy reproduces textbook numpy code bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.core.errors import InvalidParameterError
from app.core.generate import generate_all
from app.core.layers import make_layer
from app.core.planning import plan_layer
from app.core.schemes import resolve_scheme
from app.core.types import Algorithm, DType, Layout

LEGACY = Algorithm.NUMPY_LEGACY


def tensor(shape: list[int], scheme: str, dtype: DType = DType.FLOAT64, **params: object) -> list:  # type: ignore[type-arg]
    return plan_layer(
        make_layer("tensor", {"shape": shape}),
        layout=Layout.KERAS,
        dtype=dtype,
        scheme=resolve_scheme(scheme, params),
        algorithm=LEGACY,
    )


def test_random_is_randn_times_0_01() -> None:
    np.random.seed(3)
    expected = np.random.randn(10, 2) * 0.01
    (got,) = generate_all(tensor([10, 2], "random"), 3, LEGACY)
    assert got.tobytes() == expected.tobytes()


def test_he_mlp_draws_in_order_with_textbook_constants() -> None:
    sizes = [784, 256, 10]
    np.random.seed(3)
    expected = []
    for n_prev, n in itertools.pairwise(sizes):
        expected.append(np.random.randn(n, n_prev) * np.sqrt(2 / n_prev))
        expected.append(np.zeros((n, 1)))
    plans = []
    for n_prev, n in itertools.pairwise(sizes):
        w = tensor([n, n_prev], "he")
        # textbook layout (n_l, n_{l-1}) multiplies W @ x: fan_in is n_{l-1}
        plans += plan_layer(
            make_layer("tensor", {"shape": [n, n_prev], "fan_in": n_prev, "fan_out": n}),
            layout=Layout.TORCH,
            dtype=DType.FLOAT64,
            scheme=resolve_scheme("he"),
            algorithm=LEGACY,
        )
        plans += tensor([n, 1], "zeros")
        assert w
    got = generate_all(plans, 3, LEGACY)
    for g, e in zip(got, expected, strict=True):
        assert g.tobytes() == e.tobytes()


def test_uniform_is_numpy_uniform_and_other_dtypes_are_casts() -> None:
    rs = np.random.RandomState(12)
    expected = rs.uniform(-1.0, 2.0, (4, 5))
    (got,) = generate_all(tensor([4, 5], "uniform", DType.FLOAT32, low=-1.0, high=2.0), 12, LEGACY)
    assert got.tobytes() == expected.astype(np.float32).tobytes()


def test_seed_range_and_unsupported_schemes_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="4294967295"):
        generate_all(tensor([2, 2], "random"), 2**32, LEGACY)
    with pytest.raises(InvalidParameterError, match="numpy-legacy") as err:
        generate_all(tensor([4, 4], "truncated_normal"), 1, LEGACY)
    assert err.value.field == "algorithm"
