"""blocks-v1 output depends only on (seed, name, scheme, shape, dtype): not on threads,
chunking, position in the request, or anything else."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.generate import generate_tensor
from app.core.layers import make_layer
from app.core.planning import plan_layer
from app.core.plans import TensorPlan
from app.core.reading import read_range
from app.core.schemes import resolve_scheme
from app.core.streams import BLOCK_SIZE, name_key
from app.core.types import DType, Layout

SHAPE = (3 * BLOCK_SIZE // 256 + 7, 256)  # three blocks and a bit


def plan(
    scheme: str,
    shape: tuple[int, ...] = SHAPE,
    dtype: DType = DType.FLOAT32,
    layout: Layout = Layout.TORCH,
    **params: object,
) -> TensorPlan:
    (p,) = plan_layer(
        make_layer("tensor", {"shape": list(shape)}),
        layout=layout,
        dtype=dtype,
        scheme=resolve_scheme(scheme, params),
    )
    return p


SCHEMES_UNDER_TEST = [
    ("uniform", {}),
    ("normal", {}),
    ("truncated_normal", {}),
    ("truncated_normal", {"a": 0.5, "b": 0.7}),
    ("truncated_normal", {"a": 3.0, "b": 9.0}),
    ("he_uniform", {}),
]


@pytest.mark.parametrize(("scheme", "params"), SCHEMES_UNDER_TEST)
@pytest.mark.parametrize("threads", [2, 4])
def test_thread_count_does_not_change_bytes(
    scheme: str, params: dict[str, object], threads: int
) -> None:
    p = plan(scheme, **params)
    one = generate_tensor(p, 99, threads=1)
    assert generate_tensor(p, 99, threads=threads).tobytes() == one.tobytes()


def test_thread_count_does_not_change_whole_matrix_schemes() -> None:
    p = plan("orthogonal", (300, 300), DType.FLOAT64)
    assert generate_tensor(p, 3, threads=1).tobytes() == generate_tensor(p, 3, threads=4).tobytes()


@pytest.mark.parametrize(("scheme", "params"), SCHEMES_UNDER_TEST)
@settings(max_examples=15)
@given(cuts=st.lists(st.integers(0, SHAPE[0] * SHAPE[1]), max_size=5))
def test_block_ranges_stitch_into_the_whole_tensor(
    scheme: str, params: dict[str, object], cuts: list[int]
) -> None:
    p = plan(scheme, **params)
    whole = generate_tensor(p, 5).reshape(-1)
    edges = sorted({0, p.numel, *cuts})
    parts = [read_range(p, 5, a, b) for a, b in itertools.pairwise(edges)]
    assert np.concatenate(parts).tobytes() == whole.tobytes()


def test_a_range_does_not_produce_its_prefix() -> None:
    p = plan("normal", (BLOCK_SIZE * 4,))
    tail = read_range(p, 1, 3 * BLOCK_SIZE + 10, 3 * BLOCK_SIZE + 20)
    assert (
        tail.tobytes() == generate_tensor(p, 1)[3 * BLOCK_SIZE + 10 : 3 * BLOCK_SIZE + 20].tobytes()
    )


def test_values_depend_on_seed_and_name_only_through_the_stream_key() -> None:
    a = plan("normal", (100,))
    b = TensorPlan("bias", a.shape, a.dtype, a.law)
    assert generate_tensor(a, 1).tobytes() != generate_tensor(a, 2).tobytes()
    assert generate_tensor(a, 1).tobytes() != generate_tensor(b, 1).tobytes()
    assert name_key("encoder.0.weight") != name_key("encoder.1.weight")
    assert len(name_key("x" * 10_000)) == 8


def test_a_layers_values_depend_on_its_name_not_its_position() -> None:
    layer = make_layer("dense", {"in_features": 4, "out_features": 3})
    alone = plan_layer(layer, prefix="decoder.")
    after_another = plan_layer(
        make_layer("dense", {"in_features": 9, "out_features": 9}), prefix="encoder."
    )
    after_another += plan_layer(layer, prefix="decoder.")
    for p, q in zip(alone, after_another[-2:], strict=True):
        assert generate_tensor(p, 8).tobytes() == generate_tensor(q, 8).tobytes()


def test_schemes_of_one_family_share_the_underlying_draws() -> None:
    # same seed and name: he_normal is glorot_normal rescaled (common random numbers)
    he = generate_tensor(plan("he_normal", (40, 30), DType.FLOAT64), 4)
    glorot = generate_tensor(plan("glorot_normal", (40, 30), DType.FLOAT64), 4)
    ratio = he / glorot
    assert np.allclose(ratio, ratio.flat[0], rtol=1e-12)


def test_uniform_and_normal_are_prefix_stable() -> None:
    for scheme in ("uniform", "normal"):
        small = generate_tensor(plan(scheme, (10,)), 3)
        large = generate_tensor(plan(scheme, (1000,)), 3)
        assert small.tobytes() == large[:10].tobytes()


@pytest.mark.parametrize("dtype", [DType.FLOAT16, DType.BFLOAT16])
def test_half_precisions_are_the_float32_values_rounded_once(dtype: DType) -> None:
    from app.core.dtypes import numpy_dtype

    f32 = generate_tensor(plan("he_normal", (50, 40)), 11)
    half = generate_tensor(plan("he_normal", (50, 40), dtype), 11)
    assert half.dtype == numpy_dtype(dtype)
    assert half.tobytes() == f32.astype(numpy_dtype(dtype)).tobytes()


def test_overflowing_a_half_precision_is_a_clear_error() -> None:
    from app.core.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="overflow float16"):
        generate_tensor(plan("constant", (3,), DType.FLOAT16, value=1e6), 0)
