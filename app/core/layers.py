"""Layer kinds: a layer spec expands into named tensors with shapes, fans and roles.

Names follow the layout's framework and are part of the stream key (frozen with blocks-v1):

* torch: ``state_dict`` names: ``weight``, ``bias``; ``weight_ih_l{k}``, ``weight_hh_l{k}``,
  ``bias_ih_l{k}``, ``bias_hh_l{k}`` (``_reverse`` suffix for the backward direction);
  ``running_mean``, ``running_var``, ``num_batches_tracked`` (int64 0).
* keras: ``kernel``, ``bias``, ``embeddings``, ``recurrent_kernel`` (gates concatenated, one
  LSTM bias), ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``.
* jax (Flax linen): ``kernel``, ``bias``, ``embedding``, ``scale``, ``mean``, ``var``;
  recurrent cells keep one Dense per gate: LSTMCell ``ii, if, ig, io`` (kernel) and
  ``hi, hf, hg, ho`` (kernel, bias); GRUCell ``ir, iz, in`` (kernel, bias) and ``hr, hz``
  (kernel), ``hn`` (kernel, bias); SimpleCell ``i`` (kernel, bias) and ``h`` (kernel);
  names are ``<dense>.<param>``, e.g. ``hi.kernel``.
* keras and jax recurrent layers with ``num_layers > 1`` or ``bidirectional`` prefix each
  name with ``l{k}.`` (when num_layers > 1) and ``forward.`` / ``backward.`` (when
  bidirectional), e.g. ``l1.backward.kernel``.
* torch LSTM with ``proj_size`` P adds ``weight_hr_l{k} (P, hidden)`` after the biases;
  ``weight_hh`` is then ``(4H, P)`` and layer k > 0 reads ``P * directions`` inputs.
* group, instance and RMS norms use each framework's norm names (Keras' RMSNormalization
  calls its scale ``scale``); PReLU's slope is torch ``weight (num_parameters,)``, Keras
  ``alpha (num_parameters,)``, Flax ``negative_slope ()``; torch Bilinear ``weight
  (out, in1, in2)``, ``bias (out,)``.
* multi-head attention and torch's transformer layers: ``attention.py``.

Which layouts have each kind is one table (``kinds.py``); a kind or an argument a layout's
framework lacks is a 422 naming the layouts that have it.

Gates are stacked in the framework's order (torch LSTM i,f,g,o and GRU r,z,n; Keras LSTM
i,f,c,o and GRU z,r,h). Fans are the layout's fan rule applied to the stored shape (fans.py);
a bias carries the fans of the weight it belongs to (torch's default bias bound uses them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .attention import (
    MultiheadAttentionSpec,
    TransformerDecoderLayerSpec,
    TransformerEncoderLayerSpec,
    expand_attention,
    expand_transformer,
)
from .errors import InvalidParameterError, LimitExceededError, ShapeError, UnknownNameError
from .fans import FanAxes, Fans, compute_fans, layout_fans, override_fans
from .kinds import KIND_CLASSES, check_kind, refuse_argument
from .norms import (
    BatchNormSpec,
    GroupNormSpec,
    InstanceNormSpec,
    LayerNormSpec,
    RMSNormSpec,
    expand_norm,
)
from .tensor_spec import Shape, bias_of
from .tensor_spec import TensorSpec as TensorSpec  # re-exported: callers import it from here
from .types import Family, Layout, Role

MAX_RANK = 8
# Recurrent stacks expand layer by layer: a library guard far above any service limit.
MAX_RECURRENT_LAYERS = 100_000


# ---- layer specs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DenseSpec:
    in_features: int
    out_features: int
    bias: bool = True
    kind: str = field(default="dense", init=False)


@dataclass(frozen=True)
class ConvSpec:
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    groups: int = 1
    bias: bool = True
    transposed: bool = False

    @property
    def kind(self) -> str:
        return f"conv{'_transpose' if self.transposed else ''}{len(self.kernel_size)}d"


@dataclass(frozen=True)
class EmbeddingSpec:
    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None = None
    kind: str = field(default="embedding", init=False)


@dataclass(frozen=True)
class RecurrentSpec:
    cell: str  # rnn | lstm | gru
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    bidirectional: bool = False
    proj_size: int = 0  # torch LSTM only: weight_hr_l{k} projects the hidden state to this

    @property
    def kind(self) -> str:
        return self.cell

    @property
    def output_size(self) -> int:
        """What each direction of a layer outputs (the next layer's input per direction)."""
        return self.proj_size or self.hidden_size


@dataclass(frozen=True)
class PReLUSpec:
    """``init`` None: the layout framework's starting slope (torch 0.25, Keras 0, Flax 0.01)."""

    num_parameters: int = 1
    init: float | None = None
    kind: str = field(default="prelu", init=False)


@dataclass(frozen=True)
class BilinearSpec:
    in1_features: int
    in2_features: int
    out_features: int
    bias: bool = True
    kind: str = field(default="bilinear", init=False)


@dataclass(frozen=True)
class TensorLayerSpec:
    """A raw tensor: its fans come from the layout's rule, explicit axes, or explicit values."""

    shape: Shape
    in_axes: tuple[int, ...] | None = None
    out_axes: tuple[int, ...] | None = None
    batch_axes: tuple[int, ...] = ()
    fan_in: float | None = None
    fan_out: float | None = None
    kind: str = field(default="tensor", init=False)


LayerSpec = (
    DenseSpec
    | BilinearSpec
    | ConvSpec
    | EmbeddingSpec
    | RecurrentSpec
    | MultiheadAttentionSpec
    | TransformerEncoderLayerSpec
    | LayerNormSpec
    | BatchNormSpec
    | GroupNormSpec
    | InstanceNormSpec
    | RMSNormSpec
    | PReLUSpec
    | TensorLayerSpec
)

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LAYER_KINDS = (
    "dense",
    "bilinear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "embedding",
    "rnn",
    "lstm",
    "gru",
    "multihead_attention",
    "transformer_encoder_layer",
    "transformer_decoder_layer",
    "layer_norm",
    "batch_norm",
    "group_norm",
    "instance_norm",
    "rms_norm",
    "prelu",
    "tensor",
)
assert set(LAYER_KINDS) == set(KIND_CLASSES), "kinds.py has one row per layer kind"


# ---- validation -----------------------------------------------------------------------------


def _positive_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(
            f"{where} must be a positive integer, got {value!r}.", field=where
        )
    if value < 1:
        raise InvalidParameterError(f"{where} must be >= 1, got {value}.", field=where)
    return value


def _shape(value: object, where: str, *, rank: int | None = None) -> Shape:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, list | tuple):
        raise InvalidParameterError(f"{where} must be a list of positive integers.", field=where)
    dims = tuple(_positive_int(d, f"{where}[{i}]") for i, d in enumerate(value))
    if rank is not None and len(dims) != rank:
        raise InvalidParameterError(
            f"{where} must have {rank} entries, got {len(dims)}.", field=where
        )
    if len(dims) > MAX_RANK:
        raise InvalidParameterError(f"{where} has rank {len(dims)}, over {MAX_RANK}.", field=where)
    return dims


def _optional_positive_int(v: _Values, name: str) -> int | None:
    value = v.take(name, False, None)
    return None if value is None else _positive_int(value, v.at(name))


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{where} must be true or false, got {value!r}.", field=where)
    return value


def _axes(value: object, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if not isinstance(value, list | tuple) or any(
        isinstance(a, bool) or not isinstance(a, int) for a in value
    ):
        raise InvalidParameterError(
            f"{where} must be an integer or a list of integers.", field=where
        )
    return tuple(value)


def _finite(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError(f"{where} must be a number, got {value!r}.", field=where)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidParameterError(f"{where} must be finite, got {value!r}.", field=where)
    return number


def _fan(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError(f"{where} must be a number, got {value!r}.", field=where)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number <= 0:
        raise InvalidParameterError(f"{where} must be finite and > 0, got {value!r}.", field=where)
    return number


class _Values:
    """The plain values of one layer spec, taken one by one by the spec's builder."""

    def __init__(self, kind: str, values: Mapping[str, object], where: str) -> None:
        self.kind = kind
        self.where = where
        self.given = dict(values)

    def at(self, name: str) -> str:
        return f"{self.where}.{name}"

    def take(self, name: str, required: bool = True, default: object = None) -> object:
        if name in self.given:
            return self.given.pop(name)
        if required:
            raise InvalidParameterError(
                f"A {self.kind} layer needs {name!r}.", field=f"{self.where}.{name}"
            )
        return default

    def reject_leftovers(self, spec: LayerSpec) -> None:
        """An UnknownNameError for the first value no field of ``spec`` took."""
        if self.given:
            extra = sorted(self.given)[0]
            allowed = [f.name for f in fields(spec) if f.init] + ["kind"]
            raise UnknownNameError(
                "field", extra, allowed, field=self.at(extra), context=f"of a {self.kind} layer"
            )


def _make_dense(v: _Values) -> DenseSpec:
    return DenseSpec(
        _positive_int(v.take("in_features"), v.at("in_features")),
        _positive_int(v.take("out_features"), v.at("out_features")),
        _bool(v.take("bias", False, True), v.at("bias")),
    )


def _make_conv(v: _Values) -> ConvSpec:
    dims = int(v.kind[-2])
    ks = v.take("kernel_size")
    kernel = _shape(
        [ks] * dims if isinstance(ks, int) and not isinstance(ks, bool) else ks,
        v.at("kernel_size"),
        rank=dims,
    )
    spec = ConvSpec(
        _positive_int(v.take("in_channels"), v.at("in_channels")),
        _positive_int(v.take("out_channels"), v.at("out_channels")),
        kernel,
        _positive_int(v.take("groups", False, 1), v.at("groups")),
        _bool(v.take("bias", False, True), v.at("bias")),
        transposed="transpose" in v.kind,
    )
    for name in ("in_channels", "out_channels"):
        if getattr(spec, name) % spec.groups:
            raise ShapeError(
                f"groups={spec.groups} must divide {name}={getattr(spec, name)}.",
                field=v.at("groups"),
            )
    return spec


def _make_embedding(v: _Values) -> EmbeddingSpec:
    spec = EmbeddingSpec(
        _positive_int(v.take("num_embeddings"), v.at("num_embeddings")),
        _positive_int(v.take("embedding_dim"), v.at("embedding_dim")),
    )
    padding = v.take("padding_idx", False, None)
    if padding is None:
        return spec
    if isinstance(padding, bool) or not isinstance(padding, int):
        raise InvalidParameterError("padding_idx must be an integer.", field=v.at("padding_idx"))
    n = spec.num_embeddings
    if not -n <= padding < n:
        raise InvalidParameterError(
            f"padding_idx must be within -{n}..{n - 1}, got {padding}.",
            field=v.at("padding_idx"),
        )
    return EmbeddingSpec(spec.num_embeddings, spec.embedding_dim, padding % n)


def _make_recurrent(v: _Values) -> RecurrentSpec:
    if v.kind != "lstm" and "proj_size" in v.given:
        raise InvalidParameterError(
            f"proj_size is only supported for LSTM (torch nn.LSTM), not {v.kind}.",
            field=v.at("proj_size"),
        )
    spec = RecurrentSpec(
        v.kind,
        _positive_int(v.take("input_size"), v.at("input_size")),
        _positive_int(v.take("hidden_size"), v.at("hidden_size")),
        _positive_int(v.take("num_layers", False, 1), v.at("num_layers")),
        _bool(v.take("bias", False, True), v.at("bias")),
        _bool(v.take("bidirectional", False, False), v.at("bidirectional")),
    )
    proj = v.take("proj_size", False, 0)
    if isinstance(proj, bool) or not isinstance(proj, int) or proj < 0:
        raise InvalidParameterError(
            f"proj_size must be 0 (no projection) or a positive integer, got {proj!r}.",
            field=v.at("proj_size"),
        )
    if proj >= spec.hidden_size:  # torch: "proj_size has to be smaller than hidden_size"
        raise InvalidParameterError(
            f"proj_size must be smaller than hidden_size={spec.hidden_size}, got {proj} "
            "(0 turns the projection off).",
            field=v.at("proj_size"),
        )
    return replace(spec, proj_size=proj)


def _make_attention(v: _Values) -> MultiheadAttentionSpec:
    shape = v.take("output_shape", False, None)
    output_shape = None if shape is None else _shape(shape, v.at("output_shape"))
    if output_shape == ():
        raise InvalidParameterError(
            "output_shape needs at least one entry.", field=v.at("output_shape")
        )
    return MultiheadAttentionSpec(
        _positive_int(v.take("embed_dim"), v.at("embed_dim")),
        _positive_int(v.take("num_heads"), v.at("num_heads")),
        _optional_positive_int(v, "kdim"),
        _optional_positive_int(v, "vdim"),
        _bool(v.take("bias", False, True), v.at("bias")),
        _bool(v.take("add_bias_kv", False, False), v.at("add_bias_kv")),
        _optional_positive_int(v, "key_dim"),
        _optional_positive_int(v, "value_dim"),
        output_shape,
        _optional_positive_int(v, "qkv_features"),
        _optional_positive_int(v, "out_features"),
    )


def _make_transformer(v: _Values) -> TransformerEncoderLayerSpec:
    decoder = v.kind == "transformer_decoder_layer"
    spec = TransformerDecoderLayerSpec if decoder else TransformerEncoderLayerSpec
    return spec(
        _positive_int(v.take("d_model"), v.at("d_model")),
        _positive_int(v.take("nhead"), v.at("nhead")),
        _positive_int(v.take("dim_feedforward", False, 2048), v.at("dim_feedforward")),
        _bool(v.take("bias", False, True), v.at("bias")),
        _bool(v.take("norm_first", False, False), v.at("norm_first")),
    )


def _make_bilinear(v: _Values) -> BilinearSpec:
    return BilinearSpec(
        _positive_int(v.take("in1_features"), v.at("in1_features")),
        _positive_int(v.take("in2_features"), v.at("in2_features")),
        _positive_int(v.take("out_features"), v.at("out_features")),
        _bool(v.take("bias", False, True), v.at("bias")),
    )


def _make_layer_norm(v: _Values) -> LayerNormSpec:
    return LayerNormSpec(
        _shape(v.take("normalized_shape"), v.at("normalized_shape")),
        _bool(v.take("elementwise_affine", False, True), v.at("elementwise_affine")),
        _bool(v.take("bias", False, True), v.at("bias")),
    )


def _make_batch_norm(v: _Values) -> BatchNormSpec:
    return BatchNormSpec(
        _positive_int(v.take("num_features"), v.at("num_features")),
        _bool(v.take("affine", False, True), v.at("affine")),
        _bool(v.take("track_running_stats", False, True), v.at("track_running_stats")),
    )


def _make_group_norm(v: _Values) -> GroupNormSpec:
    channels = _positive_int(v.take("num_channels"), v.at("num_channels"))
    groups = v.take("num_groups")
    # keras/src/layers/normalization/group_normalization.py: groups=-1 is one group per channel
    spec = GroupNormSpec(
        channels if groups == -1 else _positive_int(groups, v.at("num_groups")),
        channels,
        _bool(v.take("affine", False, True), v.at("affine")),
    )
    if spec.num_channels % spec.num_groups:  # torch, Keras and Flax all refuse it
        raise ShapeError(
            f"num_groups={spec.num_groups} must divide num_channels={spec.num_channels}.",
            field=v.at("num_groups"),
        )
    return spec


def _make_instance_norm(v: _Values) -> InstanceNormSpec:
    return InstanceNormSpec(
        _positive_int(v.take("num_features"), v.at("num_features")),
        _bool(v.take("affine", False, False), v.at("affine")),
        _bool(v.take("track_running_stats", False, False), v.at("track_running_stats")),
    )


def _make_rms_norm(v: _Values) -> RMSNormSpec:
    return RMSNormSpec(
        _shape(v.take("normalized_shape"), v.at("normalized_shape")),
        _bool(v.take("elementwise_affine", False, True), v.at("elementwise_affine")),
    )


def _make_prelu(v: _Values) -> PReLUSpec:
    init = v.take("init", False, None)
    return PReLUSpec(
        _positive_int(v.take("num_parameters", False, 1), v.at("num_parameters")),
        None if init is None else _finite(init, v.at("init")),
    )


def _make_tensor(v: _Values) -> TensorLayerSpec:
    in_axes = v.take("in_axes", False, None)
    out_axes = v.take("out_axes", False, None)
    fan_in = v.take("fan_in", False, None)
    fan_out = v.take("fan_out", False, None)
    spec = TensorLayerSpec(
        _shape(v.take("shape"), v.at("shape")),
        None if in_axes is None else _axes(in_axes, v.at("in_axes")),
        None if out_axes is None else _axes(out_axes, v.at("out_axes")),
        _axes(v.take("batch_axes", False, ()), v.at("batch_axes")),
        None if fan_in is None else _fan(fan_in, v.at("fan_in")),
        None if fan_out is None else _fan(fan_out, v.at("fan_out")),
    )
    if (spec.in_axes is None) != (spec.out_axes is None):
        raise InvalidParameterError(
            "Give in_axes and out_axes together (or neither).", field=v.at("in_axes")
        )
    return spec


_MAKERS: dict[str, Callable[[_Values], LayerSpec]] = {
    "dense": _make_dense,
    "bilinear": _make_bilinear,
    **{kind: _make_conv for kind in LAYER_KINDS if kind.startswith("conv")},
    "embedding": _make_embedding,
    **dict.fromkeys(GATES, _make_recurrent),
    "multihead_attention": _make_attention,
    "transformer_encoder_layer": _make_transformer,
    "transformer_decoder_layer": _make_transformer,
    "layer_norm": _make_layer_norm,
    "batch_norm": _make_batch_norm,
    "group_norm": _make_group_norm,
    "instance_norm": _make_instance_norm,
    "rms_norm": _make_rms_norm,
    "prelu": _make_prelu,
    "tensor": _make_tensor,
}


def make_layer(kind: str, values: Mapping[str, object], where: str = "layer") -> LayerSpec:
    """Build and validate a layer spec from plain values (torch's argument names)."""
    if kind not in LAYER_KINDS:
        raise UnknownNameError("layer kind", kind, LAYER_KINDS, field=f"{where}.kind")
    given = _Values(kind, values, where)
    spec = _MAKERS[kind](given)
    given.reject_leftovers(spec)
    return spec


# ---- expansion ------------------------------------------------------------------------------


def _fans_or_none(shape: Shape, layout: Layout) -> Fans | None:
    try:
        return layout_fans(shape, layout)
    except ShapeError:
        return None


def _weight(
    name: str, shape: Shape, layout: Layout, family: Family, role: Role = Role.WEIGHT
) -> TensorSpec:
    return TensorSpec(name, shape, role, family, layout_fans(shape, layout))


def _bias(name: str, shape: Shape, of: TensorSpec) -> TensorSpec:
    return bias_of(of, name, shape)


def _dense(spec: DenseSpec, layout: Layout) -> list[TensorSpec]:
    torch = layout is Layout.TORCH
    shape = (
        (spec.out_features, spec.in_features) if torch else (spec.in_features, spec.out_features)
    )
    w = _weight("weight" if torch else "kernel", shape, layout, Family.DENSE)
    return [w, _bias("bias", (spec.out_features,), w)] if spec.bias else [w]


def _conv(spec: ConvSpec, layout: Layout) -> list[TensorSpec]:
    k, g = spec.kernel_size, spec.groups
    family = Family.CONV_TRANSPOSE if spec.transposed else Family.CONV
    if layout is Layout.TORCH:
        shape = (
            (spec.in_channels, spec.out_channels // g, *k)
            if spec.transposed
            else (spec.out_channels, spec.in_channels // g, *k)
        )
        name = "weight"
    else:
        if spec.transposed and g != 1:
            raise ShapeError(
                f"The {layout.value} layout has no grouped transposed convolution "
                "(Keras' Conv*DTranspose and Flax's ConvTranspose take no groups); use groups=1 "
                "or the torch layout.",
                field="layer.groups",
            )
        if spec.transposed:
            io = (
                (spec.out_channels, spec.in_channels)
                if layout is Layout.KERAS
                else (
                    spec.in_channels,
                    spec.out_channels,
                )
            )
        else:
            io = (spec.in_channels // g, spec.out_channels)
        shape, name = (*k, *io), "kernel"
    w = _weight(name, shape, layout, family)
    return [w, _bias("bias", (spec.out_channels,), w)] if spec.bias else [w]


def _embedding(spec: EmbeddingSpec, layout: Layout) -> list[TensorSpec]:
    shape = (spec.num_embeddings, spec.embedding_dim)
    if layout is Layout.JAX:  # Flax Embed: variance_scaling(..., out_axis=0) -> fan_in = d
        fans = compute_fans(shape, FanAxes(in_axes=(-2,), out_axes=(0,)))
        name = "embedding"
    else:
        fans = layout_fans(shape, layout)
        name = "weight" if layout is Layout.TORCH else "embeddings"
    return [
        TensorSpec(name, shape, Role.EMBEDDING, Family.EMBEDDING, fans, zero_row=spec.padding_idx)
    ]


_FLAX_CELLS = {
    # (input denses with bias?, hidden denses with bias?) per gate name pair
    "lstm": (
        ("ii", False, "hi", True),
        ("if", False, "hf", True),
        ("ig", False, "hg", True),
        ("io", False, "ho", True),
    ),
    "gru": (("ir", True, "hr", False), ("iz", True, "hz", False), ("in", True, "hn", True)),
    "rnn": (("i", True, "h", False),),
}


_CellTensor = Callable[[str, Shape, Role], TensorSpec]


def _torch_direction(
    spec: RecurrentSpec, rec: _CellTensor, layer: int, direction: int, in_size: int
) -> list[TensorSpec]:
    gates, h = GATES[spec.cell], spec.hidden_size
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    w_ih = rec(f"weight_ih{sfx}", (gates * h, in_size), Role.WEIGHT)
    w_hh = rec(f"weight_hh{sfx}", (gates * h, spec.output_size), Role.RECURRENT_WEIGHT)
    out = [w_ih, w_hh]
    if spec.bias:
        out += [
            _bias(f"bias_ih{sfx}", (gates * h,), w_ih),
            _bias(f"bias_hh{sfx}", (gates * h,), w_hh),
        ]
    if spec.proj_size:  # h_t = W_hr (o_t * tanh(c_t)): on the recurrent path, after the biases
        out.append(rec(f"weight_hr{sfx}", (spec.proj_size, h), Role.RECURRENT_WEIGHT))
    return out


def _name_prefix(spec: RecurrentSpec, layer: int, direction: int) -> str:
    """Keras and Flax: ``l{k}.`` when stacked, ``forward.``/``backward.`` when bidirectional."""
    parts = [f"l{layer}"] if spec.num_layers > 1 else []
    parts += [("backward" if direction else "forward")] if spec.bidirectional else []
    return "".join(p + "." for p in parts)


def _keras_direction(
    spec: RecurrentSpec, rec: _CellTensor, layer: int, direction: int, in_size: int
) -> list[TensorSpec]:
    gates, h = GATES[spec.cell], spec.hidden_size
    prefix = _name_prefix(spec, layer, direction)
    kernel = rec(f"{prefix}kernel", (in_size, gates * h), Role.WEIGHT)
    recurrent = rec(f"{prefix}recurrent_kernel", (h, gates * h), Role.RECURRENT_WEIGHT)
    if not spec.bias:
        return [kernel, recurrent]
    shape = (2, gates * h) if spec.cell == "gru" else (gates * h,)
    return [kernel, recurrent, _bias(f"{prefix}bias", shape, kernel)]


def _flax_direction(
    spec: RecurrentSpec, rec: _CellTensor, layer: int, direction: int, in_size: int
) -> list[TensorSpec]:
    h = spec.hidden_size
    prefix = _name_prefix(spec, layer, direction)
    out: list[TensorSpec] = []
    for i_name, i_bias, h_name, h_bias in _FLAX_CELLS[spec.cell]:
        ik = rec(f"{prefix}{i_name}.kernel", (in_size, h), Role.WEIGHT)
        out.append(ik)
        if i_bias and spec.bias:
            out.append(_bias(f"{prefix}{i_name}.bias", (h,), ik))
        hk = rec(f"{prefix}{h_name}.kernel", (h, h), Role.RECURRENT_WEIGHT)
        out.append(hk)
        if h_bias and spec.bias:
            out.append(_bias(f"{prefix}{h_name}.bias", (h,), hk))
    return out


_RECURRENT_DIRECTION = {
    Layout.TORCH: _torch_direction,
    Layout.KERAS: _keras_direction,
    Layout.JAX: _flax_direction,
}


def _recurrent(spec: RecurrentSpec, layout: Layout) -> list[TensorSpec]:
    h = spec.hidden_size
    directions = 2 if spec.bidirectional else 1
    if spec.proj_size and layout is not Layout.TORCH:
        refuse_argument(spec.kind, "proj_size", layout, (Layout.TORCH,))
    one_direction = _RECURRENT_DIRECTION[layout]

    def rec(name: str, shape: Shape, role: Role) -> TensorSpec:
        fans = layout_fans(shape, layout)
        return TensorSpec(name, shape, role, Family.RECURRENT, fans, spec.cell, h)

    out: list[TensorSpec] = []
    for layer in range(spec.num_layers):
        in_size = spec.input_size if layer == 0 else spec.output_size * directions
        for direction in range(directions):
            out += one_direction(spec, rec, layer, direction, in_size)
    return out


# PReLU's slope: torch ``weight (n,)``, Keras ``alpha (n,)`` (its ``shared_axes`` leave one
# slope per channel), Flax ``negative_slope`` (one scalar).
_PRELU_NAMES = {Layout.TORCH: "weight", Layout.KERAS: "alpha", Layout.JAX: "negative_slope"}


def _prelu(spec: PReLUSpec, layout: Layout) -> list[TensorSpec]:
    if layout is Layout.JAX and spec.num_parameters != 1:
        refuse_argument(
            spec.kind,
            "num_parameters",
            layout,
            (Layout.TORCH, Layout.KERAS),
            "Flax's PReLU has one scalar negative_slope: leave num_parameters at 1.",
        )
    shape: Shape = () if layout is Layout.JAX else (spec.num_parameters,)
    fans = _fans_or_none(shape, layout) if shape else None
    name = _PRELU_NAMES[layout]
    return [TensorSpec(name, shape, Role.ACTIVATION, Family.PRELU, fans, fill=spec.init)]


def _bilinear(spec: BilinearSpec, layout: Layout) -> list[TensorSpec]:
    """torch only (kinds.py): ``weight (out, in1, in2)``, torch's fans (in1*in2, out*in2)."""
    shape = (spec.out_features, spec.in1_features, spec.in2_features)
    weight = TensorSpec(
        "weight",
        shape,
        Role.WEIGHT,
        Family.BILINEAR,
        layout_fans(shape, layout),
        in1_features=spec.in1_features,
    )
    return [weight, bias_of(weight, "bias", (spec.out_features,))] if spec.bias else [weight]


def _tensor(spec: TensorLayerSpec, layout: Layout) -> list[TensorSpec]:
    if spec.in_axes is not None and spec.out_axes is not None:
        fans: Fans | None = compute_fans(
            spec.shape, FanAxes(spec.in_axes, spec.out_axes, spec.batch_axes)
        )
    else:
        if spec.batch_axes:
            raise InvalidParameterError(
                "batch_axes needs in_axes and out_axes too.", field="layer.batch_axes"
            )
        fans = _fans_or_none(spec.shape, layout)
    fans = override_fans(fans, spec.fan_in, spec.fan_out)
    return [TensorSpec("weight", spec.shape, Role.WEIGHT, Family.TENSOR, fans)]


def count_elements(spec: LayerSpec, layout: Layout) -> int:
    """The layer's total element count, exactly, without expanding deep recurrent stacks.

    Layer k > 0 of a recurrent stack has the same tensors as a one-layer stack whose input
    is ``hidden_size * directions`` (``proj_size * directions`` with a projection), so the
    count is O(1) in ``num_layers``; lets a caller
    refuse an oversized request before anything is built.
    """
    if isinstance(spec, RecurrentSpec) and spec.num_layers > 1:
        directions = 2 if spec.bidirectional else 1
        first = replace(spec, num_layers=1)
        later = replace(spec, num_layers=1, input_size=spec.output_size * directions)
        return count_elements(first, layout) + (spec.num_layers - 1) * count_elements(later, layout)
    return sum(math.prod(t.shape) for t in expand_layer(spec, layout))


def expand_layer(spec: LayerSpec, layout: Layout) -> list[TensorSpec]:
    """The named tensors of a layer under ``layout``, in the framework's registration order."""
    if isinstance(spec, RecurrentSpec) and spec.num_layers > MAX_RECURRENT_LAYERS:
        raise LimitExceededError(
            "MAX_RECURRENT_LAYERS",
            MAX_RECURRENT_LAYERS,
            spec.num_layers,
            unit="layers",
            field="layer.num_layers",
        )
    check_kind(spec.kind, layout)
    return _EXPANDERS[type(spec)](spec, layout)


_EXPANDERS: dict[type, Callable[[Any, Layout], list[TensorSpec]]] = {
    DenseSpec: _dense,
    BilinearSpec: _bilinear,
    ConvSpec: _conv,
    EmbeddingSpec: _embedding,
    RecurrentSpec: _recurrent,
    MultiheadAttentionSpec: expand_attention,
    TransformerEncoderLayerSpec: expand_transformer,
    TransformerDecoderLayerSpec: expand_transformer,
    **dict.fromkeys(
        (LayerNormSpec, BatchNormSpec, GroupNormSpec, InstanceNormSpec, RMSNormSpec), expand_norm
    ),
    PReLUSpec: _prelu,
    TensorLayerSpec: _tensor,
}
