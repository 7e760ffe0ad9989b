"""Multi-head attention and torch's transformer layers: their specs and named tensors.

Names, shapes and fans are each framework's own (read from their source):

* torch ``nn.MultiheadAttention`` (torch/nn/modules/activation.py): ``in_proj_weight (3E, E)``
  when ``kdim == vdim == embed_dim``, else ``q_proj_weight (E, E)``, ``k_proj_weight
  (E, kdim)``, ``v_proj_weight (E, vdim)``; ``in_proj_bias (3E,)``, packed either way;
  ``bias_k``, ``bias_v (1, 1, E)`` with ``add_bias_kv``; ``out_proj.weight (E, E)``,
  ``out_proj.bias (E,)``, in that (state_dict) order. Fans are torch's rule on the stored
  shape, so the packed ``in_proj_weight`` has fans (E, 3E) and xavier bound sqrt(6 / 4E),
  while separate projections get sqrt(6 / (E + kdim)) (pytorch/pytorch#166378, open). The
  packed bias carries the packed projection's fans (E, 3E) either way.
* Keras ``MultiHeadAttention`` (keras/src/layers/attention/multi_head_attention.py): one
  ``EinsumDense`` per projection, ``query.kernel (E, h, key_dim)``, ``query.bias
  (h, key_dim)``, ``key.kernel (kdim, h, key_dim)``, ``value.kernel (vdim, h, value_dim)``,
  ``attention_output.kernel (h, value_dim, *output_shape)``, ``attention_output.bias
  (*output_shape)``. EinsumDense hands its equation's axes to VarianceScaling
  (keras-team/keras PR #22789): fans (E, h*key_dim) and (h*value_dim, prod(output_shape)).
* Flax ``MultiHeadDotProductAttention`` (flax/linen/attention.py): one ``DenseGeneral`` per
  projection, ``query.kernel (E, h, head_dim)`` with ``head_dim = qkv_features // h``,
  ``query.bias (h, head_dim)``, ``key.*``, ``value.*``, ``out.kernel (h, head_dim,
  out_features)``, ``out.bias (out_features,)``. DenseGeneral initialises the kernel
  flattened to (prod(input axes), prod(feature axes)) (flax/linen/linear.py), the same fans.
* torch ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``
  (torch/nn/modules/transformer.py): ``self_attn.*`` (a packed MultiheadAttention), the
  decoder's ``multihead_attn.*``, ``linear1 (dim_feedforward, d_model)``, ``linear2``,
  ``norm1``, ``norm2`` and the decoder's ``norm3``, in state_dict order; ``bias=False``
  drops every bias, the norms' too. ``norm_first`` changes no parameter.

Roles: query/key/value projections (and torch's ``bias_k``/``bias_v``, learned key and value
vectors that torch initialises like weights, with ``xavier_normal_``) are ``attention_qkv``;
the output projection is ``attention_output``; a transformer's ``linear1``/``linear2`` are
``mlp_in``/``mlp_out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ShapeError
from .fans import FanAxes, compute_fans, layout_fans
from .kinds import refuse_argument
from .tensor_spec import Shape, TensorSpec, bias_of
from .types import Family, Layout, Role

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX
KIND = "multihead_attention"


@dataclass(frozen=True)
class MultiheadAttentionSpec:
    """torch's arguments, plus Keras' (``key_dim``, ``value_dim``, ``output_shape``) and
    Flax's (``qkv_features``, ``out_features``); ``kdim``/``vdim`` default to ``embed_dim``
    (self-attention). Each layout refuses the arguments only another framework takes."""

    embed_dim: int
    num_heads: int
    kdim: int | None = None
    vdim: int | None = None
    bias: bool = True
    add_bias_kv: bool = False
    key_dim: int | None = None
    value_dim: int | None = None
    output_shape: Shape | None = None
    qkv_features: int | None = None
    out_features: int | None = None
    kind: str = field(default=KIND, init=False)


@dataclass(frozen=True)
class TransformerEncoderLayerSpec:
    d_model: int
    nhead: int
    dim_feedforward: int = 2048
    bias: bool = True
    norm_first: bool = False  # accepted: pre- or post-norm changes no parameter
    kind: str = field(default="transformer_encoder_layer", init=False)


@dataclass(frozen=True)
class TransformerDecoderLayerSpec(TransformerEncoderLayerSpec):
    kind: str = field(default="transformer_decoder_layer", init=False)


# The arguments only some frameworks' attention layers take (given: not None / not False).
_ONLY_IN: dict[str, tuple[Layout, ...]] = {
    "add_bias_kv": (T,),
    "key_dim": (K,),
    "value_dim": (K,),
    "output_shape": (K,),
    "qkv_features": (J,),
    "out_features": (J,),
}


def _refuse_foreign_arguments(spec: MultiheadAttentionSpec, layout: Layout) -> None:
    for name, having in _ONLY_IN.items():
        if layout not in having and getattr(spec, name) not in (None, False):
            refuse_argument(KIND, name, layout, having)


def _heads_divide(size: int, heads: int, what: str, where: str, hint: str = "") -> int:
    if size % heads:
        raise ShapeError(
            f"num_heads={heads} must divide {what}={size} (each head gets {what} / num_heads "
            f"features).{(' ' + hint) if hint else ''}",
            field=where,
        )
    return size // heads


def _torch_attention(spec: MultiheadAttentionSpec, prefix: str = "") -> list[TensorSpec]:
    e = spec.embed_dim
    kdim, vdim = spec.kdim or e, spec.vdim or e

    def tensor(name: str, shape: Shape, role: Role, family: Family) -> TensorSpec:
        return TensorSpec(prefix + name, shape, role, family, layout_fans(shape, T))

    qkv, attention = Role.ATTENTION_QKV, Family.ATTENTION
    packed = tensor("in_proj_weight", (3 * e, e), qkv, attention)
    if kdim == e and vdim == e:
        out = [packed]
    else:
        out = [
            tensor(f"{p}_proj_weight", (e, d), qkv, attention)
            for p, d in (("q", e), ("k", kdim), ("v", vdim))
        ]
    if spec.bias:
        out.append(bias_of(packed, prefix + "in_proj_bias", (3 * e,)))
    if spec.add_bias_kv:
        out += [tensor(n, (1, 1, e), qkv, Family.ATTENTION_BIAS_KV) for n in ("bias_k", "bias_v")]
    weight = tensor("out_proj.weight", (e, e), Role.ATTENTION_OUTPUT, attention)
    out.append(weight)
    if spec.bias:
        out.append(bias_of(weight, prefix + "out_proj.bias", (e,)))
    return out


def _einsum_dense(
    name: str, kernel_shape: Shape, inputs: int, role: Role, bias_shape: Shape | None
) -> list[TensorSpec]:
    """A Keras EinsumDense or Flax DenseGeneral kernel: its first ``inputs`` axes are the
    contracted (input) axes, the rest are outputs; then its bias, when there is one."""
    rank = len(kernel_shape)
    axes = FanAxes(tuple(range(inputs)), tuple(range(inputs, rank)))
    kernel = TensorSpec(
        f"{name}.kernel", kernel_shape, role, Family.ATTENTION, compute_fans(kernel_shape, axes)
    )
    return [kernel] if bias_shape is None else [kernel, bias_of(kernel, f"{name}.bias", bias_shape)]


def _projections(
    spec: MultiheadAttentionSpec, head: int, value_head: int, out_names: tuple[str, Shape]
) -> list[TensorSpec]:
    """query, key, value and output kernels (and biases) in Keras' and Flax's shared form."""
    e, h, bias = spec.embed_dim, spec.num_heads, spec.bias
    kdim, vdim = spec.kdim or e, spec.vdim or e
    out_name, out_shape = out_names
    qkv = Role.ATTENTION_QKV
    return [
        *_einsum_dense("query", (e, h, head), 1, qkv, (h, head) if bias else None),
        *_einsum_dense("key", (kdim, h, head), 1, qkv, (h, head) if bias else None),
        *_einsum_dense("value", (vdim, h, value_head), 1, qkv, (h, value_head) if bias else None),
        *_einsum_dense(
            out_name,
            (h, value_head, *out_shape),
            2,
            Role.ATTENTION_OUTPUT,
            out_shape if bias else None,
        ),
    ]


def expand_attention(spec: MultiheadAttentionSpec, layout: Layout) -> list[TensorSpec]:
    """The tensors of a multi-head attention layer under ``layout`` (module docstring)."""
    _refuse_foreign_arguments(spec, layout)
    e, h = spec.embed_dim, spec.num_heads
    if layout is T:
        _heads_divide(e, h, "embed_dim", "layer.num_heads")  # torch asserts it
        return _torch_attention(spec)
    if layout is K:
        # Keras requires key_dim; without it, torch's per-head size embed_dim / num_heads.
        key_dim = spec.key_dim or _heads_divide(
            e, h, "embed_dim", "layer.key_dim", "Or give key_dim, Keras' size per head."
        )
        value_dim = spec.value_dim or key_dim
        out = ("attention_output", spec.output_shape or (e,))
        return _projections(spec, key_dim, value_dim, out)
    features = spec.qkv_features or e
    where = "layer.qkv_features" if spec.qkv_features else "layer.num_heads"
    head_dim = _heads_divide(features, h, "qkv_features", where)  # Flax asserts it
    return _projections(spec, head_dim, head_dim, ("out", (spec.out_features or e,)))


def _torch_linear(name: str, n_in: int, n_out: int, role: Role, bias: bool) -> list[TensorSpec]:
    shape = (n_out, n_in)
    weight = TensorSpec(f"{name}.weight", shape, role, Family.DENSE, layout_fans(shape, T))
    return [weight, bias_of(weight, f"{name}.bias", (n_out,))] if bias else [weight]


def _torch_layer_norm(name: str, size: int, bias: bool) -> list[TensorSpec]:
    out = [TensorSpec(f"{name}.weight", (size,), Role.NORM_SCALE, Family.NORM, None)]
    if bias:
        out.append(TensorSpec(f"{name}.bias", (size,), Role.NORM_SHIFT, Family.NORM, None))
    return out


def expand_transformer(spec: TransformerEncoderLayerSpec, layout: Layout) -> list[TensorSpec]:
    """torch's TransformerEncoderLayer / TransformerDecoderLayer (torch only: the caller has
    checked the layout), in state_dict order."""
    assert layout is T, "only torch has transformer layers (kinds.py)"
    d, bias = spec.d_model, spec.bias
    _heads_divide(d, spec.nhead, "d_model", "layer.nhead")
    attention = MultiheadAttentionSpec(d, spec.nhead, bias=bias)
    decoder = isinstance(spec, TransformerDecoderLayerSpec)
    out = _torch_attention(attention, "self_attn.")
    if decoder:
        out += _torch_attention(attention, "multihead_attn.")
    out += _torch_linear("linear1", d, spec.dim_feedforward, Role.MLP_IN, bias)
    out += _torch_linear("linear2", spec.dim_feedforward, d, Role.MLP_OUT, bias)
    for index in range(1, 4 if decoder else 3):
        out += _torch_layer_norm(f"norm{index}", d, bias)
    return out
