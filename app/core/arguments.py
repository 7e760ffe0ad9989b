"""Framework constructor arguments, as data: one literal row per layout and layer kind.

weightinit's own layer fields are torch's parameter-changing constructor arguments
(``in_features``, ``bias``, ``affine``, ``padding_idx``...); they mean the same under every
layout. Each row below says how one framework class's other arguments are read when a
request names that class's layout:

* ``aliases``: the framework's name of one of our fields (Keras ``units`` is
  ``out_features``, Flax ``features`` too);
* ``initializers``: an argument naming the scheme of the tensors of some roles (Keras
  ``kernel_initializer``, Flax ``kernel_init``); its value is read in the framework's own
  vocabulary (:data:`INITIALIZER_NAMES`), so Keras' ``"he_normal"`` is ``keras.HeNormal``;
* ``dtype``: the argument naming the parameters' dtype (torch and Keras ``dtype``, Flax
  ``param_dtype``); it must agree with the request's ``dtype``;
* ``norm_parts``: the booleans that keep a norm's scale or shift (Keras ``scale``/``center``,
  Flax ``use_scale``/``use_bias``);
* ``fixed``: arguments accepted only with the one value weightinit builds (Keras GRU
  ``reset_after=True``);
* ``stats``: running-statistic initializers, accepted only naming the fixed value;
* ``forget_bias``: Keras LSTM ``unit_forget_bias``;
* ``follows``: an initializer of some of the tensors of a role another argument names for
  all of them (Flax attention ``out_bias_init``: the output bias, ``bias_init`` the others);
  weightinit names one scheme per role, so it is accepted naming the scheme that other
  argument (or, not given, its default) names;
* ``ignored``: arguments that change no parameter (stride, padding, dropout, epsilon,
  momentum, activation, regularizers, constraints, ``name``...): accepted and ignored.

Two initializer arguments naming one role: the one naming fewer roles wins for it (Flax
attention's ``out_kernel_init`` over ``kernel_init``, as ``out_kernel_init or kernel_init``);
naming as many roles, they must agree.

Lookup, for a request under layout L: L's row first, then torch's row (torch's names are
weightinit's own, so they are accepted under every layout). A name that only another layout's
row has is refused with a message naming that layout. Rows were written from the
frameworks' constructor signatures: torch 2.x ``torch.nn``, Keras 3
(``keras/src/layers/...``), Flax linen (``flax/linen/{linear,normalization,recurrent}.py``).
A new layer kind adds one row per layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from .types import DType, Layout, Role

NORM_SCALE, NORM_SHIFT = "scale", "shift"


class Use(StrEnum):
    """What a row does with one argument (the fields of :class:`Arguments`)."""

    ALIAS = "alias"
    INITIALIZER = "initializer"
    DTYPE = "dtype"
    NORM_PART = "norm_part"
    FIXED = "fixed"
    STATS = "stats"
    FORGET_BIAS = "forget_bias"
    FOLLOWS = "follows"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Arguments:
    """How one framework class's constructor arguments are read for one of our layer kinds."""

    source: str  # the framework class, as its users import it
    aliases: Mapping[str, str] = field(default_factory=dict)
    initializers: Mapping[str, tuple[Role, ...]] = field(default_factory=dict)
    dtype: str | None = None
    norm_parts: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, object] = field(default_factory=dict)
    stats: Mapping[str, str] = field(default_factory=dict)
    forget_bias: str | None = None
    # argument -> (the argument it must agree with, that argument's default)
    follows: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    def uses(self) -> dict[str, Use]:
        """Every argument name this row reads, and what it does with it."""
        uses = dict.fromkeys(self.ignored, Use.IGNORED)
        uses |= dict.fromkeys(self.aliases, Use.ALIAS)
        uses |= dict.fromkeys(self.initializers, Use.INITIALIZER)
        uses |= dict.fromkeys(self.norm_parts, Use.NORM_PART)
        uses |= dict.fromkeys(self.fixed, Use.FIXED)
        uses |= dict.fromkeys(self.stats, Use.STATS)
        uses |= dict.fromkeys(self.follows, Use.FOLLOWS)
        if self.dtype:
            uses[self.dtype] = Use.DTYPE
        if self.forget_bias:
            uses[self.forget_bias] = Use.FORGET_BIAS
        return uses


# ---- torch (torch.nn, 2.x): every parameter-changing argument is one of our fields ---------

TORCH_IGNORED = ("device",)  # where the module is allocated
TORCH_LINEAR = Arguments("torch.nn.Linear", dtype="dtype", ignored=TORCH_IGNORED)
TORCH_CONV = Arguments(
    "torch.nn.Conv1d/Conv2d/Conv3d",
    dtype="dtype",
    ignored=(*TORCH_IGNORED, "stride", "padding", "dilation", "padding_mode"),
)
TORCH_CONV_TRANSPOSE = Arguments(
    "torch.nn.ConvTranspose1d/2d/3d",
    dtype="dtype",
    ignored=(*TORCH_IGNORED, "stride", "padding", "output_padding", "dilation", "padding_mode"),
)
TORCH_EMBEDDING = Arguments(
    "torch.nn.Embedding",
    dtype="dtype",
    ignored=(*TORCH_IGNORED, "max_norm", "norm_type", "scale_grad_by_freq", "sparse"),
)
TORCH_RNN = Arguments(
    "torch.nn.RNN",
    dtype="dtype",
    ignored=(*TORCH_IGNORED, "nonlinearity", "batch_first", "dropout"),
)
TORCH_LSTM = Arguments(
    "torch.nn.LSTM", dtype="dtype", ignored=(*TORCH_IGNORED, "batch_first", "dropout")
)
TORCH_GRU = Arguments(
    "torch.nn.GRU", dtype="dtype", ignored=(*TORCH_IGNORED, "batch_first", "dropout")
)
TORCH_LAYER_NORM = Arguments("torch.nn.LayerNorm", dtype="dtype", ignored=(*TORCH_IGNORED, "eps"))
TORCH_BATCH_NORM = Arguments(
    "torch.nn.BatchNorm1d/2d/3d", dtype="dtype", ignored=(*TORCH_IGNORED, "eps", "momentum")
)

TORCH_MULTIHEAD_ATTENTION = Arguments(
    "torch.nn.MultiheadAttention",
    dtype="dtype",
    # add_zero_attn appends a zero row to the keys and values in forward(): no parameter
    ignored=(*TORCH_IGNORED, "dropout", "add_zero_attn", "batch_first"),
)
# norm_first is one of our fields (pre- or post-norm: accepted, changes no parameter)
TORCH_TRANSFORMER_IGNORED = (
    *TORCH_IGNORED,
    "dropout",
    "activation",
    "layer_norm_eps",
    "batch_first",
)
TORCH_TRANSFORMER_ENCODER_LAYER = Arguments(
    "torch.nn.TransformerEncoderLayer", dtype="dtype", ignored=TORCH_TRANSFORMER_IGNORED
)
TORCH_TRANSFORMER_DECODER_LAYER = Arguments(
    "torch.nn.TransformerDecoderLayer", dtype="dtype", ignored=TORCH_TRANSFORMER_IGNORED
)
TORCH_GROUP_NORM = Arguments("torch.nn.GroupNorm", dtype="dtype", ignored=(*TORCH_IGNORED, "eps"))
TORCH_INSTANCE_NORM = Arguments(
    "torch.nn.InstanceNorm1d/2d/3d", dtype="dtype", ignored=(*TORCH_IGNORED, "eps", "momentum")
)
TORCH_RMS_NORM = Arguments("torch.nn.RMSNorm", dtype="dtype", ignored=(*TORCH_IGNORED, "eps"))
# num_parameters and init (the slopes' starting value, a number) are our fields
TORCH_PRELU = Arguments("torch.nn.PReLU", dtype="dtype", ignored=TORCH_IGNORED)
TORCH_BILINEAR = Arguments("torch.nn.Bilinear", dtype="dtype", ignored=TORCH_IGNORED)

# ---- Keras 3 (keras.layers) ---------------------------------------------------------------

# keras.layers.Layer's own keyword arguments (besides dtype).
KERAS_LAYER = ("name", "trainable", "autocast", "activity_regularizer")
KERAS_KERNEL = {"kernel_initializer": (Role.WEIGHT,), "bias_initializer": (Role.BIAS,)}
KERAS_KERNEL_IGNORED = (
    "activation",
    "kernel_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "bias_constraint",
)
KERAS_DENSE = Arguments(
    "keras.layers.Dense",
    aliases={"units": "out_features", "use_bias": "bias", "input_dim": "in_features"},
    initializers=KERAS_KERNEL,
    dtype="dtype",
    ignored=(*KERAS_LAYER, *KERAS_KERNEL_IGNORED),
)
KERAS_CONV = Arguments(
    "keras.layers.Conv1D/Conv2D/Conv3D",
    aliases={"filters": "out_channels", "use_bias": "bias"},
    initializers=KERAS_KERNEL,
    dtype="dtype",
    ignored=(
        *KERAS_LAYER,
        *KERAS_KERNEL_IGNORED,
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
    ),
)
KERAS_CONV_TRANSPOSE = Arguments(
    "keras.layers.Conv1DTranspose/Conv2DTranspose/Conv3DTranspose",
    aliases={"filters": "out_channels", "use_bias": "bias"},
    initializers=KERAS_KERNEL,
    dtype="dtype",
    ignored=(
        *KERAS_LAYER,
        *KERAS_KERNEL_IGNORED,
        "strides",
        "padding",
        "output_padding",
        "data_format",
        "dilation_rate",
    ),
)
KERAS_EMBEDDING = Arguments(
    "keras.layers.Embedding",
    aliases={"input_dim": "num_embeddings", "output_dim": "embedding_dim"},
    initializers={"embeddings_initializer": (Role.EMBEDDING,)},
    dtype="dtype",
    ignored=(*KERAS_LAYER, "embeddings_regularizer", "embeddings_constraint", "mask_zero"),
)
KERAS_RECURRENT = {
    "kernel_initializer": (Role.WEIGHT,),
    "recurrent_initializer": (Role.RECURRENT_WEIGHT,),
    "bias_initializer": (Role.BIAS,),
}
KERAS_RECURRENT_IGNORED = (
    *KERAS_LAYER,
    "activation",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",  # the dropout masks' seed
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
)
KERAS_SIMPLE_RNN = Arguments(
    "keras.layers.SimpleRNN",
    aliases={"units": "hidden_size", "use_bias": "bias"},
    initializers=KERAS_RECURRENT,
    dtype="dtype",
    ignored=KERAS_RECURRENT_IGNORED,
)
KERAS_LSTM = Arguments(
    "keras.layers.LSTM",
    aliases={"units": "hidden_size", "use_bias": "bias"},
    initializers=KERAS_RECURRENT,
    dtype="dtype",
    forget_bias="unit_forget_bias",
    ignored=(*KERAS_RECURRENT_IGNORED, "recurrent_activation", "use_cudnn"),
)
KERAS_GRU = Arguments(
    "keras.layers.GRU",
    aliases={"units": "hidden_size", "use_bias": "bias"},
    initializers=KERAS_RECURRENT,
    dtype="dtype",
    fixed={"reset_after": True},  # reset_after=False has a (3*units,) bias: not built
    ignored=(*KERAS_RECURRENT_IGNORED, "recurrent_activation", "use_cudnn"),
)
KERAS_NORM = {"gamma_initializer": (Role.NORM_SCALE,), "beta_initializer": (Role.NORM_SHIFT,)}
KERAS_NORM_IGNORED = (
    *KERAS_LAYER,
    "axis",  # the parameters' shape is normalized_shape / num_features
    "epsilon",
    "beta_regularizer",
    "gamma_regularizer",
    "beta_constraint",
    "gamma_constraint",
)
KERAS_LAYER_NORM = Arguments(
    "keras.layers.LayerNormalization",
    initializers=KERAS_NORM,
    dtype="dtype",
    norm_parts={"scale": NORM_SCALE, "center": NORM_SHIFT},
    ignored=KERAS_NORM_IGNORED,
)
KERAS_BATCH_NORM = Arguments(
    "keras.layers.BatchNormalization",
    initializers=KERAS_NORM,
    dtype="dtype",
    norm_parts={"scale": NORM_SCALE, "center": NORM_SHIFT},
    fixed={"renorm": False},  # renorm=True adds renorm_mean/renorm_stddev: not built
    stats={"moving_mean_initializer": "zeros", "moving_variance_initializer": "ones"},
    ignored=(*KERAS_NORM_IGNORED, "momentum", "synchronized", "renorm_clipping", "renorm_momentum"),
)

# keras/src/layers/attention/multi_head_attention.py (Keras 3.15): num_heads, key_dim,
# value_dim and output_shape are our fields; the query, key and value sizes come from the
# inputs (our embed_dim, kdim, vdim). use_gate=True adds a gate projection: not built.
KERAS_MULTI_HEAD_ATTENTION = Arguments(
    "keras.layers.MultiHeadAttention",
    aliases={"use_bias": "bias"},
    initializers={
        "kernel_initializer": (Role.ATTENTION_QKV, Role.ATTENTION_OUTPUT),
        "bias_initializer": (Role.BIAS,),
    },
    dtype="dtype",
    fixed={"use_gate": False},
    ignored=(
        *KERAS_LAYER,
        "kernel_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "bias_constraint",
        "dropout",
        "attention_axes",
        "sliding_window",
        "flash_attention",
        "seed",  # the dropout's seed
    ),
)
# keras/src/layers/normalization/group_normalization.py: groups=-1 (instance normalization)
# is one group per channel, as num_groups=-1 is in every layout.
KERAS_GROUP_NORM = Arguments(
    "keras.layers.GroupNormalization",
    aliases={"groups": "num_groups"},
    initializers=KERAS_NORM,
    dtype="dtype",
    norm_parts={"scale": NORM_SCALE, "center": NORM_SHIFT},
    ignored=KERAS_NORM_IGNORED,
)
# keras/src/layers/normalization/rms_normalization.py (Keras 3.9+): RMSNormalization(axis,
# epsilon); its one weight, scale, starts at ones (no initializer argument).
KERAS_RMS_NORM = Arguments(
    "keras.layers.RMSNormalization",
    dtype="dtype",
    ignored=(*KERAS_LAYER, "axis", "epsilon"),
)
# keras/src/layers/activations/prelu.py: alpha's shape is our num_parameters (shared_axes
# only says which input axes share one slope).
KERAS_PRELU = Arguments(
    "keras.layers.PReLU",
    initializers={"alpha_initializer": (Role.ACTIVATION,)},
    dtype="dtype",
    ignored=(*KERAS_LAYER, "alpha_regularizer", "alpha_constraint", "shared_axes"),
)

# ---- Flax linen (flax.linen) ----------------------------------------------------------------

# Every linen Module takes ``name``; ``dtype`` is the computation's dtype (the parameters'
# is ``param_dtype``); ``precision`` is the matmul's.
FLAX_MODULE = ("name", "dtype")
FLAX_KERNEL = {"kernel_init": (Role.WEIGHT,), "bias_init": (Role.BIAS,)}
FLAX_DENSE = Arguments(
    "flax.linen.Dense",
    aliases={"features": "out_features", "use_bias": "bias"},
    initializers=FLAX_KERNEL,
    dtype="param_dtype",
    ignored=(*FLAX_MODULE, "precision"),
)
FLAX_CONV = Arguments(
    "flax.linen.Conv",
    aliases={"features": "out_channels", "use_bias": "bias", "feature_group_count": "groups"},
    initializers=FLAX_KERNEL,
    dtype="param_dtype",
    ignored=(
        *FLAX_MODULE,
        "precision",
        "strides",
        "padding",
        "input_dilation",
        "kernel_dilation",
    ),
)
FLAX_CONV_TRANSPOSE = Arguments(
    "flax.linen.ConvTranspose",
    aliases={"features": "out_channels", "use_bias": "bias"},
    initializers=FLAX_KERNEL,
    dtype="param_dtype",
    fixed={"transpose_kernel": False},  # True stores the kernel (..., out, in): not built
    ignored=(*FLAX_MODULE, "precision", "strides", "padding", "kernel_dilation"),
)
FLAX_EMBED = Arguments(
    "flax.linen.Embed",
    aliases={"features": "embedding_dim"},
    initializers={"embedding_init": (Role.EMBEDDING,)},
    dtype="param_dtype",
    ignored=FLAX_MODULE,
)
FLAX_CELL = {
    "kernel_init": (Role.WEIGHT,),
    "recurrent_kernel_init": (Role.RECURRENT_WEIGHT,),
    "bias_init": (Role.BIAS,),
}
# The gates' functions, and the carry's initializer (a state, not a parameter).
FLAX_CELL_IGNORED = (*FLAX_MODULE, "activation_fn", "carry_init")
FLAX_SIMPLE_CELL = Arguments(
    "flax.linen.SimpleCell",
    aliases={"features": "hidden_size"},
    initializers=FLAX_CELL,
    dtype="param_dtype",
    ignored=(*FLAX_CELL_IGNORED, "residual"),
)
FLAX_LSTM_CELL = Arguments(
    "flax.linen.LSTMCell",
    aliases={"features": "hidden_size"},
    initializers=FLAX_CELL,
    dtype="param_dtype",
    ignored=(*FLAX_CELL_IGNORED, "gate_fn"),
)
FLAX_GRU_CELL = Arguments(
    "flax.linen.GRUCell",
    aliases={"features": "hidden_size"},
    initializers=FLAX_CELL,
    dtype="param_dtype",
    ignored=(*FLAX_CELL_IGNORED, "gate_fn"),
)
FLAX_NORM = {"scale_init": (Role.NORM_SCALE,), "bias_init": (Role.NORM_SHIFT,)}
FLAX_NORM_IGNORED = (*FLAX_MODULE, "epsilon", "axis_name", "axis_index_groups", "use_fast_variance")
FLAX_LAYER_NORM = Arguments(
    "flax.linen.LayerNorm",
    initializers=FLAX_NORM,
    dtype="param_dtype",
    norm_parts={"use_scale": NORM_SCALE, "use_bias": NORM_SHIFT},
    # the parameters' shape is normalized_shape
    ignored=(*FLAX_NORM_IGNORED, "reduction_axes", "feature_axes"),
)
FLAX_BATCH_NORM = Arguments(
    "flax.linen.BatchNorm",
    initializers=FLAX_NORM,
    dtype="param_dtype",
    norm_parts={"use_scale": NORM_SCALE, "use_bias": NORM_SHIFT},
    ignored=(*FLAX_NORM_IGNORED, "use_running_average", "axis", "momentum"),
)

# flax/linen/attention.py (Flax 0.12): num_heads, qkv_features and out_features are our
# fields. The output projection takes ``out_kernel_init or kernel_init`` and ``out_bias_init
# or bias_init``; normalize_qk=True adds query_ln and key_ln scales: not built.
FLAX_MULTI_HEAD_ATTENTION = Arguments(
    "flax.linen.MultiHeadDotProductAttention",
    aliases={"use_bias": "bias"},
    initializers={
        "kernel_init": (Role.ATTENTION_QKV, Role.ATTENTION_OUTPUT),
        "out_kernel_init": (Role.ATTENTION_OUTPUT,),
        "bias_init": (Role.BIAS,),
    },
    follows={"out_bias_init": ("bias_init", "zeros")},
    dtype="param_dtype",
    fixed={"normalize_qk": False},
    ignored=(
        *FLAX_MODULE,
        "precision",
        "broadcast_dropout",
        "dropout_rate",
        "deterministic",
        "attention_fn",
        "decode",  # a cache collection, not parameters
        "force_fp32_for_softmax",
        "qkv_dot_general",
        "out_dot_general",
        "qkv_dot_general_cls",
        "out_dot_general_cls",
        "qk_attn_weights_einsum_cls",
        "attn_weights_value_einsum_cls",
    ),
)
# flax/linen/normalization.py: num_groups is ours; group_size (num_channels / num_groups)
# changes no parameter (scale and bias are (num_channels,)).
FLAX_GROUP_NORM = Arguments(
    "flax.linen.GroupNorm",
    initializers=FLAX_NORM,
    dtype="param_dtype",
    norm_parts={"use_scale": NORM_SCALE, "use_bias": NORM_SHIFT},
    ignored=(*FLAX_NORM_IGNORED, "group_size", "reduction_axes"),
)
FLAX_INSTANCE_NORM = Arguments(
    "flax.linen.InstanceNorm",
    initializers=FLAX_NORM,
    dtype="param_dtype",
    norm_parts={"use_scale": NORM_SCALE, "use_bias": NORM_SHIFT},
    ignored=(*FLAX_NORM_IGNORED, "feature_axes"),
)
FLAX_RMS_NORM = Arguments(
    "flax.linen.RMSNorm",
    initializers={"scale_init": (Role.NORM_SCALE,)},
    dtype="param_dtype",
    norm_parts={"use_scale": NORM_SCALE},
    ignored=(*FLAX_NORM_IGNORED, "reduction_axes", "feature_axes"),
)
# flax/linen/activation.py: PReLU(param_dtype, negative_slope_init: float); the slope's
# starting value is a number, as torch's init.
FLAX_PRELU = Arguments(
    "flax.linen.PReLU",
    aliases={"negative_slope_init": "init"},
    dtype="param_dtype",
    ignored=("name",),
)

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX

# One row per (layout, kind) of kinds.py's table. The ``tensor`` kind has no framework class.
ARGUMENTS: Mapping[tuple[Layout, str], Arguments] = MappingProxyType(
    {
        (T, "dense"): TORCH_LINEAR,
        (T, "conv1d"): TORCH_CONV,
        (T, "conv2d"): TORCH_CONV,
        (T, "conv3d"): TORCH_CONV,
        (T, "conv_transpose1d"): TORCH_CONV_TRANSPOSE,
        (T, "conv_transpose2d"): TORCH_CONV_TRANSPOSE,
        (T, "conv_transpose3d"): TORCH_CONV_TRANSPOSE,
        (T, "embedding"): TORCH_EMBEDDING,
        (T, "rnn"): TORCH_RNN,
        (T, "lstm"): TORCH_LSTM,
        (T, "gru"): TORCH_GRU,
        (T, "layer_norm"): TORCH_LAYER_NORM,
        (T, "batch_norm"): TORCH_BATCH_NORM,
        (T, "multihead_attention"): TORCH_MULTIHEAD_ATTENTION,
        (T, "transformer_encoder_layer"): TORCH_TRANSFORMER_ENCODER_LAYER,
        (T, "transformer_decoder_layer"): TORCH_TRANSFORMER_DECODER_LAYER,
        (T, "group_norm"): TORCH_GROUP_NORM,
        (T, "instance_norm"): TORCH_INSTANCE_NORM,
        (T, "rms_norm"): TORCH_RMS_NORM,
        (T, "prelu"): TORCH_PRELU,
        (T, "bilinear"): TORCH_BILINEAR,
        (K, "dense"): KERAS_DENSE,
        (K, "conv1d"): KERAS_CONV,
        (K, "conv2d"): KERAS_CONV,
        (K, "conv3d"): KERAS_CONV,
        (K, "conv_transpose1d"): KERAS_CONV_TRANSPOSE,
        (K, "conv_transpose2d"): KERAS_CONV_TRANSPOSE,
        (K, "conv_transpose3d"): KERAS_CONV_TRANSPOSE,
        (K, "embedding"): KERAS_EMBEDDING,
        (K, "rnn"): KERAS_SIMPLE_RNN,
        (K, "lstm"): KERAS_LSTM,
        (K, "gru"): KERAS_GRU,
        (K, "layer_norm"): KERAS_LAYER_NORM,
        (K, "batch_norm"): KERAS_BATCH_NORM,
        (K, "multihead_attention"): KERAS_MULTI_HEAD_ATTENTION,
        (K, "group_norm"): KERAS_GROUP_NORM,
        (K, "rms_norm"): KERAS_RMS_NORM,
        (K, "prelu"): KERAS_PRELU,
        (J, "dense"): FLAX_DENSE,
        (J, "conv1d"): FLAX_CONV,
        (J, "conv2d"): FLAX_CONV,
        (J, "conv3d"): FLAX_CONV,
        (J, "conv_transpose1d"): FLAX_CONV_TRANSPOSE,
        (J, "conv_transpose2d"): FLAX_CONV_TRANSPOSE,
        (J, "conv_transpose3d"): FLAX_CONV_TRANSPOSE,
        (J, "embedding"): FLAX_EMBED,
        (J, "rnn"): FLAX_SIMPLE_CELL,
        (J, "lstm"): FLAX_LSTM_CELL,
        (J, "gru"): FLAX_GRU_CELL,
        (J, "layer_norm"): FLAX_LAYER_NORM,
        (J, "batch_norm"): FLAX_BATCH_NORM,
        (J, "multihead_attention"): FLAX_MULTI_HEAD_ATTENTION,
        (J, "group_norm"): FLAX_GROUP_NORM,
        (J, "instance_norm"): FLAX_INSTANCE_NORM,
        (J, "rms_norm"): FLAX_RMS_NORM,
        (J, "prelu"): FLAX_PRELU,
    }
)

# ---- initializer names, as each framework reads them ------------------------------------------

# keras.initializers.get: class names, their snake_case, and the aliases of
# keras/src/initializers/__init__.py (ALL_OBJECTS_DICT).
KERAS_INITIALIZERS: Mapping[str, str] = MappingProxyType(
    {
        "Constant": "keras.Constant",
        "constant": "keras.Constant",
        "Identity": "keras.Identity",
        "identity": "keras.Identity",
        "Ones": "keras.Ones",
        "ones": "keras.Ones",
        "one": "keras.Ones",
        "Zeros": "keras.Zeros",
        "zeros": "keras.Zeros",
        "zero": "keras.Zeros",
        "GlorotNormal": "keras.GlorotNormal",
        "glorot_normal": "keras.GlorotNormal",
        "GlorotUniform": "keras.GlorotUniform",
        "glorot_uniform": "keras.GlorotUniform",
        "HeNormal": "keras.HeNormal",
        "he_normal": "keras.HeNormal",
        "HeUniform": "keras.HeUniform",
        "he_uniform": "keras.HeUniform",
        "LecunNormal": "keras.LecunNormal",
        "lecun_normal": "keras.LecunNormal",
        "LecunUniform": "keras.LecunUniform",
        "lecun_uniform": "keras.LecunUniform",
        "RandomNormal": "keras.RandomNormal",
        "random_normal": "keras.RandomNormal",
        "normal": "keras.RandomNormal",
        "RandomUniform": "keras.RandomUniform",
        "random_uniform": "keras.RandomUniform",
        "uniform": "keras.RandomUniform",
        "TruncatedNormal": "keras.TruncatedNormal",
        "truncated_normal": "keras.TruncatedNormal",
        "VarianceScaling": "keras.VarianceScaling",
        "variance_scaling": "keras.VarianceScaling",
        "OrthogonalInitializer": "keras.Orthogonal",
        "orthogonal_initializer": "keras.Orthogonal",
        "Orthogonal": "keras.Orthogonal",
        "orthogonal": "keras.Orthogonal",
    }
)
# jax.nn.initializers (re-exported as flax.linen.initializers), plus Flax's zeros_init and
# ones_init; a Flax user writes nn.initializers.lecun_normal() and sends "lecun_normal".
JAX_INITIALIZERS: Mapping[str, str] = MappingProxyType(
    {
        "constant": "jax.constant",
        "delta_orthogonal": "jax.delta_orthogonal",
        "glorot_normal": "jax.glorot_normal",
        "glorot_uniform": "jax.glorot_uniform",
        "he_normal": "jax.he_normal",
        "he_uniform": "jax.he_uniform",
        "kaiming_normal": "jax.he_normal",
        "kaiming_uniform": "jax.he_uniform",
        "lecun_normal": "jax.lecun_normal",
        "lecun_uniform": "jax.lecun_uniform",
        "normal": "jax.normal",
        "ones": "jax.ones",
        "ones_init": "jax.ones",
        "orthogonal": "jax.orthogonal",
        "truncated_normal": "jax.truncated_normal",
        "uniform": "jax.uniform",
        "variance_scaling": "jax.variance_scaling",
        "xavier_normal": "jax.glorot_normal",
        "xavier_uniform": "jax.glorot_uniform",
        "zeros": "jax.zeros",
        "zeros_init": "jax.zeros",
    }
)
INITIALIZER_NAMES: Mapping[Layout, Mapping[str, str]] = MappingProxyType(
    {
        Layout.TORCH: MappingProxyType({}),
        Layout.KERAS: KERAS_INITIALIZERS,
        Layout.JAX: JAX_INITIALIZERS,
    }
)
# The frameworks' names of the constant schemes a ``stats`` row may name.
CONSTANTS = MappingProxyType(
    {
        "zeros": frozenset({"keras.Zeros", "jax.zeros", "zeros"}),
        "ones": frozenset({"keras.Ones", "jax.ones", "ones"}),
    }
)

# ---- dtypes, as the frameworks spell them --------------------------------------------------

# torch.float32 / jnp.float32 / "float32"; torch's float, half and double; Keras' mixed
# policies keep their variables in float32 (keras.DTypePolicy("mixed_float16").variable_dtype).
DTYPE_NAMES: Mapping[str, DType] = MappingProxyType(
    {
        "float32": DType.FLOAT32,
        "float": DType.FLOAT32,
        "float64": DType.FLOAT64,
        "double": DType.FLOAT64,
        "float16": DType.FLOAT16,
        "half": DType.FLOAT16,
        "bfloat16": DType.BFLOAT16,
        "mixed_float16": DType.FLOAT32,
        "mixed_bfloat16": DType.FLOAT32,
    }
)
DTYPE_PREFIXES = ("torch.", "jax.numpy.", "jnp.", "numpy.", "np.", "tf.")

# ---- framework class names, for "did you mean" on a layer kind --------------------------------

CLASS_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("torch.nn.Linear", ("dense",)),
    ("torch.nn.Conv1d", ("conv1d",)),
    ("torch.nn.Conv2d", ("conv2d",)),
    ("torch.nn.Conv3d", ("conv3d",)),
    ("torch.nn.ConvTranspose1d", ("conv_transpose1d",)),
    ("torch.nn.ConvTranspose2d", ("conv_transpose2d",)),
    ("torch.nn.ConvTranspose3d", ("conv_transpose3d",)),
    ("torch.nn.Embedding", ("embedding",)),
    ("torch.nn.RNN", ("rnn",)),
    ("torch.nn.LSTM", ("lstm",)),
    ("torch.nn.GRU", ("gru",)),
    ("torch.nn.LayerNorm", ("layer_norm",)),
    ("torch.nn.BatchNorm1d", ("batch_norm",)),
    ("torch.nn.BatchNorm2d", ("batch_norm",)),
    ("torch.nn.BatchNorm3d", ("batch_norm",)),
    ("torch.nn.MultiheadAttention", ("multihead_attention",)),
    ("torch.nn.TransformerEncoderLayer", ("transformer_encoder_layer",)),
    ("torch.nn.TransformerDecoderLayer", ("transformer_decoder_layer",)),
    ("torch.nn.GroupNorm", ("group_norm",)),
    ("torch.nn.InstanceNorm1d", ("instance_norm",)),
    ("torch.nn.InstanceNorm2d", ("instance_norm",)),
    ("torch.nn.InstanceNorm3d", ("instance_norm",)),
    ("torch.nn.RMSNorm", ("rms_norm",)),
    ("torch.nn.PReLU", ("prelu",)),
    ("torch.nn.Bilinear", ("bilinear",)),
    ("keras.layers.Dense", ("dense",)),
    ("keras.layers.Conv1D", ("conv1d",)),
    ("keras.layers.Conv2D", ("conv2d",)),
    ("keras.layers.Conv3D", ("conv3d",)),
    ("keras.layers.Conv1DTranspose", ("conv_transpose1d",)),
    ("keras.layers.Conv2DTranspose", ("conv_transpose2d",)),
    ("keras.layers.Conv3DTranspose", ("conv_transpose3d",)),
    ("keras.layers.Embedding", ("embedding",)),
    ("keras.layers.SimpleRNN", ("rnn",)),
    ("keras.layers.LSTM", ("lstm",)),
    ("keras.layers.GRU", ("gru",)),
    ("keras.layers.LayerNormalization", ("layer_norm",)),
    ("keras.layers.BatchNormalization", ("batch_norm",)),
    ("keras.layers.MultiHeadAttention", ("multihead_attention",)),
    ("keras.layers.GroupNormalization", ("group_norm",)),
    ("keras.layers.RMSNormalization", ("rms_norm",)),
    ("keras.layers.PReLU", ("prelu",)),
    ("flax.linen.Dense", ("dense",)),
    ("flax.linen.Conv", ("conv1d", "conv2d", "conv3d")),
    ("flax.linen.ConvTranspose", ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")),
    ("flax.linen.Embed", ("embedding",)),
    ("flax.linen.SimpleCell", ("rnn",)),
    ("flax.linen.LSTMCell", ("lstm",)),
    ("flax.linen.OptimizedLSTMCell", ("lstm",)),
    ("flax.linen.GRUCell", ("gru",)),
    ("flax.linen.LayerNorm", ("layer_norm",)),
    ("flax.linen.BatchNorm", ("batch_norm",)),
    ("flax.linen.MultiHeadDotProductAttention", ("multihead_attention",)),
    ("flax.linen.SelfAttention", ("multihead_attention",)),
    ("flax.linen.GroupNorm", ("group_norm",)),
    ("flax.linen.InstanceNorm", ("instance_norm",)),
    ("flax.linen.RMSNorm", ("rms_norm",)),
    ("flax.linen.PReLU", ("prelu",)),
)
