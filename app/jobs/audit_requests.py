"""The body of ``POST /v1/audit``: what a model should be (a request or a manifest) and what it
is (per-tensor statistics the client computed). Unknown fields are a 422 naming the nearest."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Discriminator, Field, StrictInt, Tag

from app.core.audit import DEFAULT_Z

from .names import MAX_NAME_LENGTH, NAME_PATTERN
from .requests import INTEGRAL, TEXT, TEXT_PATTERN, Int, ModelRequest, Strict, WeightsRequest

Finite = Annotated[float, Field(allow_inf_nan=False)]
Dim = Annotated[StrictInt, Field(ge=0), INTEGRAL]  # the schema states the minimum
# The service's one name alphabet (app/jobs/names.py): what a model's tensors are named.
ObservedName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)]
# A resolved scheme's parameter: a name, a number, a flag, or a list of numbers (axes).
Text = Annotated[str, Field(max_length=200, pattern=TEXT_PATTERN)]
SchemeValue = Text | Finite | bool | None | Annotated[list[Finite], Field(max_length=32)]
# A vocabulary word (a dtype, a role, a law's kind): letters, digits, _ . -
Word = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class TensorStats(Strict):
    """One tensor's statistics, computed by the client in float64 (population std)."""

    shape: Annotated[list[Dim], Field(max_length=32, description="the tensor's shape")]
    dtype: Annotated[
        Word,
        Field(description="float32, float64, float16, bfloat16... (sets the rounding tolerance)"),
    ]
    numel: Annotated[Dim, Field(description="elements, the product of shape")]
    mean: Annotated[Finite | None, Field(description="required when numel > 0")] = None
    std: Annotated[
        Finite | None, Field(ge=0, description="population std (ddof=0); required when numel > 0")
    ] = None
    min: Annotated[Finite | None, Field(description="required when numel > 0")] = None
    max: Annotated[Finite | None, Field(description="required when numel > 0")] = None


OptFloat = Finite | None


class ManifestEntry(Strict):
    """One tensor of an init manifest (README, "Audit an initialisation")."""

    name: ObservedName
    shape: list[Dim]
    full_shape: list[Dim] | None = None
    slice: Annotated[str, Field(max_length=400, pattern=r"^[0-9:,\- ]*$")] | None = None
    dtype: Word
    role: Word
    scheme: Annotated[
        dict[str, SchemeValue],
        Field(json_schema_extra={"propertyNames": TEXT}, description="the resolved scheme"),
    ]
    fan_in: OptFloat = None
    fan_out: OptFloat = None
    law: Word
    mean: OptFloat = None
    std: Annotated[Finite | None, Field(ge=0)] = None
    kurtosis: OptFloat = None
    low: OptFloat = None
    high: OptFloat = None
    bound: OptFloat = None
    sigma: OptFloat = None
    truncation: list[Finite] | None = None
    rule: Annotated[
        str | None,
        Field(
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f-\x9f]*$",
            description="the recipe rule that chose the scheme, when one did",
        ),
    ] = None


class Manifest(Strict):
    """An init manifest, as ``POST /v1/models/manifest`` answers it or a safetensors file's
    ``__metadata__["weightinit.manifest"]`` holds it."""

    format: Literal["weightinit.manifest/1"] = "weightinit.manifest/1"
    seed: Int | Text | None = None
    dtype: Word | None = None
    layout: Word | None = None
    algorithm: Word | None = None
    tensors: list[ManifestEntry]


def _request_tag(value: object) -> str:
    """A body with ``layer`` is a /v1/weights body; any other, a /v1/models body."""
    if isinstance(value, dict):
        return "weights" if "layer" in value else "models"
    return "weights" if isinstance(value, WeightsRequest) else "models"


AuditedRequest = Annotated[
    Annotated[WeightsRequest, Tag("weights")] | Annotated[ModelRequest, Tag("models")],
    Discriminator(_request_tag),
]


class AuditRequest(Strict):
    """What the tensors should be (``request`` or ``manifest``, one of them) and what they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "not": {
                "anyOf": [
                    {
                        "required": ["request", "manifest"],
                        "properties": {
                            "request": {"not": {"type": "null"}},
                            "manifest": {"not": {"type": "null"}},
                        },
                    },
                    {"properties": {"request": {"type": "null"}, "manifest": {"type": "null"}}},
                ]
            }
        },
    )
    request: Annotated[
        AuditedRequest | None,
        Field(
            description="a POST /v1/weights body (it has 'layer') or a POST /v1/models body: "
            "the service plans it (nothing is generated) for the expected statistics"
        ),
    ] = None
    manifest: Annotated[
        Manifest | None,
        Field(description="an init manifest (e.g. from a safetensors file's __metadata__)"),
    ] = None
    tensors: Annotated[
        dict[ObservedName, TensorStats],
        Field(
            description="name -> the statistics of the tensor as it is; at most "
            "WEIGHTINIT_MAX_LAYERS tensors",
            json_schema_extra={
                "propertyNames": {
                    "minLength": 1,
                    "maxLength": MAX_NAME_LENGTH,
                    "pattern": NAME_PATTERN,
                }
            },
        ),
    ]
    z: Annotated[
        float,
        Field(
            ge=1,
            le=50,
            description="standard errors a statistic may stray (default 6: a correct model "
            "never fails)",
        ),
    ] = DEFAULT_Z
