"""Tests for app/core/legacy.py: numpy-legacy reproduces textbook numpy code bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.core.dtypes import numpy_dtype
from app.core.errors import InvalidParameterError, LimitExceededError
from app.core.generate import generate_all
from app.core.laws import (
    ConstantLaw,
    CounterLaw,
    DeltaOrthogonalLaw,
    IdentityLaw,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    SparseLaw,
    UniformLaw,
    truncated_law,
)
from app.core.layers import make_layer
from app.core.legacy import LEGACY_MAX_SEED, check_supported, generate_sequential
from app.core.planning import SchemeChoice, plan_layer
from app.core.plans import TensorPlan
from app.core.schemes import resolve_scheme
from app.core.types import Algorithm, DType, Layout

LEGACY = Algorithm.NUMPY_LEGACY


def tensor(shape: list[int], scheme: str, dtype: DType = DType.FLOAT64, **params: object) -> list:  # type: ignore[type-arg]
    return plan_layer(
        make_layer("tensor", {"shape": shape}),
        layout=Layout.KERAS,
        dtype=dtype,
        levels=(SchemeChoice(scheme=resolve_scheme(scheme, params)),),
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
            levels=(SchemeChoice(scheme=resolve_scheme("he")),),
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


# ---- the module's functions directly -----------------------------------------------------------


def _plan(name: str, shape: tuple[int, ...], law: object, **kw: object) -> TensorPlan:
    return TensorPlan(name, shape, kw.pop("dtype", DType.FLOAT64), law, **kw)  # type: ignore[arg-type]


def test_one_random_state_is_drawn_in_request_order() -> None:
    plans = [
        _plan("a", (3, 2), NormalLaw(0.0, 0.5)),
        _plan("b", (4,), UniformLaw(-1.0, 1.0)),
        _plan("c", (2, 2), NormalLaw(1.5, 2.0)),
    ]
    rs = np.random.RandomState(11)
    expected = [
        rs.randn(3, 2) * 0.5,
        rs.uniform(-1.0, 1.0, (4,)),
        rs.randn(2, 2) * 2.0 + 1.5,
    ]
    got = generate_sequential(plans, 11)
    assert [g.tobytes() for g in got] == [e.tobytes() for e in expected]


def test_deterministic_laws_draw_nothing() -> None:
    plans = [
        _plan("eye", (2, 3), IdentityLaw(2.0)),
        _plan("bias", (4,), SegmentsLaw((0.0, 1.0), (2, 2))),
        _plan("zeros", (3,), ConstantLaw(0.0)),
        _plan("num_batches_tracked", (), CounterLaw()),
        _plan("w", (5,), NormalLaw(0.0, 1.0)),
    ]
    eye, bias, zeros, counter, w = generate_sequential(plans, 2)
    assert eye.tolist() == [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    assert bias.tolist() == [0.0, 0.0, 1.0, 1.0] and zeros.tolist() == [0.0] * 3
    assert counter.dtype == np.int64 and counter.shape == ()
    np.random.seed(2)
    assert w.tobytes() == np.random.randn(5).tobytes()  # the first draw of the state


def test_the_padding_row_is_zeroed_after_drawing() -> None:
    (got,) = generate_sequential([_plan("emb", (4, 3), NormalLaw(0.0, 1.0), zero_row=1)], 5)
    np.random.seed(5)
    expected = np.random.randn(4, 3)
    expected[1] = 0
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", [DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16], ids=str)
def test_other_dtypes_are_casts_of_the_float64_values(dtype: DType) -> None:
    (wide,) = generate_sequential([_plan("w", (6,), NormalLaw(0.0, 1.0))], 9)
    (narrow,) = generate_sequential([_plan("w", (6,), NormalLaw(0.0, 1.0), dtype=dtype)], 9)
    assert narrow.tobytes() == wide.astype(numpy_dtype(dtype)).tobytes()


def test_seeds_are_randomstates_range() -> None:
    plans = [_plan("w", (2,), NormalLaw(0.0, 1.0))]
    generate_sequential(plans, LEGACY_MAX_SEED)
    with pytest.raises(InvalidParameterError) as info:
        generate_sequential(plans, LEGACY_MAX_SEED + 1)
    assert info.value.field == "seed"
    assert LEGACY_MAX_SEED == 2**32 - 1


@pytest.mark.parametrize(
    "law",
    [
        truncated_law(0.0, 1.0, -2.0, 2.0),
        OrthogonalLaw(1.0, 3, 3),
        DeltaOrthogonalLaw(1.0, 3, 3, channels_last=False),
        SparseLaw(0.1, 1, 3),
    ],
    ids=lambda law: type(law).__name__,
)
def test_a_law_without_a_textbook_form_refuses_the_whole_request(law: object) -> None:
    plans = [_plan("first", (3,), NormalLaw(0.0, 1.0)), _plan("layer.weight", (3, 3), law)]
    with pytest.raises(InvalidParameterError, match=r"'layer\.weight'") as info:
        check_supported(plans)
    assert info.value.field == "algorithm"
    with pytest.raises(InvalidParameterError):
        generate_sequential(plans, 0)


def test_sizes_are_checked_before_drawing() -> None:
    with pytest.raises(LimitExceededError):
        generate_sequential([_plan("w", (2**30, 2**30), NormalLaw(0.0, 1.0))], 0)
