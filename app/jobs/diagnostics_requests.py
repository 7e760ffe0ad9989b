"""The body of ``POST /v1/diagnostics``: a chain of layers (the ``mlp`` shorthand with an
activation, or named ``layers`` each with its activation), how it is initialised (the fields of
``POST /v1/models``), the probe batch, and optionally several schemes to compare and a muP
coordinate check. Validated here once; :mod:`app.jobs.diagnostics` turns it into a job."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictInt, WrapValidator
from pydantic_core import PydanticCustomError

from app.core.diagnostics import ACTIVATIONS
from app.core.errors import nearest_name

from .recipe_request import RecipeField
from .requests import (
    INTEGRAL,
    ArchitectureClass,
    BiasSchemeField,
    GivenScheme,
    ModelLayer,
    PositiveInt,
    RoleSchemes,
    SchemeField,
    Strict,
    _Common,
    _exactly_one,
)

_Activation = StrEnum("Activation", {n: n for n in ACTIVATIONS})  # type: ignore[misc]
_Activation.__doc__ = "An activation applied after a layer (identity: linear)."


# Other names of an activation, suggested (not accepted: one name per activation).
ACTIVATION_ALIASES = {
    "swish": "silu",
    "identity": "linear",
    "none": "linear",
    "hardtanh": "hard_tanh",
}


def _activation(value: object, handler: Any) -> object:
    """An unknown name is refused with the nearest valid one (not with the union's wording)."""
    names = value if isinstance(value, list) else [value]
    for name in names:
        if name is None:
            raise PydanticCustomError(
                "activation_required", "Give an activation's name here (linear for none), not null."
            )
        if isinstance(name, str) and name not in ACTIVATIONS:
            hint = ACTIVATION_ALIASES.get(name.lower()) or nearest_name(name, ACTIVATIONS)
            raise PydanticCustomError(
                "unknown_activation",
                "Unknown activation '{name}'.{hint} Valid activations: {valid}.",
                {
                    "name": name,
                    "hint": f" Did you mean {hint!r}?" if hint else "",
                    "valid": ", ".join(ACTIVATIONS),
                },
            )
    return handler(value)


Activation = Annotated[_Activation, WrapValidator(_activation)]

MAX_BATCH = 4096
DEFAULT_BATCH = 128
MAX_COMPARE = 8
MAX_WIDTHS = 8
MAX_STEPS = 50
DEFAULT_STEPS = 3
DEFAULT_LEARNING_RATE = 0.01
DEFAULT_OPTIMIZER: Literal["sgd", "adam"] = "adam"
MAX_DEPTH = 200
DEFAULT_SEQUENCE = 16  # positions of an attention or embedding chain's probe input
DEFAULT_SPATIAL = 32  # a conv chain's probe input: 32 per spatial axis

Finite = Annotated[float, Field(allow_inf_nan=False)]
# The architectures whose forward pass diagnostics runs (app.jobs.diagnostics_arch). The
# schema lists them; another name is still read, so that its 422 can name these.
SUPPORTED_ARCHITECTURES = ("gpt2", "llama", "bert", "vit")
ARCHITECTURE_DESCRIPTION = (
    "A residual network by config instead of a chain: gpt2, llama, bert or vit (others are "
    "a 422), initialised exactly as POST /v1/models initialises `architecture`, `config`, "
    "`class` with the same scheme or recipe and seed. Its forward pass (transformers 5.18.0, "
    "eval: GPT-2 Pre-LN, learned positions, fused c_attn, gelu_new, causal; Llama RMSNorm, "
    "rotary embeddings, SwiGLU, grouped-query attention, causal; BERT Post-LN, token type 0, "
    "bidirectional; ViT patch embeddings, Pre-LN, bidirectional) runs on seeded token ids "
    "(`input_shape`: [positions]; ViT: standard-normal images [channels, image_size, "
    "image_size]), the backward pass from a standard-normal gradient at the final hidden "
    "state (after the final norm, before the LM head, pooler or classifier). Reports each "
    "sublayer in `layers` (with its `block`) and, per block in `blocks`, Brock et al.'s "
    "residual-stream statistics. Recipe mup is applied (attention q k^T / head_dim); "
    "deepnet, fixup and t_fixup change the forward pass otherwise and are refused."
)


def _architecture_schema(schema: dict[str, Any]) -> None:
    """The schema names the supported architectures (the field itself reads any string)."""
    schema["anyOf"] = [
        {"type": "string", "enum": list(SUPPORTED_ARCHITECTURES)},
        {"type": "null"},
    ]


Positions = Annotated[
    PositiveInt | Annotated[list[PositiveInt], Field(min_length=1, max_length=3)], Field()
]
Padding = Annotated[
    Annotated[StrictInt, Field(ge=0), INTEGRAL]
    | Annotated[
        list[Annotated[StrictInt, Field(ge=0), INTEGRAL]], Field(min_length=1, max_length=3)
    ],
    Field(),
]
ACTIVATION_PARAM_DESCRIPTION = (
    "The activation's parameter: leaky_relu's negative_slope (default 0.01), elu's alpha "
    "(default 1.0); no other activation takes one. Default null: the activation's default."
)


class DiagnosticsMlp(Strict):
    """The textbook MLP (tensors W1, b1, W2, b2... exactly as POST /v1/models' ``mlp``) with
    an activation after each dense layer."""

    sizes: Annotated[
        list[PositiveInt],
        Field(
            min_length=2,
            max_length=MAX_DEPTH + 1,
            description="The widths n_0 (inputs) .. n_L (outputs): one dense layer between each "
            "two.",
        ),
    ]
    activation: Annotated[
        _Activation | Annotated[list[_Activation], Field(min_length=1, max_length=MAX_DEPTH)],
        WrapValidator(_activation),
        Field(
            description="One activation for every layer but the last, which stays linear "
            "(the readout), or a list with one per layer, the last included. Default relu."
        ),
    ] = _Activation("relu")
    activation_param: Annotated[Finite | None, Field(description=ACTIVATION_PARAM_DESCRIPTION)] = (
        None
    )


class DiagnosticsLayer(ModelLayer):
    """One layer of a chain: a POST /v1/models layer (dense, conv1d, conv2d, embedding,
    multihead_attention, layer_norm, rms_norm, batch_norm, group_norm) with what its forward
    pass needs beyond its tensors."""

    activation: Annotated[
        Activation, Field(description="Applied to this layer's output. Default linear.")
    ] = _Activation("linear")
    activation_param: Annotated[Finite | None, Field(description=ACTIVATION_PARAM_DESCRIPTION)] = (
        None
    )
    stride: Annotated[
        Positions,
        Field(description="A conv's stride (one per spatial dim, or one for all). Default 1."),
    ] = 1
    padding: Annotated[
        Padding,
        Field(description="A conv's zero padding on each side (per dim, or one). Default 0."),
    ] = 0
    dilation: Annotated[Positions, Field(description="A conv's dilation. Default 1.")] = 1
    eps: Annotated[
        Finite | None,
        Field(
            gt=0,
            description="A norm's epsilon. Default: torch's (1e-5; rms_norm: float32's "
            "machine epsilon, 2**-23, as torch.nn.RMSNorm(eps=None)).",
        ),
    ] = None


COMPARE_DESCRIPTION = (
    "Run the same chain once per scheme listed (names or scheme objects, e.g. "
    '["zeros", {"name": "random", "scale": 0.01}, "glorot_uniform", "he_normal"]): each replaces '
    "`scheme` for the weight-like tensors; biases keep `bias_scheme`. Not with `recipe`. "
    "Default null: one run with `scheme`."
)
WIDTHS_DESCRIPTION = (
    "muP's coordinate check (microsoft/mup coord_check): for each width w the mlp's hidden "
    "sizes become w (n_0 and n_L stay), built as layers `input` (role embedding: muP's input "
    "weights), `hidden1`.. (role mlp_in) and `readout` (role readout), initialised by the "
    "request's scheme or recipe (recipe mup: d_model = w, base_config.d_model = the first "
    "width and tie_word_embeddings false unless given; its readout multiplier and "
    "learning-rate scales are applied), then "
    "trained for `steps` full-batch steps on the probe batch towards seeded standard-normal "
    "targets (loss 0.5 * mean ||y - t||^2). Reports each layer's mean |activation| per width "
    "and step (step 0: at init), in `coordinate_check`; `runs` is then empty. Only with `mlp`. "
    "Default null: no coordinate check."
)


class DiagnosticsRequest(_Common):
    """A chain (``mlp`` or ``layers``) or an ``architecture`` (gpt2, llama, bert, vit),
    initialised like POST /v1/models, pushed forward and backward on a seeded probe batch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            **_exactly_one("mlp", "layers", "architecture"),
            "examples": [
                {
                    "mlp": {"sizes": [256] * 21, "activation": "relu"},
                    "compare": [
                        "zeros",
                        {"name": "random", "scale": 0.01},
                        "glorot_uniform",
                        "he_normal",
                    ],
                    "seed": 0,
                },
                {
                    "architecture": "gpt2",
                    "config": {"n_layer": 4, "n_embd": 64, "n_head": 4, "vocab_size": 256},
                    "recipe": "hf.default",
                    "input_shape": [16],
                    "batch": 8,
                    "seed": 0,
                },
                {
                    "mlp": {"sizes": [32, 64, 64, 10], "activation": "relu"},
                    "scheme": "lecun_normal",
                    "widths": [64, 256, 1024],
                    "steps": 3,
                    "optimizer": "adam",
                    "learning_rate": 0.01,
                    "seed": 0,
                },
            ],
        },
    )
    mlp: Annotated[
        DiagnosticsMlp | None,
        Field(description="The MLP shorthand with activations. Give exactly one of mlp, layers."),
    ] = None
    layers: Annotated[
        list[DiagnosticsLayer] | None,
        Field(
            description="Named layers forming a chain, each with its activation; tensors are "
            "named as in POST /v1/models.",
            min_length=1,
            max_length=MAX_DEPTH,
        ),
    ] = None
    architecture: Annotated[
        str | None,
        Field(
            max_length=64,
            description=ARCHITECTURE_DESCRIPTION,
            json_schema_extra=_architecture_schema,
        ),
    ] = None
    config: Annotated[
        dict[str, Any] | None,
        Field(
            max_length=200,
            description="The architecture's config, as in POST /v1/models (Hugging Face "
            "config.json field names, transformers 5.18.0 defaults), plus what the forward "
            "pass reads: GPT-2's layer_norm_epsilon, activation_function (gelu_new), "
            "scale_attn_weights; Llama's rms_norm_eps, hidden_act (silu), rope_theta.",
        ),
    ] = None
    class_: Annotated[
        ArchitectureClass | None,
        Field(
            alias="class",
            description="The class whose tensors are initialised, as in POST /v1/models "
            "(default: the family's first); its LM head or classifier is not run.",
        ),
    ] = None
    input_shape: Annotated[
        list[PositiveInt] | None,
        Field(
            min_length=1,
            max_length=4,
            description="One probe sample's shape, without the batch axis: (features) for a "
            "dense chain, (channels, *spatial) for a conv chain, (positions, embed_dim) for "
            "attention, (positions) of token ids for an embedding or an architecture. "
            f"Default: the first layer's inputs, with {DEFAULT_SPATIAL} per spatial axis and "
            f"{DEFAULT_SEQUENCE} positions.",
        ),
    ] = None
    scheme: SchemeField = None
    bias_scheme: BiasSchemeField = None
    role_schemes: RoleSchemes = None
    recipe: RecipeField = None
    batch: Annotated[
        StrictInt,
        Field(
            ge=1,
            le=MAX_BATCH,
            description="Probe inputs in the batch: standard normal (token ids for an "
            f"embedding), drawn from the seed. Default {DEFAULT_BATCH}.",
        ),
        INTEGRAL,
    ] = DEFAULT_BATCH
    compare: Annotated[
        list[GivenScheme] | None,
        Field(min_length=1, max_length=MAX_COMPARE, description=COMPARE_DESCRIPTION),
    ] = None
    widths: Annotated[
        list[PositiveInt] | None,
        Field(min_length=2, max_length=MAX_WIDTHS, description=WIDTHS_DESCRIPTION),
    ] = None
    steps: Annotated[
        StrictInt,
        Field(
            ge=2,
            le=MAX_STEPS,
            description=f"Training steps of the coordinate check. Default {DEFAULT_STEPS}.",
        ),
        INTEGRAL,
    ] = DEFAULT_STEPS
    optimizer: Annotated[
        Literal["sgd", "adam"],
        Field(
            description="The coordinate check's optimizer: sgd or adam (torch.optim.Adam's "
            f"defaults: betas 0.9, 0.999, eps 1e-8). Default {DEFAULT_OPTIMIZER}."
        ),
    ] = DEFAULT_OPTIMIZER
    learning_rate: Annotated[
        Finite,
        Field(
            gt=0,
            le=100,
            description="The coordinate check's learning rate (times each tensor's muP lr "
            f"scale under recipe mup). Default {DEFAULT_LEARNING_RATE}.",
        ),
    ] = DEFAULT_LEARNING_RATE
