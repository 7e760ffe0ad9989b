"""Each framework's per-layer default initialisation, as engines of the ``*.default`` rows.

A layer's constructor picks a law by the tensor's role (weight, bias, recurrent weight) and
its layer family (dense/conv, embedding, recurrent, norm); these engines do the same from the
:class:`TensorContext`. Running statistics and counters never reach a scheme: the planner
gives them their fixed values (``planning.py``).
"""

from __future__ import annotations

import math

from ..laws import ConstantLaw, Law, NormalLaw, SegmentsLaw, UniformLaw
from ..types import Distribution, Family, Layout, Mode, Role
from .base import TensorContext
from .engines import orthogonal
from .variance import jax_law, keras_law, torch_kaiming_law


def _norm_law(ctx: TensorContext) -> Law | None:
    """Every framework initialises a norm's scale to 1 and its shift to 0."""
    if ctx.family is Family.NORM:
        return ConstantLaw(0.0 if ctx.role in (Role.NORM_SHIFT, Role.BIAS) else 1.0)
    return None


def torch_default(ctx: TensorContext) -> Law:
    """torch 2.13 ``reset_parameters`` of Linear, Conv*, RNN/LSTM/GRU, Embedding and norms.

    Linear/Conv weight: ``kaiming_uniform_(a=math.sqrt(5))``, i.e. U(+-1/sqrt(fan_in)); bias
    U(+-1/sqrt(fan_in)) (0 when fan_in is 0); recurrent: every tensor U(+-1/sqrt(hidden));
    Embedding N(0, 1). pytorch/pytorch#57109 explains the sqrt(5)."""
    norm = _norm_law(ctx)
    if norm is not None:
        return norm
    if ctx.family is Family.RECURRENT:
        assert ctx.hidden_size is not None
        stdv = 1.0 / math.sqrt(ctx.hidden_size)
        return UniformLaw(-stdv, stdv)
    if ctx.family is Family.EMBEDDING and ctx.role is not Role.BIAS:
        return NormalLaw(0.0, 1.0)
    fans = ctx.require_fans()
    if ctx.role is Role.BIAS:
        bound = 1.0 / math.sqrt(fans.fan_in) if fans.fan_in > 0 else 0.0
        return UniformLaw(-bound, bound)
    return torch_kaiming_law(math.sqrt(5), Mode.FAN_IN, "leaky_relu", fans, Distribution.UNIFORM)


def keras_default(ctx: TensorContext) -> Law:
    """Keras 3 layer constructors: kernels ``glorot_uniform``, recurrent kernels
    ``orthogonal``, biases 0 (an LSTM's forget-gate bias 1, ``unit_forget_bias``), Embedding
    U(+-0.05)."""
    norm = _norm_law(ctx)
    if norm is not None:
        return norm
    if ctx.role is Role.BIAS:
        if ctx.family is Family.RECURRENT and ctx.cell == "lstm":
            assert ctx.hidden_size is not None
            u = ctx.hidden_size
            return SegmentsLaw((0.0, 1.0, 0.0), (u, u, 2 * u))
        return ConstantLaw(0.0)
    if ctx.family is Family.EMBEDDING:
        return UniformLaw(-0.05, 0.05)
    if ctx.role is Role.RECURRENT_WEIGHT:
        return orthogonal(ctx, gain=1.0, layout=Layout.KERAS)
    return keras_law(1.0, ctx.require_fans(), Mode.FAN_AVG, Distribution.UNIFORM)


def flax_default(ctx: TensorContext) -> Law:
    """Flax (linen and nnx) defaults: kernels ``lecun_normal`` (truncated), recurrent kernels
    ``orthogonal``, biases 0, ``Embed`` N(0, 1/d) (``variance_scaling(1, fan_in, normal)``)."""
    norm = _norm_law(ctx)
    if norm is not None:
        return norm
    if ctx.role is Role.BIAS:
        return ConstantLaw(0.0)
    if ctx.role is Role.RECURRENT_WEIGHT:
        return orthogonal(ctx, gain=1.0, layout=Layout.JAX)
    fans = ctx.require_fans()
    if ctx.family is Family.EMBEDDING:
        return jax_law(1.0, fans, Mode.FAN_IN, Distribution.NORMAL, ctx.dtype)
    return jax_law(1.0, fans, Mode.FAN_IN, Distribution.TRUNCATED_NORMAL, ctx.dtype)
