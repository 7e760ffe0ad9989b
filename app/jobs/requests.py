"""Request models: the public contract of every operation, rendered into openapi.json.

Fields mirror torch's argument names; each layer model also declares its kind's Keras and
Flax constructor arguments (:mod:`app.jobs.arguments`, from the core's table), which the core
reads per layout. Unknown fields are rejected (``extra="forbid"``);
integers and booleans are strict (``"12"`` or ``true`` for an integer is a 422), except that a
number with no fractional part (``12.0``, ``1e3``) is the integer JSON Schema says it is.
Semantics that need the core (groups dividing channels, scheme parameters, fans) are validated
by the core, whose typed errors become 422s naming the field; where a JSON Schema keyword can
say the same rule (exactly one of ``layers``/``mlp``/``tensors``, a conv's kernel rank, strings
that are text), the schema says it too (``json_schema_extra``), so a schema-valid body is
accepted.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from app.core.architectures import ARCHITECTURES, TRANSFORMERS_VERSION
from app.core.errors import nearest_name
from app.core.kinds import KIND_CLASSES
from app.core.legacy import LEGACY_MAX_SEED
from app.core.regions import SLICE_PATTERN
from app.core.schemes import all_names
from app.core.streams import MAX_SEED
from app.core.threefry import JAX_MAX_SEED
from app.core.types import FIXED_ROLES, WEIGHT_ROLES, Algorithm, DType, Layout, Role

from .arguments import alias_description, framework_arguments
from .named_spec import named_spec_name
from .names import MAX_NAME_LENGTH, NAME_PATTERN, NAME_RULE, name_problem
from .recipe_request import RecipeField
from .scheme_schema import names_alone, scheme_object_branches


def _integral(value: object) -> object:
    """12.0 -> 12: JSON Schema's ``integer`` is any number with no fractional part."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The converter comes last in each Annotated (it runs first), so that the constraints still
# render as JSON Schema keywords.
INTEGRAL = BeforeValidator(_integral)
Int = Annotated[StrictInt, INTEGRAL]
PositiveInt = Annotated[StrictInt, Field(gt=0), INTEGRAL]
# Every string of a body is text (app.api.json_guard refuses the rest before validation): the
# schema says so with a pattern, so generated requests stay within what is accepted.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
TEXT: dict[str, Any] = {"pattern": TEXT_PATTERN}
Dims = Annotated[list[PositiveInt], Field(min_length=0, max_length=8)]

# The members come from the registry at import time. mypy types a functional-API enum only
# from literal members ([misc] otherwise); the class is still SchemeName to it.
SchemeName = StrEnum("SchemeName", {name: name for name in all_names()})  # type: ignore[misc]
SchemeName.__doc__ = (
    "A scheme's canonical name or alias, for a scheme that needs no parameter (GET /v1/schemes "
    "lists them); one that does is a SchemeObject."
)


def _scheme_name_schema(cls: type, core_schema: Any, handler: Any) -> dict[str, Any]:
    """Validation takes every name (the core then names the parameter a bare name lacks);
    the schema lists only the names that are valid alone."""
    schema: dict[str, Any] = handler.resolve_ref_schema(handler(core_schema))
    schema["enum"] = names_alone()
    return schema


SchemeName.__get_pydantic_json_schema__ = classmethod(_scheme_name_schema)  # type: ignore[attr-defined]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- layers ---------------------------------------------------------------------------------


def _kind(kind: str) -> Any:
    """The discriminator's description: which framework layer each layout's kind is."""
    classes = "; ".join(f"{layout.value}: {name}" for layout, name in KIND_CLASSES[kind].items())
    return Field(description=f"The layer kind ({classes}).")


def _said(text: str) -> Any:
    return Field(description=text)


# A field a framework names otherwise (Keras' units for out_features) is optional in the
# model: the core requires it under one of its names, and the schema says so.
def _aliased(kind: str, ours: str, text: str = "Required.") -> Any:
    return Field(description=alias_description(kind, ours, text))


@framework_arguments(required=("in_features", "out_features"))
class DenseLayer(Strict):
    """torch.nn.Linear / keras Dense / flax Dense."""

    kind: Annotated[Literal["dense"], _kind("dense")]
    in_features: Annotated[PositiveInt | None, _aliased("dense", "in_features")] = None
    out_features: Annotated[PositiveInt | None, _aliased("dense", "out_features")] = None
    bias: Annotated[
        StrictBool, _said("A learned bias (Keras and Flax: use_bias). Default: true.")
    ] = True


KernelSize = PositiveInt | Annotated[list[PositiveInt], Field(min_length=1, max_length=3)]


KERNEL_DESCRIPTION = "The kernel's spatial size: one integer for every dimension, or a list of {n}."
# A kernel_size whose list form has exactly as many entries as the conv has spatial dims: said
# in the schema (the core checks the same rule with its own message).
Kernel1d = Annotated[
    KernelSize,
    Field(
        description=KERNEL_DESCRIPTION.format(n=1),
        json_schema_extra={"minItems": 1, "maxItems": 1},
    ),
]
Kernel2d = Annotated[
    KernelSize,
    Field(
        description=KERNEL_DESCRIPTION.format(n=2),
        json_schema_extra={"minItems": 2, "maxItems": 2},
    ),
]
Kernel3d = Annotated[
    KernelSize,
    Field(
        description=KERNEL_DESCRIPTION.format(n=3),
        json_schema_extra={"minItems": 3, "maxItems": 3},
    ),
]


class _Conv(Strict):
    in_channels: Annotated[PositiveInt, _said("Channels of the input.")]
    out_channels: Annotated[PositiveInt | None, _aliased("conv2d", "out_channels")] = None
    kernel_size: KernelSize
    groups: Annotated[
        PositiveInt,
        _said("Blocked connections; must divide in_channels and out_channels. Default: 1."),
    ] = 1
    bias: Annotated[
        StrictBool, _said("A learned bias (Keras and Flax: use_bias). Default: true.")
    ] = True


@framework_arguments(required=("out_channels",))
class Conv1dLayer(_Conv):
    kind: Annotated[Literal["conv1d"], _kind("conv1d")]
    kernel_size: Kernel1d


@framework_arguments(required=("out_channels",))
class Conv2dLayer(_Conv):
    kind: Annotated[Literal["conv2d"], _kind("conv2d")]
    kernel_size: Kernel2d


@framework_arguments(required=("out_channels",))
class Conv3dLayer(_Conv):
    kind: Annotated[Literal["conv3d"], _kind("conv3d")]
    kernel_size: Kernel3d


@framework_arguments(required=("out_channels",))
class ConvTranspose1dLayer(_Conv):
    kind: Annotated[Literal["conv_transpose1d"], _kind("conv_transpose1d")]
    kernel_size: Kernel1d


@framework_arguments(required=("out_channels",))
class ConvTranspose2dLayer(_Conv):
    kind: Annotated[Literal["conv_transpose2d"], _kind("conv_transpose2d")]
    kernel_size: Kernel2d


@framework_arguments(required=("out_channels",))
class ConvTranspose3dLayer(_Conv):
    kind: Annotated[Literal["conv_transpose3d"], _kind("conv_transpose3d")]
    kernel_size: Kernel3d


@framework_arguments(required=("num_embeddings", "embedding_dim"))
class EmbeddingLayer(Strict):
    kind: Annotated[Literal["embedding"], _kind("embedding")]
    num_embeddings: Annotated[PositiveInt | None, _aliased("embedding", "num_embeddings")] = None
    embedding_dim: Annotated[PositiveInt | None, _aliased("embedding", "embedding_dim")] = None
    padding_idx: Annotated[
        Int | None,
        _said(
            "The row kept at zeros (negative counts from the end). Default: none (every row drawn)."
        ),
    ] = None


class _Recurrent(Strict):
    input_size: Annotated[PositiveInt, _said("Features of the input.")]
    hidden_size: Annotated[PositiveInt | None, _aliased("lstm", "hidden_size")] = None
    num_layers: Annotated[PositiveInt, _said("Stacked recurrent layers. Default: 1.")] = 1
    bias: Annotated[
        StrictBool, _said("Input and recurrent biases (Keras: use_bias). Default: true.")
    ] = True
    bidirectional: Annotated[
        StrictBool, _said("A backward direction too (its own tensors). Default: false.")
    ] = False


@framework_arguments(required=("hidden_size",))
class RnnLayer(_Recurrent):
    kind: Annotated[Literal["rnn"], _kind("rnn")]


@framework_arguments(required=("hidden_size",))
class LstmLayer(_Recurrent):
    kind: Annotated[Literal["lstm"], _kind("lstm")]
    proj_size: Annotated[
        StrictInt | None,
        Field(
            ge=0,
            description="torch layout only: project each step's hidden state to this size "
            "(weight_hr_l{k} (proj_size, hidden_size)); must be below hidden_size. Default: "
            "none (0, no projection).",
        ),
        INTEGRAL,
    ] = None


@framework_arguments(required=("hidden_size",))
class GruLayer(_Recurrent):
    kind: Annotated[Literal["gru"], _kind("gru")]


@framework_arguments()
class LayerNormLayer(Strict):
    kind: Annotated[Literal["layer_norm"], _kind("layer_norm")]
    normalized_shape: Annotated[
        PositiveInt | Annotated[list[PositiveInt], Field(min_length=1, max_length=8)],
        _said("The trailing dimensions normalised over; the scale's and shift's shape."),
    ]
    elementwise_affine: Annotated[
        StrictBool,
        _said("A learned scale (and shift, with bias). Default: true."),
    ] = True
    bias: Annotated[
        StrictBool, _said("A learned shift, with elementwise_affine. Default: true.")
    ] = True


@framework_arguments()
class BatchNormLayer(Strict):
    kind: Annotated[Literal["batch_norm"], _kind("batch_norm")]
    num_features: Annotated[PositiveInt, _said("Channels of the input.")]
    affine: Annotated[
        StrictBool, _said("A learned per-channel scale and shift. Default: true.")
    ] = True
    track_running_stats: Annotated[
        StrictBool,
        _said(
            "Running mean and variance (torch: and num_batches_tracked), fixed at 0 and 1. "
            "Default: true."
        ),
    ] = True


# ---- attention, transformer layers, more norms, PReLU, Bilinear (app/core/kinds.py says which
# layouts have each; a layout without the kind or an argument is a 422 naming the layouts that
# have it).


OptionalSize = Annotated[StrictInt | None, Field(gt=0), INTEGRAL]
NormalizedShape = PositiveInt | Annotated[list[PositiveInt], Field(min_length=1, max_length=8)]


@framework_arguments()
class MultiheadAttentionLayer(Strict):
    """Multi-head attention: torch nn.MultiheadAttention, Keras MultiHeadAttention, Flax
    nn.MultiHeadDotProductAttention. torch's argument names; key_dim, value_dim and output_shape
    are Keras' (keras layout only), qkv_features and out_features Flax's (jax layout only),
    add_bias_kv torch's."""

    kind: Annotated[Literal["multihead_attention"], _kind("multihead_attention")]
    embed_dim: Annotated[
        PositiveInt,
        Field(
            description=(
                "Features of the query input (torch's embed_dim; Keras and Flax read it from the "
                "query)."
            )
        ),
    ]
    num_heads: Annotated[
        PositiveInt,
        Field(
            description=(
                "Attention heads. torch: must divide embed_dim; jax: must divide qkv_features."
            )
        ),
    ]
    kdim: Annotated[
        OptionalSize,
        Field(
            description=(
                "Features of the key input. Default: embed_dim. torch: kdim or vdim other than "
                "embed_dim stores q_proj_weight, k_proj_weight and v_proj_weight instead of the "
                "packed in_proj_weight."
            )
        ),
    ] = None
    vdim: Annotated[
        OptionalSize, Field(description="Features of the value input. Default: embed_dim.")
    ] = None
    bias: Annotated[
        StrictBool,
        _aliased("multihead_attention", "bias", "Biases on every projection. Default: true."),
    ] = True
    add_bias_kv: Annotated[
        StrictBool,
        Field(
            description=(
                "torch layout only: learned bias_k and bias_v of shape (1, 1, embed_dim) appended "
                "to the keys and values (role attention_qkv, torch default xavier_normal_). "
                "Default: false."
            )
        ),
    ] = False
    key_dim: Annotated[
        OptionalSize,
        Field(
            description=(
                "keras layout only: the size of each query and key head. Default: embed_dim / "
                "num_heads (Keras itself requires it)."
            )
        ),
    ] = None
    value_dim: Annotated[
        OptionalSize,
        Field(description="keras layout only: the size of each value head. Default: key_dim."),
    ] = None
    output_shape: Annotated[
        PositiveInt | Annotated[list[PositiveInt], Field(min_length=1, max_length=8)] | None,
        Field(
            description=(
                "keras layout only: the shape of the output projection's output. Default: "
                "[embed_dim]."
            )
        ),
    ] = None
    qkv_features: Annotated[
        OptionalSize,
        Field(
            description=(
                "jax layout only: query, key and value features over all heads (head size "
                "qkv_features / num_heads). Default: embed_dim."
            )
        ),
    ] = None
    out_features: Annotated[
        OptionalSize, Field(description="jax layout only: output features. Default: embed_dim.")
    ] = None


class _TransformerLayer(Strict):
    d_model: Annotated[PositiveInt, Field(description="Features of the layer's input and output.")]
    nhead: Annotated[PositiveInt, Field(description="Attention heads; must divide d_model.")]
    dim_feedforward: Annotated[
        PositiveInt,
        Field(description="Width of the feed-forward block (linear1's outputs). Default: 2048."),
    ] = 2048
    bias: Annotated[
        StrictBool,
        Field(
            description=(
                "Biases in the attention, both Linear layers and the LayerNorms. Default: true."
            )
        ),
    ] = True
    norm_first: Annotated[
        StrictBool,
        Field(
            description=(
                "Pre-norm (true) or post-norm (false); changes no parameter. Default: false."
            )
        ),
    ] = False


@framework_arguments()
class TransformerEncoderLayer(_TransformerLayer):
    """torch nn.TransformerEncoderLayer (torch layout only): self_attn.*, linear1, linear2,
    norm1, norm2, named as its state_dict."""

    kind: Annotated[Literal["transformer_encoder_layer"], _kind("transformer_encoder_layer")]


@framework_arguments()
class TransformerDecoderLayer(_TransformerLayer):
    """torch nn.TransformerDecoderLayer (torch layout only): self_attn.*, multihead_attn.*,
    linear1, linear2, norm1, norm2, norm3, named as its state_dict."""

    kind: Annotated[Literal["transformer_decoder_layer"], _kind("transformer_decoder_layer")]


@framework_arguments(required=("num_groups",))
class GroupNormLayer(Strict):
    """torch nn.GroupNorm, Keras GroupNormalization, Flax nn.GroupNorm: scale 1, shift 0."""

    kind: Annotated[Literal["group_norm"], _kind("group_norm")]
    num_groups: Annotated[
        PositiveInt | Literal[-1] | None,
        _aliased(
            "group_norm",
            "num_groups",
            "Required. Groups the channels are split into; must divide num_channels. -1: one "
            "group per channel (Keras's groups=-1, instance normalization).",
        ),
    ] = None
    num_channels: Annotated[PositiveInt, Field(description="Channels of the input.")]
    affine: Annotated[
        StrictBool, Field(description="A learned per-channel scale and shift. Default: true.")
    ] = True


@framework_arguments()
class InstanceNormLayer(Strict):
    """torch nn.InstanceNorm1d/2d/3d (the same parameters) and Flax nn.InstanceNorm; Keras has
    none. torch's defaults in every layout."""

    kind: Annotated[Literal["instance_norm"], _kind("instance_norm")]
    num_features: Annotated[PositiveInt, Field(description="Channels of the input.")]
    affine: Annotated[
        StrictBool,
        Field(
            description=(
                "A learned per-channel scale and shift. Default: false, as torch (Flax's "
                "InstanceNorm has them by default: say true)."
            )
        ),
    ] = False
    track_running_stats: Annotated[
        StrictBool,
        Field(
            description=(
                "torch layout only: running_mean, running_var and num_batches_tracked. Default: "
                "false."
            )
        ),
    ] = False


@framework_arguments()
class RmsNormLayer(Strict):
    """torch nn.RMSNorm, Keras RMSNormalization, Flax nn.RMSNorm: a scale (1), no shift."""

    kind: Annotated[Literal["rms_norm"], _kind("rms_norm")]
    normalized_shape: Annotated[
        NormalizedShape,
        Field(description="The trailing dimensions normalised over; the scale's shape."),
    ]
    elementwise_affine: Annotated[
        StrictBool, Field(description="A learned scale. Default: true.")
    ] = True


@framework_arguments()
class PreluLayer(Strict):
    """torch nn.PReLU (weight), Keras PReLU (alpha), Flax nn.PReLU (one scalar negative_slope):
    role activation."""

    kind: Annotated[Literal["prelu"], _kind("prelu")]
    num_parameters: Annotated[
        PositiveInt,
        Field(
            description=(
                "Slopes: 1 (shared) or one per channel; the jax layout has one scalar slope. "
                "Default: 1."
            )
        ),
    ] = 1
    init: Annotated[
        Annotated[float, Field(strict=True, allow_inf_nan=False)] | None,
        _aliased(
            "prelu",
            "init",
            "The slopes' starting value (a number). Default: the layout framework's (torch "
            "0.25, Keras 0, Flax 0.01).",
        ),
    ] = None


@framework_arguments()
class BilinearLayer(Strict):
    """torch nn.Bilinear (torch layout only): weight (out_features, in1_features,
    in2_features), bias (out_features,), both U(+-1/sqrt(in1_features)) by default."""

    kind: Annotated[Literal["bilinear"], _kind("bilinear")]
    in1_features: Annotated[PositiveInt, Field(description="Features of the first input.")]
    in2_features: Annotated[PositiveInt, Field(description="Features of the second input.")]
    out_features: Annotated[PositiveInt, Field(description="Features of the output.")]
    bias: Annotated[StrictBool, Field(description="A learned bias. Default: true.")] = True


def _axes(value: object, handler: Any) -> object:
    """One message for the union (not 'a valid integer or a list of at most 8 items')."""
    try:
        return handler(value)
    except ValueError:  # pydantic's ValidationError included
        raise PydanticCustomError(
            "axes",
            "{message}",
            {
                "message": "Expected an axis (an integer; negative counts from the end) or a "
                f"list of 1 to 8 axes; got {shown(value)}."
            },
        ) from None


Axes = Annotated[
    Int | Annotated[list[Int], Field(min_length=1, max_length=8)], WrapValidator(_axes)
]
Fan = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class TensorLayer(Strict):
    """A raw tensor named ``weight``: fans from the layout's rule, explicit axes, or values."""

    kind: Annotated[Literal["tensor"], _kind("tensor")]
    shape: Annotated[Dims, _said("The tensor's shape ([] for a scalar).")]
    in_axes: Annotated[
        Axes | None,
        _said("Axes whose product is fan_in (with out_axes). Default: the layout's fan rule."),
    ] = None
    out_axes: Annotated[
        Axes | None,
        _said("Axes whose product is fan_out (with in_axes). Default: the layout's fan rule."),
    ] = None
    batch_axes: Annotated[
        Axes | None,
        _said("Axes that count toward neither fan (with in_axes and out_axes). Default: none."),
    ] = None
    fan_in: Annotated[
        Fan | None, _said("Overrides the fan_in of the axes or the layout's fan rule.")
    ] = None
    fan_out: Annotated[
        Fan | None, _said("Overrides the fan_out of the axes or the layout's fan rule.")
    ] = None


Layer = Annotated[
    DenseLayer
    | BilinearLayer
    | Conv1dLayer
    | Conv2dLayer
    | Conv3dLayer
    | ConvTranspose1dLayer
    | ConvTranspose2dLayer
    | ConvTranspose3dLayer
    | EmbeddingLayer
    | RnnLayer
    | LstmLayer
    | GruLayer
    | MultiheadAttentionLayer
    | TransformerEncoderLayer
    | TransformerDecoderLayer
    | LayerNormLayer
    | BatchNormLayer
    | GroupNormLayer
    | InstanceNormLayer
    | RmsNormLayer
    | PreluLayer
    | TensorLayer,
    Field(discriminator="kind"),
]


def layer_fields(layer: BaseModel) -> tuple[str, dict[str, Any]]:
    """(kind, fields) for the core's make_layer, without unset optional fields."""
    data = layer.model_dump(exclude_none=True)
    return str(data.pop("kind")), data


def layer_values(layer: BaseModel) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(kind, the values the request gave, the defaults of the fields it did not give): the
    core reads the given ones (framework names included, app.core.layer_values)."""
    kind, data = layer_fields(layer)
    given = {k: v for k, v in data.items() if k in layer.model_fields_set}
    return kind, given, {k: v for k, v in data.items() if k not in given}


# ---- schemes and seeds -------------------------------------------------------------------------


def _scheme_object_schema(schema: dict[str, Any]) -> None:
    """The schema states each scheme's own parameters (app/jobs/scheme_schema.py); the model
    lets them through to the core, which validates them with messages naming each one."""
    description = schema.get("description", "")
    schema.clear()
    schema.update(
        title="SchemeObject",
        description=description,
        anyOf=scheme_object_branches(),
    )


class SchemeObject(BaseModel):
    """A scheme with parameters: ``{"name": "he_normal", "mode": "fan_out"}``. Each scheme
    takes its own (GET /v1/schemes lists them with their defaults and meanings)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_scheme_object_schema)
    name: Annotated[
        SchemeName, Field(description="The scheme's name; its parameters sit beside it.")
    ]


def _scheme(value: object, handler: Any) -> object:
    if value is None:
        return None
    name = named_spec_name(value, "scheme")
    names = all_names()
    if name not in names:
        hint = nearest_name(name, names)
        raise PydanticCustomError(
            "unknown_scheme",
            "Unknown scheme '{name}'.{hint} GET /v1/schemes lists the {count} valid names.",
            {"name": name, "hint": f" Did you mean {hint!r}?" if hint else "", "count": len(names)},
        )
    return handler(value)


SchemeSpec = Annotated[SchemeName | SchemeObject | None, WrapValidator(_scheme)]


def _given_scheme(value: object, handler: Any) -> object:
    if value is None:
        raise PydanticCustomError(
            "scheme_required", "Give a scheme here (a name or an object), not null."
        )
    return _scheme(value, handler)


# A scheme that must be given (a list entry): null is refused, not read as absent.
GivenScheme = Annotated[SchemeName | SchemeObject, WrapValidator(_given_scheme)]

# The roles a request may name a scheme for: every role but the fixed ones (app.core.types).
SchemableRole = StrEnum(  # type: ignore[misc]
    "SchemableRole", {r.value: r.value for r in Role if r not in FIXED_ROLES}
)
SchemableRole.__doc__ = (
    "A tensor role a scheme can be named for (running statistics and counters are fixed)."
)

WeightRole = StrEnum(  # type: ignore[misc]
    "WeightRole", {r.value: r.value for r in Role if r in WEIGHT_ROLES}
)
WeightRole.__doc__ = "A weight-like tensor role (a layer's ``role`` names one)."

SCHEME_DESCRIPTION = (
    "The scheme of every weight-like tensor (roles weight, recurrent_weight, embedding, "
    "position_embedding, attention_qkv, attention_output, mlp_in, mlp_out, readout): a name "
    'or {"name": ..., parameters}. Default (null): the layout\'s framework default '
    "(torch.default, keras.default or flax.default). Not applied to norm scales, which keep 1, "
    "except on a norm layer's own scheme."
)
BIAS_SCHEME_DESCRIPTION = (
    "The scheme of every bias. Default (null): the layout's framework default (torch: "
    "U(-1/sqrt(fan_in), 1/sqrt(fan_in)); keras and jax: zeros), except the mlp shorthand, "
    "whose biases default to zeros. Not applied to norm shifts, which keep 0, except on a "
    "norm layer's own bias_scheme."
)
ROLE_SCHEMES_DESCRIPTION = (
    'A scheme per tensor role, e.g. {"attention_output": "zeros", "norm_scale": '
    '"ones"}; it overrides scheme and bias_scheme at the same level (a layer\'s own fields '
    "override the request's). Roles: weight, recurrent_weight, embedding, position_embedding, "
    "attention_qkv, attention_output, mlp_in, mlp_out, readout, bias, norm_scale, norm_shift, "
    "activation (PReLU's slope). "
    "Default: none."
)
RoleSchemes = Annotated[
    dict[SchemableRole, SchemeSpec] | None,
    Field(description=ROLE_SCHEMES_DESCRIPTION, max_length=32),
]
SchemeField = Annotated[SchemeSpec, Field(description=SCHEME_DESCRIPTION)]
BiasSchemeField = Annotated[SchemeSpec, Field(description=BIAS_SCHEME_DESCRIPTION)]


def scheme_parts(spec: object) -> tuple[str, dict[str, Any]] | None:
    """(name, params) of a validated scheme spec."""
    if spec is None:
        return None
    if isinstance(spec, SchemeObject):  # 2.0 is the integer 2 (JSON Schema), as elsewhere
        params = {key: _integral(value) for key, value in (spec.model_extra or {}).items()}
        return str(spec.name.value), params
    return str(getattr(spec, "value", spec)), {}


SEED_RULE = f"an integer from 0 to {MAX_SEED}, as a JSON number or a string of decimal digits"


def shown(value: object, width: int = 40) -> str:
    """``value`` as JSON, cut to ``width`` characters, for a message that quotes it."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def seed_problem(value: object) -> str:
    """The one message for every bad seed (wrong type, sign, size or form)."""
    return f"seed must be {SEED_RULE}; got {shown(value)}."


def parse_seed(value: int | str) -> int:
    seed = int(value) if isinstance(value, str) else value
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(seed_problem(value))
    return seed


def _seed(value: object, handler: Any) -> object:
    """The union's members each report their own failure ("a valid integer or a valid
    string..."): one message instead, which also bounds a decimal string's value."""
    try:
        seed = handler(value)
        parse_seed(seed)
    except ValueError:  # pydantic's ValidationError included
        raise PydanticCustomError("seed", "{message}", {"message": seed_problem(value)}) from None
    return seed


Seed = Annotated[
    Annotated[StrictInt, Field(ge=0, le=MAX_SEED), INTEGRAL]
    | Annotated[str, Field(pattern=r"^[0-9]{1,20}$")],
    Field(
        description="0..2**64-1, as a JSON integer or a decimal string (JavaScript clients "
        "cannot send integers above 2**53 exactly).",
        examples=[42, "18446744073709551615"],
    ),
    WrapValidator(_seed),
]


def decimal_at_least(bound: int) -> str:
    """A regular expression for the decimal strings (leading zeros allowed) of value at least
    ``bound``: more digits, or as many and larger at the first digit that differs."""
    digits = str(bound)
    options = [f"[1-9][0-9]{{{len(digits)},}}"]
    for i, digit in enumerate(digits):
        if digit != "9":
            rest = len(digits) - i - 1
            options.append(f"{digits[:i]}[{int(digit) + 1}-9][0-9]{{{rest}}}")
    options.append(digits)
    return f"^0*(?:{'|'.join(options)})$"


def decimal_up_to(bound: int) -> str:
    """A regular expression (unanchored) for the decimal strings, leading zeros allowed, of
    value 1 to ``bound``: fewer digits, or as many and smaller at the first that differs."""
    digits = str(bound)
    n = len(digits)
    options = [f"[1-9][0-9]{{0,{n - 2}}}"] if n >= 2 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            options.append(f"{digits[:i]}[{low}-{int(digit) - 1}][0-9]{{{n - i - 1}}}")
    options.append(digits)
    return f"0*(?:{'|'.join(options)})"


# Rules between fields, said with "not" (a body matching any of these is refused), which
# generic client generators ignore rather than splitting the model.
LEGACY_SEED_TOO_LARGE: dict[str, Any] = {  # numpy's RandomState takes 32-bit seeds
    "required": ["algorithm", "seed"],
    "properties": {
        "algorithm": {"const": Algorithm.NUMPY_LEGACY.value},
        "seed": {
            "anyOf": [
                {"type": "number", "minimum": LEGACY_MAX_SEED + 1},
                {"type": "string", "pattern": decimal_at_least(LEGACY_MAX_SEED + 1)},
            ]
        },
    },
}
JAX_SEED_TOO_LARGE: dict[str, Any] = {  # jax.random.key converts the seed to int64
    "required": ["algorithm", "seed"],
    "properties": {
        "algorithm": {"const": Algorithm.JAX_THREEFRY.value},
        "seed": {
            "anyOf": [
                {"type": "number", "minimum": JAX_MAX_SEED + 1},
                {"type": "string", "pattern": decimal_at_least(JAX_MAX_SEED + 1)},
            ]
        },
    },
}
JAX_NOT_FLOAT32: dict[str, Any] = {  # JAX computes in float32 (jax_enable_x64=False)
    "required": ["algorithm", "dtype"],
    "properties": {
        "algorithm": {"const": Algorithm.JAX_THREEFRY.value},
        "dtype": {"not": {"const": DType.FLOAT32.value}},
    },
}
TORCH_CPU_NOT_TORCH_LAYOUT: dict[str, Any] = {  # torch-cpu builds torch modules
    "required": ["algorithm", "layout"],
    "properties": {
        "algorithm": {"const": Algorithm.TORCH_CPU.value},
        "layout": {"not": {"const": Layout.TORCH.value}},
    },
}
RECIPE_AND_SCHEME: dict[str, Any] = {  # a recipe chooses every scheme the request-wide one would
    "anyOf": [
        {
            "required": ["recipe", field],
            "properties": {"recipe": {"not": {"type": "null"}}, field: {"not": {"type": "null"}}},
        }
        for field in ("scheme", "bias_scheme")
    ]
}
SLICE_AND_SHARD: dict[str, Any] = {  # a shard is a slice along one dimension: one or the other
    "required": ["slice", "shard"],
    "properties": {"slice": {"not": {"type": "null"}}, "shard": {"not": {"type": "null"}}},
}


class _Common(Strict):
    seed: Seed
    dtype: Annotated[
        DType,
        Field(
            description="Element type of the returned tensors. Default float32; float16 and "
            "bfloat16 are rounded once from float32 (round to nearest even)."
        ),
    ] = DType.FLOAT32
    layout: Annotated[
        Layout,
        Field(
            description="Whose tensor names, shapes, fan rules and defaults apply: torch "
            "(default), keras or jax (Flax)."
        ),
    ] = Layout.TORCH
    algorithm: Annotated[
        Algorithm,
        Field(
            description="The named stream algorithm. Default blocks-v1 (any element range "
            "without its prefix); numpy-legacy reproduces numpy.random.seed + RandomState; "
            "torch-cpu reproduces torch.manual_seed(seed) then building the torch modules "
            "(layout torch), layer after layer, then re-initialising in state_dict order each "
            "tensor whose scheme the request sets (raw tensors: torch.empty then the scheme's "
            "torch.nn.init call); jax-threefry reproduces jax.random and Flax init (jax "
            "0.10.2, float32, jax.* and flax.default schemes). Both state each tensor's "
            "exactness (exact, or approximate with max_ulp)."
        ),
    ] = Algorithm.BLOCKS_V1


MAX_SHARDS = 1 << 20


class Shard(Strict):
    """One piece of a tensor along one dimension, the sizes ``torch.chunk`` gives."""

    dim: Annotated[Int, Field(description="the dimension to split (negative counts from the end)")]
    index: Annotated[StrictInt, Field(ge=0, description="which piece, 0..count-1"), INTEGRAL]
    count: Annotated[
        StrictInt,
        Field(
            ge=1,
            le=MAX_SHARDS,
            description="how many pieces; piece i is [i*c, min((i+1)*c, n)) with "
            "c = ceil(n/count), empty when i*c >= n",
        ),
        INTEGRAL,
    ]


SLICE_DESCRIPTION = (
    "Only this part of the returned tensor: numpy basic slicing with step 1, one start:stop "
    "per dimension (omitted bounds are the ends, negative bounds count from the end), e.g. "
    "'0:1024, 2048:'. The response holds one tensor (the `tensor` query parameter, default "
    "the first) and is byte-identical to slicing the whole tensor."
)
SHARD_DESCRIPTION = (
    "Only piece `index` of `count` along `dim` of the returned tensor (torch.chunk sizes, "
    "padded with empty pieces up to count, as DTensor's Shard). Not with `slice`."
)
# The grammar is said in the schema only: the core's parser reports what is wrong in words.
SLICE_SCHEMA: dict[str, Any] = {"pattern": SLICE_PATTERN}
SliceText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=400,
        description=SLICE_DESCRIPTION,
        json_schema_extra=SLICE_SCHEMA,
    ),
]


class WeightsRequest(_Common):
    """One layer's tensors."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "layer": {"kind": "dense", "in_features": 784, "out_features": 256},
                    "scheme": "he_normal",
                    "bias_scheme": "zeros",
                    "seed": 42,
                }
            ],
            "not": {
                "anyOf": [
                    SLICE_AND_SHARD,
                    LEGACY_SEED_TOO_LARGE,
                    JAX_SEED_TOO_LARGE,
                    JAX_NOT_FLOAT32,
                    TORCH_CPU_NOT_TORCH_LAYOUT,
                ]
            },
        },
    )
    layer: Annotated[
        Layer,
        _said(
            "The layer: its kind and its fields, in torch's names or the layout framework's "
            "(each kind's schema lists them)."
        ),
    ]
    scheme: SchemeField = None
    bias_scheme: BiasSchemeField = None
    role_schemes: RoleSchemes = None
    slice: Annotated[SliceText | None, _said(SLICE_DESCRIPTION)] = None
    shard: Annotated[Shard | None, Field(description=SHARD_DESCRIPTION)] = None


def _layer_name(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise PydanticCustomError(
            "name_rule",
            "{problem}: expected {rule}.",
            {"problem": problem.capitalize(), "rule": NAME_RULE},
        )
    return value


_PART = r"(?:\.{0,2}[A-Za-z0-9_\-][A-Za-z0-9_.\-]*|\.{3,}[A-Za-z0-9_.\-]*)"
LayerName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        pattern=NAME_PATTERN,
        description=f"The layer's name: {NAME_RULE}. Its tensors are named <name>.weight, "
        "<name>.bias...; each full name obeys the same rule.",
        # The whole rule as a pattern, for the schema: parts between slashes that are not
        # empty, '.' or '..' (the alphabet pattern above is what validation reports).
        json_schema_extra={"pattern": rf"^{_PART}(?:/{_PART})*$"},
    ),
    AfterValidator(_layer_name),
]


LAYER_ROLE_DESCRIPTION = (
    "The role of this layer's plain weight tensors (e.g. readout for a classifier head), so "
    "role_schemes and recipes find them. Default: the kind's own roles (weight for a dense "
    "or conv layer)."
)


class ModelLayer(Strict):
    name: LayerName
    layer: Annotated[
        Layer,
        _said(
            "The layer: its kind and its fields, in torch's names or the layout framework's "
            "(each kind's schema lists them)."
        ),
    ]
    scheme: Annotated[
        SchemeSpec,
        Field(
            description="This layer's weight-like tensors (a norm layer: its scale). "
            "Default (null): the request's scheme."
        ),
    ] = None
    bias_scheme: Annotated[
        SchemeSpec,
        Field(
            description="This layer's biases (a norm layer: its shift). Default (null): "
            "the request's bias_scheme."
        ),
    ] = None
    role_schemes: RoleSchemes = None
    role: Annotated[WeightRole | None, Field(description=LAYER_ROLE_DESCRIPTION)] = None


class Mlp(Strict):
    """The textbook multi-layer perceptron: W_l (n_l, n_{l-1}) and b_l (n_l, 1) under the torch
    layout, W_l (n_{l-1}, n_l) and b_l (n_l,) under keras and jax; biases default to zeros."""

    sizes: Annotated[
        list[PositiveInt],
        Field(
            min_length=2,
            max_length=1001,
            description="The widths n_0 (inputs) .. n_L (outputs): one dense layer between "
            "each two.",
        ),
    ]


ShardPattern = Annotated[str, Field(min_length=1, max_length=200)]
MAX_FUSED = 64


class FusedDim(Strict):
    """A fused dimension (several tensors side by side, e.g. GPT-2's c_attn: Q, K, V along
    dim 1): split it into ``fused`` equal parts, take this rank's piece of each, concatenate
    (Megatron-style)."""

    dim: Annotated[Int, Field(description="the fused dimension (negative counts from the end)")]
    fused: Annotated[
        StrictInt, Field(ge=1, le=MAX_FUSED, description="how many equal parts it holds"), INTEGRAL
    ]


class ShardPlan(Strict):
    """Tensor parallelism: which dimension of each tensor this rank gets piece ``index`` of."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"index": 0, "count": 8, "dims": {"*.q_proj.weight": 0, "*.o_proj.weight": 1}}
            ]
        },
    )
    index: Annotated[StrictInt, Field(ge=0, description="this rank, 0..count-1"), INTEGRAL]
    count: Annotated[StrictInt, Field(ge=1, le=MAX_SHARDS, description="ranks"), INTEGRAL]
    dims: Annotated[
        dict[ShardPattern, Int | FusedDim],
        Field(
            max_length=1000,
            description="shell-style pattern on tensor names (fnmatch: *, ?, [seq]) -> the "
            'dimension to split, or {"dim": d, "fused": k} for a tensor holding k tensors side '
            "by side along d (each part is split, the pieces concatenated; a plain split of a "
            "tensor an architecture marks fused is refused); the first matching pattern wins, "
            "unmatched tensors come whole",
            json_schema_extra={"propertyNames": {"minLength": 1, "maxLength": 200, **TEXT}},
        ),
    ]


TENSOR_ROLE_DESCRIPTION = (
    "The tensor's role. Default: inferred from its name and rank by the table in the README "
    '("Shape maps"); a tensor the table cannot decide is a 422 that names it.'
)


class MapTensor(Strict):
    """One tensor of a shape map in full: its shape, and optionally role, scheme and fans."""

    shape: Annotated[Dims, Field(description="The tensor's shape ([] for a scalar).")]
    role: Annotated[Role | None, Field(description=TENSOR_ROLE_DESCRIPTION)] = None
    scheme: Annotated[
        SchemeSpec,
        Field(
            description="This tensor's own scheme (its bias_scheme, for a bias or a norm "
            "shift); it comes before role_schemes, scheme and bias_scheme of the request. "
            "Default (null): the request's choices."
        ),
    ] = None
    fan_in: Annotated[
        Fan | None, Field(description="Overrides the fan_in of the layout's fan rule.")
    ] = None
    fan_out: Annotated[
        Fan | None, Field(description="Overrides the fan_out of the layout's fan rule.")
    ] = None


TENSORS_DESCRIPTION = (
    "A shape map: tensor name -> shape, as {k: list(v.shape) for k, v in "
    'model.state_dict().items()} prints it, or -> {"shape": [...], "role": ..., "scheme": '
    '..., "fan_in": ..., "fan_out": ...}. Tensors come back under the same names, in the '
    "map's order (JSON object order; a repeated name keeps its last value). Roles are inferred "
    'from the names and ranks (README, "Shape maps"); fans follow the layout\'s rule on the '
    "shape, and a bias takes the fans of its sibling weight. Each tensor counts as one layer "
    "toward WEIGHTINIT_MAX_LAYERS."
)


def _tensor_tag(value: object) -> str:
    """An object is the full form; anything else must be a shape (one error, not a union's)."""
    return "MapTensor" if isinstance(value, dict | MapTensor) else "Shape"


TensorName = Annotated[str, AfterValidator(_layer_name)]
TensorValue = Annotated[
    Annotated[Dims, Tag("Shape")] | Annotated[MapTensor, Tag("MapTensor")],
    Discriminator(_tensor_tag),
]
TensorsField = Annotated[
    dict[TensorName, TensorValue] | None,
    Field(
        description=TENSORS_DESCRIPTION,
        json_schema_extra={
            "minProperties": 1,
            "propertyNames": {
                "minLength": 1,
                "maxLength": MAX_NAME_LENGTH,
                "pattern": rf"^{_PART}(?:/{_PART})*$",
            },
        },
    ),
]


ArchitectureName = StrEnum("ArchitectureName", {n: n for n in ARCHITECTURES})  # type: ignore[misc]
# Every documented class of every family; which belong to which family is the core's rule.
ArchitectureClass = StrEnum(  # type: ignore[misc]
    "ArchitectureClass", {c: c for a in ARCHITECTURES.values() for c in a.classes}
)
ARCHITECTURE_DESCRIPTION = (
    'A whole architecture by config (README, "Architectures by config"): every tensor of one '
    f"class, with its names, shapes and torch layout (transformers {TRANSFORMERS_VERSION}'s "
    "save_pretrained tensor list; torchvision's state_dict for resnet), roles and the family's "
    "default init. Default classes: "
    + ", ".join(f"{a.name} {a.default_class}" for a in ARCHITECTURES.values())
    + ". Layout torch only."
)
CONFIG_DESCRIPTION = (
    "The family's config, in its Hugging Face config.json field names (resnet: torchvision's "
    "ResNet arguments); omitted fields take the config class's defaults: "
    + "; ".join(
        f"{a.name}: "
        + ", ".join(
            f"{k}={'null' if f.default is None else f.default}" for k, f in a.fields.items()
        )
        for a in ARCHITECTURES.values()
    )
    + ". Fields that change no tensor (dropouts, eps, activation, token ids...) are accepted and "
    "ignored; an unknown field is a 422 with a suggestion."
)
CLASS_DESCRIPTION = (
    "The class whose tensors are returned (default: the family's first): "
    + "; ".join(f"{a.name}: {', '.join(a.classes)}" for a in ARCHITECTURES.values())
)


def _exactly_one(*fields: str, also: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """JSON Schema for "exactly one of ``fields``" (null is absent): no two, and not none;
    and none of ``also`` (other rules said with "not", such as numpy-legacy's 32-bit seeds).

    Said with "not" rather than a top-level oneOf, which generic client generators split into
    one model per alternative.
    """
    both = [
        {
            "required": [a, b],
            "properties": {a: {"not": {"type": "null"}}, b: {"not": {"type": "null"}}},
        }
        for i, a in enumerate(fields)
        for b in fields[i + 1 :]
    ]
    none = {"properties": {f: {"type": "null"} for f in fields}}
    return {"not": {"anyOf": [*both, none, *also]}}


class ModelRequest(_Common):
    """Named layers (``layers``), the ``mlp`` shorthand, a shape map (``tensors``) or an
    ``architecture`` by config; one only."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mlp": {"sizes": [784, 256, 10]},
                    "scheme": "he",
                    "bias_scheme": "zeros",
                    "seed": 3,
                },
                {
                    "tensors": {
                        "embed.weight": [1000, 64],
                        "norm.weight": [64],
                        "norm.bias": [64],
                        "head.weight": [10, 64],
                        "head.bias": {"shape": [10], "scheme": "zeros"},
                    },
                    "scheme": "glorot_uniform",
                    "seed": 3,
                },
            ],
            **_exactly_one(
                "layers",
                "mlp",
                "tensors",
                "architecture",
                also=(
                    LEGACY_SEED_TOO_LARGE,
                    JAX_SEED_TOO_LARGE,
                    JAX_NOT_FLOAT32,
                    TORCH_CPU_NOT_TORCH_LAYOUT,
                    RECIPE_AND_SCHEME,
                ),
            ),
        },
    )
    layers: Annotated[
        list[ModelLayer] | None,
        Field(
            description="Named layers, in order; tensors are named <name>.<tensor>.",
            json_schema_extra={"minItems": 1},
        ),
    ] = None
    mlp: Annotated[
        Mlp | None,
        _said("The textbook multi-layer perceptron's shorthand: tensors W1, b1, W2, b2..."),
    ] = None
    tensors: TensorsField = None
    architecture: Annotated[
        ArchitectureName | None, Field(description=ARCHITECTURE_DESCRIPTION)
    ] = None
    config: Annotated[
        dict[str, Any] | None, Field(description=CONFIG_DESCRIPTION, max_length=200)
    ] = None
    class_: Annotated[
        ArchitectureClass | None, Field(alias="class", description=CLASS_DESCRIPTION)
    ] = None
    scheme: SchemeField = None
    bias_scheme: BiasSchemeField = None
    role_schemes: RoleSchemes = None
    recipe: RecipeField = None
    shard: Annotated[
        ShardPlan | None,
        Field(description="a tensor-parallel shard plan: this rank's pieces only"),
    ] = None
