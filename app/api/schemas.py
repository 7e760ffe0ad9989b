"""Response models and query enums of the HTTP API (request models: app.jobs.requests)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.core.types import Algorithm, DType, Layout, Role
from app.jobs.requests import (
    ModelRequest,
    WeightsRequest,
    layer_fields,
    parse_seed,
    scheme_parts,
)

__all__ = ["ModelRequest", "WeightsRequest", "layer_fields", "parse_seed", "scheme_parts"]

# ---- responses ----------------------------------------------------------------------------------

OutDType = Literal["float32", "float64", "float16", "bfloat16", "int64"]


# The fields of the framework-exact algorithms (app/jobs/exactness.py), JSON and digests alike.
Exactness = Annotated[
    Literal["exact", "approximate"] | None,
    Field(
        description="framework-exact algorithms only (torch-cpu, jax-threefry): whether the "
        "values equal the framework's bit for bit, or within max_ulp; absent otherwise",
    ),
]
MaxUlp = Annotated[
    int | None,
    Field(
        description="exactness approximate: the largest distance from the framework's values, "
        "in units in the last place of the dtype; null when no bound holds (torch-cpu after "
        "a trunc_normal_ whose number of draws depends on its values)",
    ),
]


class TensorOut(BaseModel):
    name: str
    shape: list[int]
    dtype: OutDType
    role: Role = Field(description="the tensor's role, which decided its scheme")
    scheme: dict[str, Any] = Field(description="canonical name plus every resolved parameter")
    fan_in: float | None
    fan_out: float | None
    std: float | None = Field(description="std of the distribution sampled (after truncation)")
    bound: float | None = Field(description="half-width of a symmetric uniform, else null")
    sigma: float | None = Field(description="truncated schemes: the underlying normal's scale")
    truncation: list[float] | None = Field(description="truncated schemes: [low, high]")
    exactness: Exactness = None
    max_ulp: MaxUlp = None
    sha256: str = Field(description="of the little-endian C-order bytes")
    data: list[Any] | str | float | int = Field(
        description="flat row-major list (default), nested lists (json_layout=nested), "
        "or base64 of the raw bytes (encoding=base64)"
    )


class WeightsResponse(BaseModel):
    seed: int
    dtype: DType
    layout: Layout
    algorithm: Algorithm
    tensors: list[TensorOut]


class ParamOut(BaseModel):
    name: str
    type: Literal["number", "integer", "choice"]
    default: Any = None
    required: bool
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: list[str] | None = None


class SchemeOut(BaseModel):
    name: str
    aliases: list[str]
    summary: str
    formula: str
    reference: str
    framework: str | None
    uses_fans: bool
    random: bool
    params: list[ParamOut]


class GainOut(BaseModel):
    name: str
    rule: str
    param_name: str | None
    default_param: float | None
    value: float
    formula: str
    reference: str


class GainList(BaseModel):
    gains: list[GainOut]


class RecipeParamOut(BaseModel):
    name: str
    kind: str = Field(description="integer, number, boolean, string or widths (an object)")
    description: str
    default: Any = Field(description="null: optional, needed only where a rule reads it")
    choices: list[str]


class RecipeOut(BaseModel):
    name: str
    summary: str
    formula: str
    reference: str = Field(description="the codebase file and function the recipe follows")
    applies_to: str = Field(description="the architectures it is made for; which other models")
    architectures: list[str] = Field(
        description="the architectures (POST /v1/models 'architecture') it is made for"
    )
    changes_forward: bool = Field(
        description="true: the response's recipe object says what the forward pass must apply"
    )
    params: list[RecipeParamOut]


class RecipeList(BaseModel):
    recipes: list[RecipeOut]


class ConfigFieldOut(BaseModel):
    name: str
    kind: str
    default: Any
    choices: list[str]


class ArchitectureOut(BaseModel):
    name: str
    title: str
    default_class: str
    classes: list[str]
    config: list[ConfigFieldOut] = Field(description="the Hugging Face config fields it reads")
    ignored: list[str] = Field(description="config.json fields accepted and ignored")
    reference: str = Field(description="the library versions whose names and shapes it follows")
    recipes: list[str] = Field(description="the recipes made for it (each recipe's architectures)")


class ArchitectureList(BaseModel):
    architectures: list[ArchitectureOut]


class SchemeList(BaseModel):
    schemes: list[SchemeOut]
    recipes: list[RecipeOut] = Field(description="every recipe, as GET /v1/recipes lists it")
    architectures: list[ArchitectureOut] = Field(
        description="every architecture, as GET /v1/architectures lists it"
    )


class Health(BaseModel):
    status: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, str]] | None = None


FormatName = Literal["json", "npy", "npz", "safetensors"]
JsonLayout = Literal["flat", "nested"]
Encoding = Literal["numbers", "base64"]


class TensorDigest(BaseModel):
    name: str
    shape: list[int] = Field(description="shape of the returned tensor (the slice or shard)")
    full_shape: list[int] | None = Field(
        default=None, description="the whole tensor's shape, when a slice or shard was asked for"
    )
    slice: str | None = Field(default=None, description="the region returned, 'a:b,c:d'")
    dtype: OutDType
    role: Role = Field(description="the tensor's role, which decided its scheme")
    scheme: dict[str, Any] = Field(description="canonical name plus every resolved parameter")
    rule: str | None = Field(
        default=None, description="with a recipe: the rule of the recipe that chose the scheme"
    )
    exactness: Exactness = None
    max_ulp: MaxUlp = None
    sha256: str = Field(description="of the little-endian C-order bytes (as in every response)")
    block_elements: int | None = Field(
        default=None, description="elements per block digest (65536); the last may be shorter"
    )
    blocks: list[str] | None = Field(
        default=None,
        description="sha256 of each consecutive run of block_elements elements of those bytes",
    )


class DigestsResponse(BaseModel):
    seed: int
    dtype: DType
    layout: Layout
    algorithm: Algorithm
    recipe: dict[str, Any] | None = Field(
        default=None,
        description="with a recipe: the recipe resolved, its reference and what it reports, as "
        "in the JSON body",
    )
    tensors: list[TensorDigest]


# ---- audit --------------------------------------------------------------------------------------

Verdict = Literal["ok", "deviates", "missing", "unexpected", "shape_mismatch", "unchecked"]


class AuditCheck(BaseModel):
    statistic: Literal["std", "mean", "min", "max"]
    expected: float
    observed: float
    tolerance: float = Field(
        description="std: z·sigma·√((κ-1)/(4n)); mean: z·sigma/√n; bounds and exact laws: the "
        "dtype's rounding (each plus the dtype's rounding)"
    )
    passed: bool


class AuditTensor(BaseModel):
    name: str
    verdict: Verdict
    role: str | None = None
    scheme: dict[str, Any] | None = None
    law: str | None = None
    rule: str | None = Field(default=None, description="the recipe rule the manifest names")
    violated_rule: str | None = Field(
        default=None, description="verdict deviates: the recipe rule the tensor breaks"
    )
    expected: dict[str, Any] | None = Field(
        default=None, description="shape, dtype, law, mean, std, kurtosis, low, high"
    )
    observed: dict[str, Any] | None = Field(
        default=None, description="the statistics sent: shape, dtype, numel, mean, std, min, max"
    )
    checks: list[AuditCheck]
    message: str


class AuditSummary(BaseModel):
    tensors: int
    ok: int
    deviates: int
    missing: int
    unexpected: int
    shape_mismatch: int
    unchecked: int
    passed: bool = Field(description="nothing deviates, is missing, unexpected or mismatched")
    violated_rules: list[str]


class AuditResponse(BaseModel):
    z: float
    summary: AuditSummary
    tensors: list[AuditTensor]


# ---- POST /v1/diagnostics (app.jobs.diagnostics assembles the document) --------------------


class WeightHistogram(BaseModel):
    edges: list[float | None] = Field(description="33 bin edges of the main weight's values")
    counts: list[int] = Field(description="32 bin counts")


class PredictedStats(BaseModel):
    """The mean-field prediction of a dense or conv layer (null where none exists)."""

    preactivation_std: float | None
    activation_std: float | None
    activation_squared_mean: float | None
    gradient_std: float | None
    tolerance: float | None = Field(
        description="allowed |log(empirical / predicted)| of activation_squared_mean, derived "
        "from width, depth and batch"
    )
    preactivation_tolerance: float | None
    gradient_tolerance: float | None


class LayerDiagnostics(BaseModel):
    """One layer of one run; statistics are population (ddof 0) over all elements, null when
    not finite (then overflow is true)."""

    name: str
    depth: int
    kind: str
    activation: str
    fan_in: int | None
    preactivation_std: float | None
    activation_mean: float | None
    activation_std: float | None
    activation_squared_mean: float | None
    dead_fraction: float | None = Field(description="units with f'(h) = 0 on every sample")
    saturated_fraction: float | None = Field(
        description="elements in the activation's saturated region (tanh: |a| > 0.99); null "
        "for an activation without one"
    )
    gradient_std: float | None = Field(description="std of dL/d(pre-activation)")
    weight_std: float | None
    weight_std_theory: float | None
    symmetric: bool = Field(description="every unit identical on every sample")
    overflow: bool
    weight_histogram: WeightHistogram | None
    predicted: PredictedStats | None
    block: int | None = Field(
        default=None,
        description="an architecture's sublayer: the index of its block (absent for a chain; "
        "null for the embeddings and the final norm)",
    )


class BlockDiagnostics(BaseModel):
    """One residual block of an architecture (Brock et al. 2021's signal propagation plot):
    statistics of the residual stream at the block's output over the batch and positions,
    per channel, averaged over channels; population (ddof 0); null when not finite."""

    index: int
    name: str
    squared_mean: float | None = Field(description="average channel squared mean")
    variance: float | None = Field(description="average channel variance")
    attention_variance: float | None = Field(
        description="average channel variance of the attention branch's output"
    )
    mlp_variance: float | None = Field(
        description="average channel variance of the MLP branch's output"
    )
    gradient_std: float | None = Field(
        description="std of dL/d(residual stream) at the block's output"
    )


class RunTensorSha(BaseModel):
    name: str
    sha256: str


class DiagnosticsRun(BaseModel):
    label: str
    scheme: dict[str, Any] | None = None
    recipe: dict[str, Any] | None = None
    layers: list[LayerDiagnostics]
    blocks: list[BlockDiagnostics] | None = Field(
        default=None,
        description="an architecture's residual blocks, in order (absent for a chain)",
    )
    tensors: list[RunTensorSha] = Field(
        description="each tensor's sha256, as POST /v1/models reports it for the same fields"
    )


class CoordinateRowOut(BaseModel):
    width: int
    step: int
    layer: str
    l1: float | None = Field(description="mean |activation| of the layer's output")


class CoordinateCheck(BaseModel):
    optimizer: str
    learning_rate: float
    steps: int
    widths: list[int]
    targets: str
    models: list[dict[str, Any]] = Field(description="the POST /v1/models fields per width")
    rows: list[CoordinateRowOut]


class DiagnosticsCost(BaseModel):
    flops: int
    bytes: int


class DiagnosticsResponse(BaseModel):
    seed: int
    batch: int
    layout: Layout
    dtype: DType
    input_shape: list[int]
    input: str
    upstream: str
    model: dict[str, Any] = Field(
        description="the chain as resolved (activations included), or the architecture, "
        "class and config as resolved with the forward pass run"
    )
    cost: DiagnosticsCost
    runs: list[DiagnosticsRun]
    coordinate_check: CoordinateCheck | None
