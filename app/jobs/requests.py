"""Request models: the public contract of every operation, rendered into openapi.json.

Fields mirror torch's argument names. Unknown fields are rejected (``extra="forbid"``);
integers and booleans are strict (``"12"`` or ``true`` for an integer is a 422), except that a
number with no fractional part (``12.0``, ``1e3``) is the integer JSON Schema says it is.
Semantics that need the core (groups dividing channels, scheme parameters, fans) are validated
by the core, whose typed errors become 422s naming the field; where a JSON Schema keyword can
say the same rule (exactly one of ``layers``/``mlp``, a conv's kernel rank, strings that are
text), the schema says it too (``json_schema_extra``), so a schema-valid body is accepted.
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
    Field,
    StrictBool,
    StrictInt,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from app.core.errors import nearest_name
from app.core.legacy import LEGACY_MAX_SEED
from app.core.regions import SLICE_PATTERN
from app.core.schemes import all_names
from app.core.streams import MAX_SEED
from app.core.types import Algorithm, DType, Layout

from .names import MAX_NAME_LENGTH, NAME_PATTERN, NAME_RULE, name_problem
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


class DenseLayer(Strict):
    """torch.nn.Linear / keras Dense / flax Dense."""

    kind: Literal["dense"]
    in_features: PositiveInt
    out_features: PositiveInt
    bias: StrictBool = True


KernelSize = PositiveInt | Annotated[list[PositiveInt], Field(min_length=1, max_length=3)]


# A kernel_size whose list form has exactly as many entries as the conv has spatial dims: said
# in the schema (the core checks the same rule with its own message).
Kernel1d = Annotated[KernelSize, Field(json_schema_extra={"minItems": 1, "maxItems": 1})]
Kernel2d = Annotated[KernelSize, Field(json_schema_extra={"minItems": 2, "maxItems": 2})]
Kernel3d = Annotated[KernelSize, Field(json_schema_extra={"minItems": 3, "maxItems": 3})]


class _Conv(Strict):
    in_channels: PositiveInt
    out_channels: PositiveInt
    kernel_size: KernelSize
    groups: PositiveInt = 1
    bias: StrictBool = True


class Conv1dLayer(_Conv):
    kind: Literal["conv1d"]
    kernel_size: Kernel1d


class Conv2dLayer(_Conv):
    kind: Literal["conv2d"]
    kernel_size: Kernel2d


class Conv3dLayer(_Conv):
    kind: Literal["conv3d"]
    kernel_size: Kernel3d


class ConvTranspose1dLayer(_Conv):
    kind: Literal["conv_transpose1d"]
    kernel_size: Kernel1d


class ConvTranspose2dLayer(_Conv):
    kind: Literal["conv_transpose2d"]
    kernel_size: Kernel2d


class ConvTranspose3dLayer(_Conv):
    kind: Literal["conv_transpose3d"]
    kernel_size: Kernel3d


class EmbeddingLayer(Strict):
    kind: Literal["embedding"]
    num_embeddings: PositiveInt
    embedding_dim: PositiveInt
    padding_idx: Int | None = None


class _Recurrent(Strict):
    input_size: PositiveInt
    hidden_size: PositiveInt
    num_layers: PositiveInt = 1
    bias: StrictBool = True
    bidirectional: StrictBool = False


class RnnLayer(_Recurrent):
    kind: Literal["rnn"]


class LstmLayer(_Recurrent):
    kind: Literal["lstm"]


class GruLayer(_Recurrent):
    kind: Literal["gru"]


class LayerNormLayer(Strict):
    kind: Literal["layer_norm"]
    normalized_shape: PositiveInt | Annotated[list[PositiveInt], Field(min_length=1, max_length=8)]
    elementwise_affine: StrictBool = True
    bias: StrictBool = True


class BatchNormLayer(Strict):
    kind: Literal["batch_norm"]
    num_features: PositiveInt
    affine: StrictBool = True
    track_running_stats: StrictBool = True


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

    kind: Literal["tensor"]
    shape: Dims
    in_axes: Axes | None = None
    out_axes: Axes | None = None
    batch_axes: Axes | None = None
    fan_in: Fan | None = None
    fan_out: Fan | None = None


Layer = Annotated[
    DenseLayer
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
    | LayerNormLayer
    | BatchNormLayer
    | TensorLayer,
    Field(discriminator="kind"),
]


def layer_fields(layer: BaseModel) -> tuple[str, dict[str, Any]]:
    """(kind, fields) for the core's make_layer, without unset optional fields."""
    data = layer.model_dump(exclude_none=True)
    return str(data.pop("kind")), data


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
    name: SchemeName


def _scheme(value: object, handler: Any) -> object:
    if value is None:
        return None
    name = (
        value if isinstance(value, str) else value.get("name") if isinstance(value, dict) else None
    )
    if not isinstance(value, str | dict):
        raise PydanticCustomError(
            "scheme_type", "a scheme is a name or an object with 'name' and its parameters"
        )
    if not isinstance(name, str):
        raise PydanticCustomError("scheme_name", "the scheme object needs a string 'name'")
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
SLICE_AND_SHARD: dict[str, Any] = {  # a shard is a slice along one dimension: one or the other
    "required": ["slice", "shard"],
    "properties": {"slice": {"not": {"type": "null"}}, "shard": {"not": {"type": "null"}}},
}


class _Common(Strict):
    seed: Seed
    dtype: DType = DType.FLOAT32
    layout: Layout = Layout.TORCH
    algorithm: Algorithm = Algorithm.BLOCKS_V1


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
            "not": {"anyOf": [SLICE_AND_SHARD, LEGACY_SEED_TOO_LARGE]},
        },
    )
    layer: Layer
    scheme: SchemeSpec = None
    bias_scheme: SchemeSpec = None
    slice: SliceText | None = None
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


class ModelLayer(Strict):
    name: LayerName
    layer: Layer
    scheme: SchemeSpec = None
    bias_scheme: SchemeSpec = None


class Mlp(Strict):
    """The textbook multi-layer perceptron: W_l (n_l, n_{l-1}) and b_l (n_l, 1)."""

    sizes: Annotated[list[PositiveInt], Field(min_length=2, max_length=1001)]


ShardPattern = Annotated[str, Field(min_length=1, max_length=200)]


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
        dict[ShardPattern, Int],
        Field(
            max_length=1000,
            description="shell-style pattern on tensor names (fnmatch: *, ?, [seq]) -> the "
            "dimension to split; the first matching pattern wins, unmatched tensors come whole",
            json_schema_extra={"propertyNames": {"minLength": 1, "maxLength": 200, **TEXT}},
        ),
    ]


class ModelRequest(_Common):
    """Many named layers (``layers``) or the ``mlp`` shorthand; exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mlp": {"sizes": [784, 256, 10]},
                    "scheme": "he",
                    "bias_scheme": "zeros",
                    "seed": 3,
                }
            ],
            # "exactly one of" (null is absent): neither both nor none. Said with "not" rather
            # than a top-level oneOf, which generic client generators split into two models;
            # and numpy-legacy's 32-bit seeds.
            "not": {
                "anyOf": [
                    {
                        "required": ["layers", "mlp"],
                        "properties": {
                            "layers": {"not": {"type": "null"}},
                            "mlp": {"not": {"type": "null"}},
                        },
                    },
                    {"properties": {"layers": {"type": "null"}, "mlp": {"type": "null"}}},
                    LEGACY_SEED_TOO_LARGE,
                ]
            },
        },
    )
    layers: Annotated[list[ModelLayer] | None, Field(json_schema_extra={"minItems": 1})] = None
    mlp: Mlp | None = None
    scheme: SchemeSpec = None
    bias_scheme: SchemeSpec = None
    shard: Annotated[
        ShardPlan | None,
        Field(description="a tensor-parallel shard plan: this rank's pieces only"),
    ] = None
