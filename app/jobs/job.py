"""A validated request becomes one :class:`Job`: plans, the returned tensors, the format.

Order of work for every request: resolve schemes and build plans (pure, cheap; deep recurrent
stacks are counted before they are expanded), choose the returned tensors and their regions
(``tensor``, ``slice``, ``shard``, a model's shard plan), then check every limit
(:mod:`app.jobs.limits`). Nothing is generated here.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from app.core import jax_threefry, legacy, torch_modules
from app.core.architectures import ArchitectureInfo
from app.core.errors import InvalidParameterError, UnknownNameError, WeightInitError
from app.core.fans import Fans
from app.core.layer_values import LayerReading, read_layer
from app.core.layers import LayerSpec, RecurrentSpec, TensorSpec, count_elements
from app.core.legacy import LEGACY_MAX_SEED
from app.core.planning import SchemeChoice, plan_layer, plan_tensor
from app.core.plans import TensorPlan
from app.core.recipes import RecipeContext, RecipeRun, resolve_recipe
from app.core.regions import Region, fused_shard_region, parse_slice, shard_region
from app.core.schemes import ResolvedScheme, resolve_scheme
from app.core.streams import BLOCK_SIZE
from app.core.types import Algorithm, DType, Family, Layout, Role

from . import limits
from .architectures import architecture_plans
from .limits import Settings
from .names import NAME_RULE, name_problem
from .recipe_request import recipe_parts
from .requests import (
    FusedDim,
    ModelRequest,
    Shard,
    WeightsRequest,
    layer_values,
    parse_seed,
    scheme_parts,
)
from .shape_maps import shape_map_plans

Op = Literal["weights", "models"]
# Algorithms that draw a request's tensors in order from one stream, all at once.
SEQUENTIAL = (Algorithm.NUMPY_LEGACY, Algorithm.TORCH_CPU)
FORMATS_WEIGHTS = ("json", "npy", "npz", "safetensors")
FORMATS_MODELS = ("json", "npz", "safetensors")


@dataclass(frozen=True)
class Output:
    """One returned tensor: its plan and the region of it that is sent."""

    plan: TensorPlan
    region: Region
    partial: bool = False  # a slice or shard was asked for: echo full_shape and slice

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.region.shape

    @property
    def numel(self) -> int:
        return self.region.numel

    def generated_elements(self) -> int:
        """Elements produced to send this output: the blocks its region's span covers."""
        if self.region.numel == 0:
            return 0
        first, last = self.region.flat_span()
        return (last // BLOCK_SIZE - first // BLOCK_SIZE + 1) * BLOCK_SIZE


@dataclass(frozen=True)
class Job:
    """Everything that determines the response: numbers, returned tensors and format."""

    op: Op
    seed: int
    dtype: DType
    layout: Layout
    algorithm: Algorithm
    plans: list[TensorPlan]
    canonical: dict[str, Any]  # the canonical request, for ETags
    outputs: list[Output]
    fmt: str  # one of FORMATS_WEIGHTS (npy: one tensor) or FORMATS_MODELS
    json_layout: str = "flat"
    encoding: str = "numbers"
    metadata: dict[str, str] = field(default_factory=dict)  # extra safetensors metadata
    recipe: dict[str, Any] | None = None  # the recipe's report (app.core.recipes), if any
    manifest: bool = False  # ?manifest=true: the init manifest in the body (app.jobs.manifest)
    # POST /v1/models with "architecture": the family, its resolved config and each tensor's
    # block index, stack, fusion and default init (app.core.architectures.ArchitectureInfo)
    architecture: ArchitectureInfo | None = None

    def resolved(self) -> list[list[Any]]:
        """Every tensor's name, role, resolved scheme and the recipe rule that chose it: the
        ETag covers what defaults and recipes chose."""
        return [[p.name, p.role.value, p.scheme, *([p.rule] if p.rule else [])] for p in self.plans]

    def etag(self) -> str:
        variant = [
            self.fmt,
            self.canonical.get("tensor") or "",
            self.json_layout if self.fmt == "json" else "",
            self.encoding if self.fmt == "json" else "",
        ]
        if self.manifest:  # only then: every other ETag stays what it was
            variant.append("manifest")
        text = json.dumps(
            [self.canonical, self.resolved(), *variant], sort_keys=True, separators=(",", ":")
        )
        return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'

    def cost(self) -> int:
        """Cost units of this job (:mod:`app.jobs.limits`): generation, and JSON text."""
        text = 0
        if self.fmt == "json":
            text = limits.json_cost(sum(o.numel for o in self.outputs), self.encoding)
        if self.algorithm in SEQUENTIAL:  # draws every tensor, in order
            return text + sum(limits.tensor_cost(p, p.numel) for p in self.plans)
        return text + sum(limits.tensor_cost(o.plan, o.generated_elements()) for o in self.outputs)


def _resolve(spec: object, field: str) -> ResolvedScheme | None:
    parts = scheme_parts(spec)
    if parts is None:
        return None
    name, params = parts
    return resolve_scheme(name, params, field=field)


def _describe(resolved: ResolvedScheme | None) -> dict[str, Any] | None:
    return resolved.describe() if resolved is not None else None


def _choice(
    scheme: object, bias_scheme: object, role_schemes: dict[Any, Any] | None, where: str = ""
) -> SchemeChoice:
    """One level of scheme choices, resolved; errors name ``where`` + the field."""
    roles = {
        Role(str(getattr(role, "value", role))): _resolve(
            spec, f"{where}role_schemes.{getattr(role, 'value', role)}"
        )
        for role, spec in (role_schemes or {}).items()
    }
    return SchemeChoice(
        _resolve(scheme, f"{where}scheme"),
        _resolve(bias_scheme, f"{where}bias_scheme"),
        {role: resolved for role, resolved in roles.items() if resolved is not None},
        where,
    )


def _describe_choice(choice: SchemeChoice) -> dict[str, Any]:
    """A level's choices for the canonical request (the ETag): scheme, bias and role schemes."""
    described: dict[str, Any] = {
        "scheme": _describe(choice.scheme),
        "bias_scheme": _describe(choice.bias_scheme),
    }
    if choice.role_schemes:
        described["role_schemes"] = {
            role.value: resolved.describe() for role, resolved in choice.role_schemes.items()
        }
    return described


def _layer_entry(kind: str, defaults: dict[str, Any], reading: LayerReading) -> dict[str, Any]:
    """The layer for the canonical request: our fields (framework names read as ours, ignored
    arguments dropped, defaults filled in) and the schemes its initializer arguments name."""
    entry: dict[str, Any] = {"kind": kind, **defaults, **reading.values}
    if reading.schemes:
        entry["initializers"] = {
            role.value: resolved.describe() for role, resolved in reading.schemes.items()
        }
    return entry


def _arguments_level(
    level: SchemeChoice, reading: LayerReading, weight_role: Role | None = None
) -> SchemeChoice:
    """``level`` with the layer's initializer arguments winning for their roles (a layer that
    plays ``weight_role`` has its plain weights there)."""

    def role_of(role: Role) -> Role:
        return weight_role if weight_role is not None and role is Role.WEIGHT else role

    return level.overridden(
        {role_of(r): s for r, s in reading.schemes.items()},
        {role_of(r): f for r, f in reading.fields.items()},
    )


class _Budget:
    """Refuse a request over the limits layer by layer, before its tensors are expanded.

    Layers count toward ``WEIGHTINIT_MAX_LAYERS`` as they are expanded: each layer of a
    recurrent stack is one (a stack's tensors, planning and headers grow with its depth).
    """

    def __init__(self, settings: Settings, layout: Layout, field: str | None = None) -> None:
        self.settings = settings
        self.layout = layout
        self.total = 0
        self.layers = 0
        self.field = field  # where a request of many layers is over the limit

    def add(self, layer: LayerSpec) -> LayerSpec:
        self.total += count_elements(layer, self.layout)
        limits.check_elements(self.total, self.settings)
        if isinstance(layer, RecurrentSpec):
            limits.check_layers(layer.num_layers, self.settings, "layer.num_layers")
        self.layers += layer.num_layers if isinstance(layer, RecurrentSpec) else 1
        limits.check_layers(self.layers, self.settings, self.field)
        return layer


@dataclass(frozen=True)
class Selection:
    """How the response is cut: format, one tensor, a slice or shard of it, JSON options."""

    fmt: str  # one of FORMATS_WEIGHTS (npy: one tensor) or FORMATS_MODELS
    tensor: str | None = None
    json_layout: str = "flat"
    encoding: str = "numbers"
    manifest: bool = False  # ?manifest=true


def _pick(plans: list[TensorPlan], tensor: str | None) -> TensorPlan:
    if not plans:
        raise InvalidParameterError(
            "This layer has no tensors (e.g. a norm layer without affine parameters), so there "
            "is no tensor to send as .npy or to slice; ask for npz, safetensors or json.",
            field="layer",
        )
    if tensor is None:
        return plans[0]
    for plan in plans:
        if plan.name == tensor:
            return plan
    raise UnknownNameError("tensor", tensor, [p.name for p in plans], field="tensor")


def _region(plan: TensorPlan, slice_text: str | None, shard: Shard | None) -> Region:
    if slice_text is not None and shard is not None:
        raise InvalidParameterError(
            "Give either 'slice' or 'shard', not both (a shard is a slice along one dimension).",
            field="shard",
        )
    if slice_text is not None:
        return parse_slice(slice_text, plan.shape)
    assert shard is not None
    return shard_region(plan.shape, shard.dim, shard.index, shard.count)


def _one_for_npy(plans: list[TensorPlan], selection: Selection) -> None:
    """A .npy file holds one array: a layer of several tensors must say which (it used to get
    the first, silently)."""
    if selection.fmt != "npy" or selection.tensor is not None or len(plans) < 2:
        return
    names = [p.name for p in plans]
    listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    raise InvalidParameterError(
        f"This layer has {len(names)} tensors ({listed}) and a .npy file holds one: name it "
        f"with the tensor query parameter (e.g. ?tensor={names[0]}), or ask for npz or "
        "safetensors, which hold every tensor by name.",
        field="tensor",
    )


def _weights_outputs(
    plans: list[TensorPlan], req: WeightsRequest, selection: Selection
) -> list[Output]:
    _one_for_npy(plans, selection)
    if req.slice is not None or req.shard is not None:
        plan = _pick(plans, selection.tensor)
        return [Output(plan, _region(plan, req.slice, req.shard), partial=True)]
    if selection.fmt == "npy" or selection.tensor is not None:
        plan = _pick(plans, selection.tensor)
        return [Output(plan, Region.whole(plan.shape))]
    return [Output(plan, Region.whole(plan.shape)) for plan in plans]


def weights_job(req: WeightsRequest, settings: Settings, selection: Selection) -> Job:
    """POST /v1/weights (and the GET shortcut): one layer's tensors."""
    seed = parse_seed(req.seed)
    choice = _choice(req.scheme, req.bias_scheme, req.role_schemes)
    kind, given, defaults = layer_values(req.layer)
    spec, reading = read_layer(kind, given, layout=req.layout, dtype=req.dtype)
    plans = plan_layer(
        _Budget(settings, req.layout).add(spec),
        layout=req.layout,
        dtype=req.dtype,
        algorithm=req.algorithm,
        levels=(_arguments_level(choice, reading),),
    )
    canonical: dict[str, Any] = {
        "op": "weights",
        "seed": seed,
        "dtype": req.dtype.value,
        "layout": req.layout.value,
        "algorithm": req.algorithm.value,
        "layer": _layer_entry(kind, defaults, reading),
        **_describe_choice(choice),
    }
    outputs = _weights_outputs(plans, req, selection)
    if req.slice is not None or req.shard is not None:
        canonical["slice"] = outputs[0].region.text()
    if selection.tensor is not None:
        canonical["tensor"] = selection.tensor
    job = Job(
        "weights",
        seed,
        req.dtype,
        req.layout,
        req.algorithm,
        plans,
        canonical,
        outputs,
        selection.fmt,
        selection.json_layout,
        selection.encoding,
        manifest=selection.manifest,
    )
    check(job, settings)
    return job


# The textbook shorthand's own default: biases start at zero (the request's choices come first).
MLP_DEFAULTS = SchemeChoice(bias_scheme=resolve_scheme("zeros"), where="mlp.")


def _mlp_plans(
    sizes: list[int], req: ModelRequest, choice: SchemeChoice, recipe: RecipeRun | None
) -> list[TensorPlan]:
    """W{l} and b{l} per layer: (n_l, n_{l-1}) and (n_l, 1) in the torch layout (the textbook),
    kernels (n_{l-1}, n_l) and biases (n_l,) in the keras and jax layouts."""
    plans: list[TensorPlan] = []
    torch = req.layout is Layout.TORCH
    for index, (n_prev, n) in enumerate(itertools.pairwise(sizes), start=1):
        fans = Fans(float(n_prev), float(n))
        weight = TensorSpec(
            f"W{index}", (n, n_prev) if torch else (n_prev, n), Role.WEIGHT, Family.DENSE, fans
        )
        bias_shape = (n, 1) if torch else (n,)
        bias_spec = TensorSpec(f"b{index}", bias_shape, Role.BIAS, Family.DENSE, fans)
        for spec in (weight, bias_spec):
            plans.append(
                plan_tensor(
                    spec,
                    layout=req.layout,
                    dtype=req.dtype,
                    algorithm=req.algorithm,
                    levels=(choice,) if recipe else (choice, MLP_DEFAULTS),
                    recipe=recipe,
                )
            )
    return plans


@contextmanager
def _fields_of_layer(index: int) -> Iterator[None]:
    """The core sees one layer and names its fields ``layer.<field>`` once it has a layout
    (a kind or argument the layout lacks, a transposed conv's groups...); in a model they are
    ``layers[<index>].layer.<field>``."""
    try:
        yield
    except WeightInitError as exc:
        if exc.field is not None and (exc.field == "layer" or exc.field.startswith("layer.")):
            exc.field = f"layers[{index}].{exc.field}"
        raise


def _layers_plans(
    req: ModelRequest, settings: Settings, choice: SchemeChoice, recipe: RecipeRun | None
) -> tuple[list[TensorPlan], list[dict[str, Any]]]:
    layers = req.layers or []
    limits.check_layers(len(layers), settings)
    if not layers:
        raise InvalidParameterError("'layers' needs at least one layer.", field="layers")
    seen: set[str] = set()
    described = []
    plans: list[TensorPlan] = []
    budget = _Budget(settings, req.layout, field="layers")
    for i, item in enumerate(layers):
        if item.name in seen:
            raise InvalidParameterError(
                f"Layer name {item.name!r} is used twice; names must be unique.",
                field=f"layers[{i}].name",
            )
        seen.add(item.name)
        own = _choice(item.scheme, item.bias_scheme, item.role_schemes, f"layers[{i}].")
        role = None if item.role is None else Role(str(item.role.value))
        kind, given, defaults = layer_values(item.layer)
        spec, reading = read_layer(
            kind, given, layout=req.layout, dtype=req.dtype, where=f"layers[{i}].layer"
        )
        with _fields_of_layer(i):
            layer_plans = plan_layer(
                budget.add(spec),
                layout=req.layout,
                dtype=req.dtype,
                algorithm=req.algorithm,
                prefix=f"{item.name}.",
                levels=(_arguments_level(own, reading, role), choice),
                weight_role=role,
                recipe=recipe,
            )
        check_names(layer_plans, field=f"layers[{i}].name")
        plans += layer_plans
        entry = {
            "name": item.name,
            "layer": _layer_entry(kind, defaults, reading),
            **_describe_choice(own),
        }
        if role is not None:
            entry["role"] = role.value
        described.append(entry)
    return plans, described


def _shard_of(
    plan: TensorPlan, entry: int | FusedDim, shard: Any, info: ArchitectureInfo | None
) -> Region:
    """This rank's region of ``plan`` under a shard plan entry (a dim, or a fused dim)."""
    where = f"shard.dims[{plan.name}]"
    if isinstance(entry, FusedDim):
        return fused_shard_region(
            plan.shape, entry.dim, shard.index, shard.count, parts=entry.fused, field=where
        )
    marked = info.tensors.get(plan.name) if info is not None else None
    rank = len(plan.shape)
    plain_split_of_fused = (
        marked is not None and marked.fused > 1 and shard.count > 1 and -rank <= entry < rank
    )
    if marked is not None and plain_split_of_fused and entry % rank == marked.fused_dim:
        raise InvalidParameterError(
            f"Tensor {plan.name!r} holds {marked.fused} tensors side by side along dim "
            f"{marked.fused_dim} (fused, e.g. Q, K and V): a plain split would give rank 0 "
            f'only Q. Shard it Megatron-style with {{"dim": {marked.fused_dim}, "fused": '
            f"{marked.fused}}} (split into {marked.fused} parts, shard each, concatenate).",
            field=where,
        )
    return shard_region(plan.shape, entry, shard.index, shard.count, field=where)


def _model_outputs(
    plans: list[TensorPlan], req: ModelRequest, info: ArchitectureInfo | None = None
) -> list[Output]:
    plan_shard = req.shard
    if plan_shard is None:
        return [Output(plan, Region.whole(plan.shape)) for plan in plans]
    if plan_shard.index >= plan_shard.count:
        raise InvalidParameterError(
            f"shard index {plan_shard.index} is out of range for count {plan_shard.count}; "
            f"use 0..{plan_shard.count - 1}.",
            field="shard.index",
        )
    # One alternation of the translated patterns, tried left to right: the first pattern that
    # matches wins, in one regex match per tensor however many patterns there are.
    patterns = list(plan_shard.dims.items())
    matcher = re.compile(
        "|".join(f"(?P<p{i}>{fnmatch.translate(p)})" for i, (p, _) in enumerate(patterns))
    )
    outputs = []
    used: set[int] = set()
    for plan in plans:
        match = matcher.match(plan.name) if patterns else None
        if match is None or match.lastgroup is None:
            outputs.append(Output(plan, Region.whole(plan.shape)))
            continue
        which = int(match.lastgroup[1:])
        used.add(which)
        region = _shard_of(plan, patterns[which][1], plan_shard, info)
        outputs.append(Output(plan, region, partial=True))
    unused = [pattern for i, (pattern, _) in enumerate(patterns) if i not in used]
    if unused:  # a typo would silently give every rank whole tensors
        examples = ", ".join(repr(p.name) for p in plans[:3])
        raise InvalidParameterError(
            f"Shard pattern {unused[0][:80]!r} matches no tensor (before an earlier pattern "
            f"could); tensor names look like {examples}.",
            field="shard.dims",
        )
    return outputs


def model_job(req: ModelRequest, settings: Settings, selection: Selection) -> Job:
    """POST /v1/models: many named layers, the MLP shorthand or a shape map; optionally one
    shard."""
    seed = parse_seed(req.seed)
    info: ArchitectureInfo | None = None
    if sum(part is not None for part in (req.layers, req.mlp, req.tensors, req.architecture)) != 1:
        raise InvalidParameterError(
            "Give exactly one of 'layers' (named layers), 'mlp' (the textbook shorthand), "
            "'tensors' (a shape map: tensor name -> shape) or 'architecture' (with 'config').",
            field="layers",
        )
    if req.architecture is None and (req.config is not None or req.class_ is not None):
        raise InvalidParameterError(
            "'config' and 'class' belong to 'architecture'; name the architecture too.",
            field="config" if req.config is not None else "class",
        )
    choice = _choice(req.scheme, req.bias_scheme, req.role_schemes)
    recipe = _recipe(req) if req.architecture is None else None  # else: over its values
    canonical: dict[str, Any] = {
        "op": "model",
        "seed": seed,
        "dtype": req.dtype.value,
        "layout": req.layout.value,
        "algorithm": req.algorithm.value,
        **_describe_choice(choice),
    }
    if recipe is not None:
        canonical["recipe"] = recipe.describe()
    if req.mlp is not None:
        sizes = list(req.mlp.sizes)
        limits.check_layers(len(sizes) - 1, settings)
        plans = _mlp_plans(sizes, req, choice, recipe)
        limits.check_elements(sum(p.numel for p in plans), settings)
        canonical["mlp"] = sizes
    elif req.tensors is not None:
        plans, canonical["tensors"] = shape_map_plans(req, settings, choice, recipe)
        check_names(plans, field="tensors")
    elif req.architecture is not None:
        plans, canonical["architecture"], info, recipe = architecture_plans(
            req, settings, choice, lambda base: _recipe(req, base)
        )
    else:
        plans, canonical["layers"] = _layers_plans(req, settings, choice, recipe)
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidParameterError(f"Two tensors would be named {dup!r}.", field="layers")
    metadata: dict[str, str] = {}
    if recipe is not None:  # safetensors: what the recipe asks the user to apply
        metadata["recipe"] = json.dumps(recipe.report(), sort_keys=True)
    if req.shard is not None:
        canonical["shard"] = req.shard.model_dump()
        metadata["shard"] = f"{req.shard.index}/{req.shard.count}"
    job = Job(
        "models",
        seed,
        req.dtype,
        req.layout,
        req.algorithm,
        plans,
        canonical,
        _model_outputs(plans, req, info),
        selection.fmt,
        selection.json_layout,
        selection.encoding,
        metadata,
        recipe.report() if recipe is not None else None,
        manifest=selection.manifest,
        architecture=info,
    )
    check(job, settings)
    return job


def _recipe(req: ModelRequest, base: RecipeContext | None = None) -> RecipeRun | None:
    """The request's recipe, resolved over ``base`` (an architecture's values); it cannot
    share the request with a request-wide scheme or bias_scheme (which would override every
    rule it has)."""
    parts = recipe_parts(req.recipe)
    if parts is None:
        return None
    for name in ("scheme", "bias_scheme"):
        if getattr(req, name) is not None:
            raise InvalidParameterError(
                f"Give either 'recipe' or a request-wide '{name}': the recipe chooses every "
                f"tensor's scheme. To override it for some tensors, name them in role_schemes "
                "(or a layer's or tensor's own scheme).",
                field=name,
            )
    name, params = parts
    return resolve_recipe(name, params, base)


def check_names(plans: list[TensorPlan], field: str) -> None:
    """Every full tensor name obeys the one name rule (:mod:`app.jobs.names`)."""
    for plan in plans:
        problem = name_problem(plan.name)
        if problem:
            raise InvalidParameterError(
                f"Tensor name {plan.name[:80]!r}: {problem}; expected {NAME_RULE}.", field=field
            )


def check(job: Job, settings: Settings) -> None:
    """Every limit, before any array exists."""
    check_names(job.plans, field="layers")
    limits.check_elements(sum(p.numel for p in job.plans), settings)
    limits.check_whole_matrix(job.plans, settings)
    if job.algorithm is Algorithm.NUMPY_LEGACY:
        limits.check_whole_elements(sum(p.numel for p in job.plans), settings)
        if job.seed > LEGACY_MAX_SEED:  # numpy's RandomState takes 32-bit seeds
            raise InvalidParameterError(
                f"seed must be an integer from 0 to {LEGACY_MAX_SEED} with algorithm "
                f"numpy-legacy (numpy's 32-bit seeds); got {job.seed}.",
                field="seed",
            )
        legacy.check_supported(job.plans)
    if job.algorithm is Algorithm.JAX_THREEFRY:
        jax_threefry.check_supported(job.plans, job.seed, job.dtype)
    if job.algorithm is Algorithm.TORCH_CPU:
        limits.check_torch_cpu_elements(sum(p.numel for p in job.plans), settings)
        torch_modules.check_supported(job.plans)
    if job.fmt == "json":
        limits.check_json(sum(o.numel for o in job.outputs), settings)
    if job.manifest and job.fmt in ("npy", "npz"):
        raise InvalidParameterError(
            f"manifest=true puts the init manifest in a safetensors body's __metadata__ (or a "
            f"JSON body); .{job.fmt} has no place for it: ask for format=safetensors or json, "
            "or POST the same body to the /manifest operation for the manifest alone.",
            field="manifest",
        )
    if job.fmt in ("npy", "npz") and job.dtype is DType.BFLOAT16:
        raise InvalidParameterError(
            ".npy has no bfloat16; ask for format=safetensors or json instead.", field="dtype"
        )
    limits.check_overflow([o.plan for o in job.outputs])
    limits.check_cost(job.cost(), settings)
