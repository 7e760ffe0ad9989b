"""The law-building engines: shapes, flattening, refusals that name scheme and tensor."""

from __future__ import annotations

import math

import pytest

from app.core.errors import InvalidParameterError, ShapeError
from app.core.laws import (
    ConstantLaw,
    DeltaOrthogonalLaw,
    DiracLaw,
    IdentityLaw,
    NormalLaw,
    OrthogonalLaw,
    SparseLaw,
    UniformLaw,
)
from app.core.schemes.base import TensorContext
from app.core.schemes.engines import (
    constant,
    delta_orthogonal,
    dirac,
    identity,
    jax_truncated_normal,
    normal,
    orthogonal,
    orthogonal_in_tensor_layout,
    sparse,
    truncated_normal,
    uniform,
)
from app.core.types import Layout


def ctx(*shape: int, layout: Layout = Layout.TORCH) -> TensorContext:
    return TensorContext(shape=shape, fans=None, layout=layout, name="w", scheme="demo")


def test_elementwise_engines_build_their_laws() -> None:
    assert constant(ctx(2), value=3.0) == ConstantLaw(3.0)
    assert uniform(ctx(2), low=-1.0, high=2.0) == UniformLaw(-1.0, 2.0)
    assert normal(ctx(2), mean=0.5, std=2.0) == NormalLaw(0.5, 2.0)


def test_truncated_bounds_in_stds_or_absolute() -> None:
    in_stds = truncated_normal(ctx(2), mean=1.0, std=0.5, a=-2.0, b=2.0, bounds="std")
    assert in_stds.truncation == (0.0, 2.0)
    absolute = truncated_normal(ctx(2), mean=1.0, std=0.5, a=-2.0, b=2.0, bounds="absolute")
    assert absolute.truncation == (-2.0, 2.0)


def test_jax_truncated_bounds_are_lower_times_stddev_sign_of_zero_kept() -> None:
    law = jax_truncated_normal(ctx(2), stddev=0.5, lower=-0.0, upper=3.0)
    assert law.truncation == (-0.0, 1.5)
    assert math.copysign(1.0, law.low) == -1.0


def test_truncation_outside_float_resolution_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="truncation"):
        truncated_normal(ctx(2), mean=0.0, std=1.0, a=2e6, b=3e6, bounds="std")


def test_orthogonal_flattens_as_the_layout_does() -> None:
    assert orthogonal(ctx(8, 4, 3, 3), gain=1.0, layout=Layout.TORCH) == OrthogonalLaw(1.0, 8, 36)
    assert orthogonal(ctx(3, 3, 4, 8), gain=2.0, layout=Layout.KERAS) == OrthogonalLaw(2.0, 36, 8)
    keras_ctx = ctx(3, 3, 4, 8, layout=Layout.KERAS)
    assert orthogonal_in_tensor_layout(keras_ctx, gain=1.0) == OrthogonalLaw(1.0, 36, 8)


def test_orthogonal_needs_rank_two() -> None:
    with pytest.raises(ShapeError, match="'demo' needs a tensor of rank >= 2; tensor 'w'"):
        orthogonal(ctx(5), gain=1.0, layout=Layout.TORCH)


def test_identity_is_two_dimensional_only() -> None:
    assert identity(ctx(3, 5), gain=0.5) == IdentityLaw(0.5)
    with pytest.raises(ShapeError, match="rank 2"):
        identity(ctx(3, 3, 3), gain=1.0)


def test_dirac_groups_must_divide_the_output_channels() -> None:
    assert dirac(ctx(4, 2, 3), groups=2) == DiracLaw(2)
    assert dirac(ctx(3, 2, 4, layout=Layout.KERAS), groups=4) == DiracLaw(4, channels_last=True)
    with pytest.raises(ShapeError, match="groups=3 does not divide the 4 output channels"):
        dirac(ctx(4, 2, 3), groups=3)


def test_delta_orthogonal_cannot_shrink_channels() -> None:
    assert delta_orthogonal(ctx(8, 4, 3), gain=1.0) == DeltaOrthogonalLaw(
        1.0, 4, 8, channels_last=False
    )
    with pytest.raises(ShapeError, match="out_channels >= in_channels"):
        delta_orthogonal(ctx(2, 4, 3), gain=1.0)


@pytest.mark.parametrize(("sparsity", "rows", "zeros"), [(0.1, 10, 1), (0.5, 3, 2), (0.0, 4, 0)])
def test_sparse_zeros_per_column_is_torchs_ceil(sparsity: float, rows: int, zeros: int) -> None:
    assert sparse(ctx(rows, 6), sparsity=sparsity, std=0.01) == SparseLaw(0.01, zeros, rows)
