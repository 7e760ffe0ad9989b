"""Each framework's per-layer default, by tensor role and layer family."""

from __future__ import annotations

import math

import pytest

from app.core.errors import ShapeError
from app.core.fans import Fans
from app.core.laws import (
    ConstantLaw,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from app.core.schemes.base import TensorContext
from app.core.schemes.defaults import flax_default, keras_default, torch_default
from app.core.types import Family, Layout, Role


def ctx(
    shape: tuple[int, ...],
    role: Role = Role.WEIGHT,
    family: Family = Family.TENSOR,
    fans: Fans | None = None,
    layout: Layout = Layout.TORCH,
    **extra: object,
) -> TensorContext:
    return TensorContext(
        shape=shape,
        fans=fans,
        role=role,
        family=family,
        layout=layout,
        name="w",
        **extra,  # type: ignore[arg-type]
    )


def test_torch_linear_weight_and_bias_are_uniform_one_over_sqrt_fan_in() -> None:
    fans = Fans(fan_in=16, fan_out=4)
    weight = torch_default(ctx((4, 16), fans=fans))
    assert isinstance(weight, UniformLaw)
    assert weight.high == pytest.approx(1 / math.sqrt(16), rel=1e-15)
    assert torch_default(ctx((4,), Role.BIAS, fans=fans)) == UniformLaw(-0.25, 0.25)


def test_torch_bias_of_a_layer_without_inputs_is_zero_wide() -> None:
    assert torch_default(ctx((4,), Role.BIAS, fans=Fans(0, 4))) == UniformLaw(-0.0, 0.0)


def test_torch_recurrent_tensors_use_the_hidden_size() -> None:
    law = torch_default(ctx((12, 5), family=Family.RECURRENT, hidden_size=4))
    assert law == UniformLaw(-0.5, 0.5)


def test_torch_embedding_is_standard_normal_and_norms_are_one_and_zero() -> None:
    assert torch_default(ctx((10, 3), family=Family.EMBEDDING)) == NormalLaw(0.0, 1.0)
    assert torch_default(ctx((3,), family=Family.NORM)) == ConstantLaw(1.0)
    assert torch_default(ctx((3,), Role.BIAS, family=Family.NORM)) == ConstantLaw(0.0)


def test_a_default_without_fans_names_its_scheme() -> None:
    with pytest.raises(ShapeError, match="needs fans"):
        torch_default(ctx((2, 3, 4)))


def test_keras_lstm_bias_has_unit_forget_gate() -> None:
    law = keras_default(ctx((8,), Role.BIAS, Family.RECURRENT, cell="lstm", hidden_size=2))
    assert law == SegmentsLaw((0.0, 1.0, 0.0), (2, 2, 4))
    assert keras_default(ctx((8,), Role.BIAS, Family.RECURRENT, cell="gru", hidden_size=2)) == (
        ConstantLaw(0.0)
    )


def test_keras_recurrent_kernel_is_orthogonal_and_embedding_small_uniform() -> None:
    recurrent = keras_default(ctx((2, 8), Role.RECURRENT_WEIGHT, layout=Layout.KERAS))
    assert recurrent == OrthogonalLaw(1.0, 2, 8)
    assert keras_default(ctx((10, 3), family=Family.EMBEDDING)) == UniformLaw(-0.05, 0.05)


def test_flax_embedding_is_untruncated_and_kernels_truncated() -> None:
    fans = Fans(fan_in=3, fan_out=10)
    embed = flax_default(ctx((10, 3), family=Family.EMBEDDING, fans=fans, layout=Layout.JAX))
    assert isinstance(embed, NormalLaw)
    kernel = flax_default(ctx((3, 10), fans=fans, layout=Layout.JAX))
    assert isinstance(kernel, TruncatedNormalLaw)
    assert kernel.truncation == (-2 * kernel.sigma, 2 * kernel.sigma)
    assert flax_default(ctx((10,), Role.BIAS, fans=fans)) == ConstantLaw(0.0)
