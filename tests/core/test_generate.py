"""Tests for app/core/generate.py: plans to arrays under blocks-v1.

blocks-v1 output depends only on (seed, name, scheme, shape, dtype): not on chunking, position
in the request, or anything else (thread counts: test_determinism.py); every law kind has its
one way to be built.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core import legacy
from app.core.errors import InvalidParameterError, LimitExceededError
from app.core.generate import elementwise_range, generate_all, generate_tensor
from app.core.laws import (
    ConstantLaw,
    CounterLaw,
    IdentityLaw,
    NormalLaw,
    SegmentsLaw,
    UniformLaw,
)
from app.core.plans import TensorPlan
from app.core.streams import BLOCK_SIZE, MAX_SEED
from app.core.types import Algorithm, DType

from .plan_helpers import SAMPLER_SCHEMES
from .plan_helpers import tensor_plan as plan

# ---- determinism (moved from test_determinism.py; thread counts stay there) --------------------


def test_values_depend_on_the_seed_and_the_tensor_name() -> None:
    a = plan("normal", (100,))
    b = TensorPlan("bias", a.shape, a.dtype, a.law)
    assert generate_tensor(a, 1).tobytes() != generate_tensor(a, 2).tobytes()
    assert generate_tensor(a, 1).tobytes() != generate_tensor(b, 1).tobytes()


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


# ---- every law kind ----------------------------------------------------------------------------


def test_a_counter_is_an_int64_zero_whatever_the_dtype() -> None:
    out = generate_tensor(TensorPlan("num_batches_tracked", (), DType.FLOAT16, CounterLaw()), 5)
    assert out.dtype == np.int64 and out.shape == () and out == 0


@pytest.mark.parametrize("dtype", list(DType), ids=str)
def test_a_constant_fills_the_shape_in_the_output_dtype(dtype: DType) -> None:
    out = generate_tensor(TensorPlan("w", (2, 3), dtype, ConstantLaw(-0.5)), 0)
    assert out.shape == (2, 3)
    assert out.astype(np.float64).tolist() == [[-0.5] * 3] * 2


def test_identity_puts_the_gain_on_the_main_diagonal_of_a_rectangle() -> None:
    out = generate_tensor(TensorPlan("w", (2, 3), DType.FLOAT64, IdentityLaw(3.0)), 0)
    assert out.tolist() == [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0]]


def test_segments_repeat_each_value_its_length() -> None:
    law = SegmentsLaw((0.0, 1.0, 0.0), (2, 2, 4))
    out = generate_tensor(TensorPlan("bias", (8,), DType.FLOAT32, law), 0)
    assert out.tolist() == [0, 0, 1, 1, 0, 0, 0, 0]


def test_the_zero_row_is_zero_and_the_other_rows_are_not() -> None:
    p = TensorPlan("weight", (5, 4), DType.FLOAT32, NormalLaw(0.0, 1.0), zero_row=3)
    out = generate_tensor(p, 1)
    assert not out[3].any()
    assert np.delete(out, 3, axis=0).all()
    full = generate_tensor(TensorPlan("weight", (5, 4), DType.FLOAT32, NormalLaw(0.0, 1.0)), 1)
    assert np.delete(out, 3, axis=0).tobytes() == np.delete(full, 3, axis=0).tobytes()


# ---- ranges ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "stop"),
    [(0, 10), (BLOCK_SIZE - 3, BLOCK_SIZE + 3), (BLOCK_SIZE, 2 * BLOCK_SIZE), (17, 3 * BLOCK_SIZE)],
)
@pytest.mark.parametrize("threads", [1, 3])
def test_an_elementwise_range_is_that_slice_of_the_whole_tensor(
    start: int, stop: int, threads: int
) -> None:
    p = TensorPlan("w", (3 * BLOCK_SIZE + 5,), DType.FLOAT32, UniformLaw(-1.0, 1.0))
    law = p.law
    assert isinstance(law, UniformLaw)
    whole = generate_tensor(p, 8)
    part = elementwise_range(p, law, 8, start, stop, threads=threads)
    assert part.tobytes() == whole[start:stop].tobytes()


def test_an_elementwise_range_of_a_constant_needs_no_stream() -> None:
    p = TensorPlan("w", (10,), DType.FLOAT64, ConstantLaw(2.5))
    out = elementwise_range(p, ConstantLaw(2.5), 0, 3, 7, threads=1)
    assert out.dtype == np.float64 and out.tolist() == [2.5] * 4


# ---- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, True, 1.5, "1"])
def test_a_bad_seed_is_refused_on_field_seed(seed: object) -> None:
    p = TensorPlan("w", (3,), DType.FLOAT32, NormalLaw(0.0, 1.0))
    with pytest.raises(InvalidParameterError, match="seed must be") as info:
        generate_tensor(p, seed)  # type: ignore[arg-type]
    assert info.value.field == "seed"


def test_absurd_sizes_are_refused_before_allocation() -> None:
    with pytest.raises(LimitExceededError) as info:
        generate_tensor(plan("zeros", (2**30, 2**30)), 0)
    assert info.value.requested == 2**60
    assert info.value.limit_name == "MAX_CORE_ELEMENTS"
    assert "'weight'" in info.value.message


# ---- generate_all ------------------------------------------------------------------------------


def test_generate_all_returns_each_plans_tensor_in_order() -> None:
    plans = [plan("normal", (4, 3)), plan("zeros", (2,)), plan("uniform", (5,))]
    got = generate_all(plans, 12, threads=2)
    assert [a.shape for a in got] == [(4, 3), (2,), (5,)]
    for p, array in zip(plans, got, strict=True):
        assert array.tobytes() == generate_tensor(p, 12).tobytes()


def test_generate_all_hands_numpy_legacy_to_the_sequential_generator() -> None:
    plans = [plan("random", (4, 3), DType.FLOAT64), plan("random", (2,), DType.FLOAT64)]
    got = generate_all(plans, 7, Algorithm.NUMPY_LEGACY)
    expected = legacy.generate_sequential(plans, 7)
    assert [a.tobytes() for a in got] == [a.tobytes() for a in expected]
    assert got[0].tobytes() != generate_tensor(plans[0], 7).tobytes()


# ---- thread counts (deploy/README.md cites these) ------------------------------------------


@pytest.mark.parametrize(("scheme", "params"), SAMPLER_SCHEMES)
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
