"""The law-building functions the registry rows name as engines (all but variance scaling).

Each engine is ``function(ctx, *, arguments) -> Law``; a row of ``canonical.py`` or
``frameworks.py`` fixes some arguments and lets the caller give the rest (see
``base.Engine``). Engines hold no defaults: every argument comes from the row or the caller,
so one row shows everything that shapes its law. The variance-scaling engines live in
``variance.py``, the per-layer framework defaults in ``defaults.py``.
"""

from __future__ import annotations

import math

from ..errors import ShapeError
from ..laws import (
    ConstantLaw,
    DeltaOrthogonalLaw,
    DiracLaw,
    IdentityLaw,
    Law,
    NormalLaw,
    OrthogonalLaw,
    SparseLaw,
    TruncatedNormalLaw,
    UniformLaw,
    truncated_law,
)
from ..types import Layout
from .base import TensorContext

# ---- constants and elementwise distributions -------------------------------------------------


def constant(ctx: TensorContext, *, value: float) -> Law:
    """``W = value`` (torch.nn.init.constant_, keras Constant, jax constant)."""
    return ConstantLaw(value)


def uniform(ctx: TensorContext, *, low: float, high: float) -> Law:
    """``W ~ U[low, high)`` (torch.nn.init.uniform_)."""
    return UniformLaw(low, high)


def normal(ctx: TensorContext, *, mean: float, std: float) -> Law:
    """``W ~ N(mean, std^2)``, untruncated (torch.nn.init.normal_)."""
    return NormalLaw(mean, std)


def truncated_normal(
    ctx: TensorContext, *, mean: float, std: float, a: float, b: float, bounds: str
) -> TruncatedNormalLaw:
    """N(mean, std^2) restricted to [a, b]: in units of std (``bounds='std'``, Keras's
    ``mean +- 2 stddev``) or absolute values (``bounds='absolute'``, torch's trunc_normal_).
    No variance correction: the truncated law's std is below ``std``."""
    if bounds == "std":
        return truncated_law(mean, std, mean + a * std, mean + b * std)
    return truncated_law(mean, std, a, b)


def jax_truncated_normal(
    ctx: TensorContext, *, stddev: float, lower: float, upper: float
) -> TruncatedNormalLaw:
    """jax.nn.initializers.truncated_normal: ``stddev * Z``, Z ~ N(0, 1) cut to (lower, upper).

    Bounds are ``lower * stddev``, as JAX writes them (``0.0 + lower * stddev`` would turn a
    ``lower`` of -0.0 into +0.0, and the reported truncation with it)."""
    return truncated_law(0.0, stddev, lower * stddev, upper * stddev)


# ---- structured ------------------------------------------------------------------------------


def orthogonal(ctx: TensorContext, *, gain: float, layout: Layout) -> OrthogonalLaw:
    """(Semi-)orthogonal ``gain * Q sign(diag R)``, a >2-D tensor flattened as ``layout``
    flattens it: torch keeps rows = shape[0]; Keras and JAX keep cols = shape[-1]."""
    ctx.require_rank(2)
    numel = math.prod(ctx.shape)
    if layout is Layout.TORCH:
        rows = ctx.shape[0]
        return OrthogonalLaw(gain, rows, numel // rows)
    cols = ctx.shape[-1]
    return OrthogonalLaw(gain, numel // cols, cols)


def orthogonal_in_tensor_layout(ctx: TensorContext, *, gain: float) -> OrthogonalLaw:
    """:func:`orthogonal`, flattened as the tensor's own layout flattens it."""
    return orthogonal(ctx, gain=gain, layout=ctx.layout)


def identity(ctx: TensorContext, *, gain: float) -> IdentityLaw:
    """``gain * I`` on a 2-D tensor (rectangular: ones on the main diagonal)."""
    ctx.require_rank(2, 2)
    return IdentityLaw(gain)


def dirac(ctx: TensorContext, *, groups: int) -> DiracLaw:
    """torch.nn.init.dirac_: identity on channels at the kernel centre k//2, per group."""
    ctx.require_rank(3, 5)
    out_channels = ctx.shape[-1] if ctx.layout is not Layout.TORCH else ctx.shape[0]
    if out_channels % groups:
        raise ShapeError(
            f"Scheme {ctx.scheme!r}: groups={groups} does not divide the {out_channels} output "
            f"channels of tensor {ctx.name!r} (shape {list(ctx.shape)})."
        )
    return DiracLaw(groups, channels_last=ctx.layout is not Layout.TORCH)


def delta_orthogonal(ctx: TensorContext, *, gain: float) -> DeltaOrthogonalLaw:
    """Zero kernel but an orthogonal (in, out) matrix at the centre (k-1)//2 (Xiao et al.)."""
    ctx.require_rank(3, 5)
    last = ctx.layout is not Layout.TORCH
    in_ch, out_ch = (ctx.shape[-2], ctx.shape[-1]) if last else (ctx.shape[1], ctx.shape[0])
    if out_ch < in_ch:
        raise ShapeError(
            f"Scheme {ctx.scheme!r} needs out_channels >= in_channels (an orthogonal map cannot "
            f"shrink); tensor {ctx.name!r} has in={in_ch}, out={out_ch}."
        )
    return DeltaOrthogonalLaw(gain, in_ch, out_ch, channels_last=last)


def sparse(ctx: TensorContext, *, sparsity: float, std: float) -> SparseLaw:
    """N(0, std^2) with exactly ``ceil(sparsity * rows)`` zeros in every column (Martens)."""
    ctx.require_rank(2, 2)
    rows = ctx.shape[0]
    zeros = math.ceil(sparsity * rows)  # torch's float formula: sparsity 0.1 of 10 rows is 1
    return SparseLaw(std, zeros, rows)
