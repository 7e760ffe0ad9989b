"""Each framework's per-layer default initialisation, as engines of the ``*.default`` rows.

A layer's constructor picks a law by the tensor's role (weight, bias, recurrent weight) and
its layer family (dense/conv, embedding, recurrent, norm, attention, bilinear, PReLU); these
engines do the same from the :class:`TensorContext`. Running statistics and counters never
reach a scheme: the planner gives them their fixed values (``planning.py``).

Rules for the families where a framework's layer differs from its Dense default (each cites
the framework's source):

* torch ``MultiheadAttention._reset_parameters`` (torch/nn/modules/activation.py):
  ``xavier_uniform_`` on ``in_proj_weight`` (or on each of ``q/k/v_proj_weight``),
  ``constant_(0)`` on ``in_proj_bias`` and ``out_proj.bias``, ``xavier_normal_`` on
  ``bias_k``/``bias_v``; ``out_proj.weight`` keeps Linear's default U(+-1/sqrt(E)).
* torch ``Bilinear.reset_parameters`` (torch/nn/modules/linear.py): weight and bias
  U(+-1/sqrt(in1_features)) (``bound = 1 / math.sqrt(self.weight.size(1))``).
* PReLU's slope: torch ``constant_(weight, init)`` with ``init=0.25``
  (torch/nn/modules/activation.py), Keras ``alpha_initializer="Zeros"``
  (keras/src/layers/activations/prelu.py), Flax ``negative_slope_init=0.01``
  (flax/linen/activation.py); the layer's ``init`` replaces each.
* Keras ``MultiHeadAttention`` and Flax ``MultiHeadDotProductAttention`` kernels and biases
  take their Dense defaults (glorot_uniform / lecun_normal with the einsum axes' fans, biases
  zeros): no rule of their own.
"""

from __future__ import annotations

import math

from ..laws import ConstantLaw, Law, NormalLaw, SegmentsLaw, UniformLaw
from ..types import Distribution, Family, Layout, Mode, Role
from .base import TensorContext
from .engines import orthogonal
from .variance import jax_law, keras_law, torch_kaiming_law, torch_xavier_law

TORCH_PRELU_INIT = 0.25  # torch.nn.PReLU(init=0.25)
KERAS_PRELU_INIT = 0.0  # keras.layers.PReLU(alpha_initializer="Zeros")
FLAX_PRELU_INIT = 0.01  # flax.linen.PReLU(negative_slope_init=0.01)


def _norm_law(ctx: TensorContext) -> Law | None:
    """Every framework initialises a norm's scale to 1 and its shift to 0."""
    if ctx.family is Family.NORM:
        return ConstantLaw(0.0 if ctx.role in (Role.NORM_SHIFT, Role.BIAS) else 1.0)
    return None


def _prelu_law(ctx: TensorContext, framework_init: float) -> Law | None:
    """PReLU's slope starts at the layer's ``init``, else at the framework's value."""
    if ctx.family is Family.PRELU:
        return ConstantLaw(framework_init if ctx.fill is None else ctx.fill)
    return None


def _torch_layer_law(ctx: TensorContext) -> Law | None:
    """torch's own rules for MultiheadAttention, Bilinear and PReLU (module docstring);
    None where the layer keeps Linear's default (``out_proj.weight``)."""
    if ctx.family is Family.ATTENTION_BIAS_KV:
        return torch_xavier_law(1.0, ctx.require_fans(), Distribution.NORMAL)
    if ctx.family is Family.ATTENTION and ctx.role is Role.ATTENTION_QKV:
        return torch_xavier_law(1.0, ctx.require_fans(), Distribution.UNIFORM)
    if ctx.family is Family.ATTENTION and ctx.role is Role.BIAS:
        return ConstantLaw(0.0)
    if ctx.family is Family.BILINEAR:
        assert ctx.in1_features is not None
        bound = 1 / math.sqrt(ctx.in1_features)
        return UniformLaw(-bound, bound)
    return _prelu_law(ctx, TORCH_PRELU_INIT)


def torch_default(ctx: TensorContext) -> Law:
    """torch 2.13 ``reset_parameters`` of Linear, Conv*, RNN/LSTM/GRU, Embedding and norms.

    Linear/Conv weight: ``kaiming_uniform_(a=math.sqrt(5))``, i.e. U(+-1/sqrt(fan_in)); bias
    U(+-1/sqrt(fan_in)) (0 when fan_in is 0); recurrent: every tensor U(+-1/sqrt(hidden));
    Embedding N(0, 1); MultiheadAttention, Bilinear and PReLU as the module docstring says.
    pytorch/pytorch#57109 explains the sqrt(5)."""
    own = _norm_law(ctx) or _torch_layer_law(ctx)
    if own is not None:
        return own
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
    U(+-0.05), PReLU's alpha 0."""
    own = _norm_law(ctx) or _prelu_law(ctx, KERAS_PRELU_INIT)
    if own is not None:
        return own
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
    ``orthogonal``, biases 0, ``Embed`` N(0, 1/d) (``variance_scaling(1, fan_in, normal)``),
    PReLU's negative_slope 0.01."""
    own = _norm_law(ctx) or _prelu_law(ctx, FLAX_PRELU_INIT)
    if own is not None:
        return own
    if ctx.role is Role.BIAS:
        return ConstantLaw(0.0)
    if ctx.role is Role.RECURRENT_WEIGHT:
        return orthogonal(ctx, gain=1.0, layout=Layout.JAX)
    fans = ctx.require_fans()
    if ctx.family is Family.EMBEDDING:
        return jax_law(1.0, fans, Mode.FAN_IN, Distribution.NORMAL, ctx.dtype)
    return jax_law(1.0, fans, Mode.FAN_IN, Distribution.TRUNCATED_NORMAL, ctx.dtype)
