"""POST /v1/diagnostics as one job: the chain, the runs (one per compared scheme), the probe
batch and the optional coordinate check, with every limit checked before any work.

Each run is an ordinary POST /v1/models request (:func:`app.jobs.job.model_job`), so the weights
pushed through the chain are the very tensors /v1/models returns for it (each run reports their
sha256). The numerics are :mod:`app.core.diagnostics`; this module maps a layout's tensors to
the core's orientation, draws the probe batch from the seed, and assembles the JSON document.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core import diagnostics as core
from app.core.attention import MultiheadAttentionSpec
from app.core.errors import InvalidParameterError, WeightInitError
from app.core.generate import generate_tensor
from app.core.law_stats import law_stats
from app.core.laws import Law, NormalLaw, UniformLaw
from app.core.layer_values import read_layer
from app.core.layers import ConvSpec, DenseSpec, EmbeddingSpec, LayerSpec
from app.core.norms import BatchNormSpec, GroupNormSpec, LayerNormSpec, RMSNormSpec
from app.core.plans import TensorPlan
from app.core.types import DType, Layout

from . import diagnostics_arch as arch
from . import limits
from .body import readers
from .diagnostics_requests import (
    DEFAULT_SEQUENCE,
    DEFAULT_SPATIAL,
    DiagnosticsLayer,
    DiagnosticsRequest,
)
from .job import Job, Selection, model_job
from .limits import Settings
from .recipe_request import recipe_parts
from .requests import ModelRequest, layer_values, parse_seed, scheme_parts

# Streams of the probe batch: names no model tensor can take (tensor names have no ':').
INPUT_STREAM = "diagnostics:input"
UPSTREAM_STREAM = "diagnostics:upstream"
TARGET_STREAM = "diagnostics:target"
FLOPS_PER_MAC = 6  # 2 flops per multiply-add; the backward pass costs about twice the forward
VALUES_PER_ELEMENT = 4  # float64 pre-activation, activation and two gradients per element
NORM_EPS = {"layer_norm": 1e-5, "batch_norm": 1e-5, "group_norm": 1e-5, "rms_norm": 2.0**-23}
CHAIN_KINDS = (
    "dense",
    "conv1d",
    "conv2d",
    "embedding",
    "multihead_attention",
    "layer_norm",
    "rms_norm",
    "batch_norm",
    "group_norm",
)
# Recipes whose report changes a residual network's forward pass: a chain has no residual
# branch to apply it to. muP's readout multiplier and learning-rate scales are applied.
FORWARD_CHANGING = ("deepnet", "fixup", "t_fixup")
INPUT_DESCRIPTION = (
    "standard normal N(0, 1), float64, drawn from the request's seed (stream "
    f"'{INPUT_STREAM}', blocks-v1)"
)
TOKENS_DESCRIPTION = (
    "token ids floor(U[0, num_embeddings)), drawn from the request's seed (stream "
    f"'{INPUT_STREAM}', blocks-v1)"
)
UPSTREAM_DESCRIPTION = (
    "dL/d(output of the last layer): standard normal N(0, 1), float64, from the seed (stream "
    f"'{UPSTREAM_STREAM}'); gradient_std is the std of dL/d(pre-activation) of each layer"
)


@dataclass(frozen=True)
class ChainLayer:
    """One layer of the chain: its forward arguments and how it reads a run's tensors."""

    name: str
    kind: str  # a CHAIN_KINDS entry
    spec: LayerSpec | None  # None: the mlp shorthand's dense layer W{index}
    activation: str
    activation_param: float | None
    out_shape: tuple[int, ...]  # one sample's output
    macs: int  # multiply-adds per sample (forward)
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    eps: float = 1e-5
    index: int = 0  # the mlp shorthand's layer number

    @property
    def prefix(self) -> str:
        return "" if self.spec is None else f"{self.name}."


@dataclass(frozen=True)
class Run:
    label: str
    scheme: dict[str, Any] | None  # the compared scheme, resolved (None: the request's own)
    job: Job


@dataclass(frozen=True)
class CoordinatePlan:
    widths: list[int]
    steps: int
    optimizer: str
    learning_rate: float
    chains: list[list[ChainLayer]]  # one per width
    jobs: list[Job]  # one model per width


@dataclass(frozen=True)
class DiagnosticsJob:
    seed: int
    batch: int
    layout: Layout
    dtype: DType
    sample_shape: tuple[int, ...]  # one probe sample
    tokens: int | None  # an embedding chain's vocabulary: token ids in [0, tokens)
    chain: list[ChainLayer]
    runs: list[Run]
    coordinate: CoordinatePlan | None
    model: dict[str, Any]  # the chain as resolved (echoed)
    flops: int
    memory: int  # bytes
    decoder: arch.DecoderPlan | None = None  # an architecture's decoder (chain empty)


# ---- the chain ----------------------------------------------------------------------------


def _per_axis(value: int | list[int], rank: int, where: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise InvalidParameterError(
            f"Give one number per spatial axis ({rank}) or a single number; got {len(value)}.",
            field=where,
        )
    return tuple(value)


def _mismatch(i: int, wants: str, got: tuple[int, ...]) -> InvalidParameterError:
    if i == 0:
        return InvalidParameterError(
            f"input_shape {list(got)} does not fit the first layer, which takes {wants}: give "
            "one probe sample's shape without the batch axis (or leave input_shape out).",
            field="input_shape",
        )
    return InvalidParameterError(
        f"Layer {i} does not follow the one before it: it takes {wants}, but one sample "
        f"reaching it has shape {list(got)}. A chain feeds each layer's output to the next.",
        field=f"layers[{i}].layer",
    )


def _first_sample(spec: LayerSpec) -> tuple[int, ...]:
    """One probe sample for a chain that starts with ``spec`` (no input_shape given)."""
    if isinstance(spec, DenseSpec):
        return (spec.in_features,)
    if isinstance(spec, ConvSpec):
        return (spec.in_channels, *([DEFAULT_SPATIAL] * len(spec.kernel_size)))
    if isinstance(spec, EmbeddingSpec):
        return (DEFAULT_SEQUENCE,)
    if isinstance(spec, MultiheadAttentionSpec):
        return (DEFAULT_SEQUENCE, spec.embed_dim)
    if isinstance(spec, LayerNormSpec | RMSNormSpec):
        return tuple(spec.normalized_shape)
    # a batch or group norm: channels first (BatchNorm1d on features; GroupNorm on a sequence)
    channels = spec.num_features if isinstance(spec, BatchNormSpec) else spec.num_channels  # type: ignore[union-attr]
    return (channels,) if isinstance(spec, BatchNormSpec) else (channels, DEFAULT_SPATIAL)


# A conv's forward arguments under each framework's names (init ignores them; the chain runs
# them): torch's stride/padding/dilation, Keras' strides/dilation_rate, Flax's kernel_dilation.
CONV_ARGUMENTS = {
    "stride": ("stride", "strides"),
    "padding": ("padding",),
    "dilation": ("dilation", "dilation_rate", "kernel_dilation"),
}


def _layer_argument(value: object, rank: int, where: str) -> tuple[int, ...] | str:
    """An int, a list of ints (one per spatial axis) or 'same'/'valid' (padding only)."""
    if isinstance(value, str) and value.lower() in ("same", "valid"):
        return value.lower()
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value,) * rank
    if (
        isinstance(value, list | tuple)
        and len(value) == rank
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        return tuple(value)
    raise InvalidParameterError(
        f"Give a non-negative integer or {rank} of them (padding also 'same' or 'valid'); "
        f"got {value!r}.",
        field=where,
    )


def _conv_argument(
    i: int, item: DiagnosticsLayer, given: dict[str, Any], name: str, rank: int
) -> tuple[int, ...] | str:
    """The value of ``name`` from the layer's own fields (framework names) or the item's."""
    found = [(key, given[key]) for key in CONV_ARGUMENTS[name] if key in given]
    own = getattr(item, name)
    if not found:
        return _per_axis(own, rank, f"layers[{i}].{name}")
    key, value = found[0]
    resolved = _layer_argument(value, rank, f"layers[{i}].layer.{key}")
    if name in item.model_fields_set and _per_axis(own, rank, f"layers[{i}].{name}") != resolved:
        raise InvalidParameterError(
            f"Layer {i} gives {name} twice, as layer.{key} and as {name}, with different "
            "values: keep one.",
            field=f"layers[{i}].{name}",
        )
    return resolved


def _same_padding(
    i: int, spec: ConvSpec, stride: tuple[int, ...], dilation: tuple[int, ...]
) -> tuple[int, ...]:
    span = [d * (k - 1) for k, d in zip(spec.kernel_size, dilation, strict=True)]
    if any(s != 1 for s in stride) or any(x % 2 for x in span):
        raise InvalidParameterError(
            "padding 'same' runs here with stride 1 and an odd (dilated) kernel only, where it "
            "pads equally on both sides: give the padding as numbers.",
            field=f"layers[{i}].layer.padding",
        )
    return tuple(x // 2 for x in span)


def _conv_geometry(
    i: int, item: DiagnosticsLayer, spec: ConvSpec
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(stride, padding, dilation), each one per spatial axis."""
    rank = len(spec.kernel_size)
    _, given, _ = layer_values(item.layer)
    stride, padding, dilation = (
        _conv_argument(i, item, given, name, rank) for name in ("stride", "padding", "dilation")
    )
    assert not isinstance(stride, str) and not isinstance(dilation, str)
    if min(stride) < 1 or min(dilation) < 1:
        raise InvalidParameterError(
            "A conv's stride and dilation are at least 1.", field=f"layers[{i}].layer"
        )
    if padding == "same":
        return stride, _same_padding(i, spec, stride, dilation), dilation
    if padding == "valid":
        return stride, (0,) * rank, dilation
    assert not isinstance(padding, str)
    return stride, padding, dilation


def _conv_layer(
    i: int, item: DiagnosticsLayer, kind: str, spec: ConvSpec, shape: tuple[int, ...]
) -> ChainLayer:
    rank = len(spec.kernel_size)
    if spec.transposed:
        raise InvalidParameterError(
            "Transposed convs are not part of a diagnostics chain.", field=f"layers[{i}].layer"
        )
    if len(shape) != rank + 1 or shape[0] != spec.in_channels:
        raise _mismatch(i, f"{spec.in_channels} channels and {rank} spatial axes", shape)
    stride, padding, dilation = _conv_geometry(i, item, spec)
    spatial = tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(
            shape[1:], spec.kernel_size, stride, padding, dilation, strict=True
        )
    )
    if min(spatial) < 1:
        raise InvalidParameterError(
            f"Layer {i}'s kernel is larger than its padded input {list(shape[1:])}: give a "
            "larger input_shape, more padding or a smaller kernel.",
            field=f"layers[{i}].layer.kernel_size",
        )
    macs = math.prod(spatial) * spec.out_channels * (spec.in_channels // spec.groups)
    return ChainLayer(
        item.name,
        kind,
        spec,
        str(item.activation.value),
        item.activation_param,
        (spec.out_channels, *spatial),
        macs * math.prod(spec.kernel_size),
        stride,
        padding,
        dilation,
    )


def _norm_checks(i: int, spec: LayerSpec, shape: tuple[int, ...]) -> None:
    if isinstance(spec, LayerNormSpec | RMSNormSpec):
        n = tuple(spec.normalized_shape)
        if len(n) != 1:
            raise InvalidParameterError(
                "A diagnostics chain normalises over the last axis: give normalized_shape as "
                "one number.",
                field=f"layers[{i}].layer.normalized_shape",
            )
        if not shape or shape[-1] != n[0]:
            raise _mismatch(i, f"{n[0]} features on its last axis", shape)
    elif isinstance(spec, BatchNormSpec):
        if not shape or shape[0] != spec.num_features:
            raise _mismatch(i, f"{spec.num_features} channels (features) first", shape)
    elif isinstance(spec, GroupNormSpec) and (not shape or shape[0] != spec.num_channels):
        raise _mismatch(i, f"{spec.num_channels} channels first", shape)


def _chain_layer(
    i: int, item: DiagnosticsLayer, kind: str, spec: LayerSpec, shape: tuple[int, ...]
) -> ChainLayer:
    """One layer, checked against the sample shape that reaches it."""
    act, param = str(item.activation.value), item.activation_param
    if isinstance(spec, ConvSpec):
        return _conv_layer(i, item, kind, spec, shape)
    if isinstance(spec, DenseSpec):
        if shape and shape[-1] == spec.in_features:
            out = (*shape[:-1], spec.out_features)
        elif math.prod(shape) == spec.in_features:  # a conv's output, flattened (nn.Flatten)
            out = (spec.out_features,)
        else:
            raise _mismatch(
                i, f"{spec.in_features} features on its last axis (or in all, flattened)", shape
            )
        macs = math.prod(out[:-1]) * spec.in_features * spec.out_features
        return ChainLayer(item.name, kind, spec, act, param, out, macs)
    if isinstance(spec, EmbeddingSpec):
        if i != 0:
            raise InvalidParameterError(
                "An embedding reads token ids, so it can only be the first layer of a chain.",
                field=f"layers[{i}].layer",
            )
        out = (*shape, spec.embedding_dim)
        return ChainLayer(item.name, kind, spec, act, param, out, math.prod(out))
    if isinstance(spec, MultiheadAttentionSpec):
        e = spec.embed_dim
        if len(shape) != 2 or shape[1] != e:
            raise _mismatch(i, f"a sequence of {e}-vectors: (positions, {e})", shape)
        if (spec.kdim or e) != e or (spec.vdim or e) != e or spec.add_bias_kv:
            raise InvalidParameterError(
                "A diagnostics chain runs self-attention: kdim and vdim equal embed_dim, "
                "no add_bias_kv.",
                field=f"layers[{i}].layer",
            )
        macs = 4 * shape[0] * e * e + 2 * shape[0] * shape[0] * e
        return ChainLayer(item.name, kind, spec, act, param, shape, macs)
    _norm_checks(i, spec, shape)
    eps = item.eps if item.eps is not None else NORM_EPS[kind]
    return ChainLayer(item.name, kind, spec, act, param, shape, 8 * math.prod(shape), eps=eps)


def _check_activation(name: str, param: float | None, where: str) -> None:
    """The activation and its parameter, refused here (before any work) with the field."""
    try:
        core.activations.check(name, param)
    except WeightInitError as exc:
        raise InvalidParameterError(exc.message, field=where) from None


def _layers_chain(req: DiagnosticsRequest) -> tuple[list[ChainLayer], tuple[int, ...], int | None]:
    chain: list[ChainLayer] = []
    sample: tuple[int, ...] = ()
    tokens: int | None = None
    for i, item in enumerate(req.layers or []):
        kind, given, _ = layer_values(item.layer)
        if kind not in CHAIN_KINDS:
            raise InvalidParameterError(
                f"A {kind!r} layer cannot run in a diagnostics chain, which takes "
                + ", ".join(CHAIN_KINDS)
                + " layers (each feeding the next).",
                field=f"layers[{i}].layer.kind",
            )
        spec, _ = read_layer(
            kind, given, layout=req.layout, dtype=req.dtype, where=f"layers[{i}].layer"
        )
        if i == 0:
            sample = tuple(req.input_shape) if req.input_shape else _first_sample(spec)
            if isinstance(spec, EmbeddingSpec):
                tokens = spec.num_embeddings
        _check_activation(str(item.activation.value), item.activation_param, f"layers[{i}]")
        layer = _chain_layer(i, item, kind, spec, chain[-1].out_shape if chain else sample)
        chain.append(layer)
    return chain, sample, tokens


def _activations(req: DiagnosticsRequest, count: int) -> list[str]:
    mlp = req.mlp
    assert mlp is not None
    given = mlp.activation
    if isinstance(given, list):
        if len(given) != count:
            raise InvalidParameterError(
                f"Give one activation per layer ({count}) or a single one; got {len(given)}.",
                field="mlp.activation",
            )
        return [str(a.value) for a in given]
    return [str(given.value)] * (count - 1) + ["linear"]  # the last layer is the readout


def _mlp_activations(req: DiagnosticsRequest) -> list[tuple[str, float | None]]:
    """Each mlp layer's activation and parameter (checked): the parameter is the named
    activation's; the implicit linear readout takes none."""
    assert req.mlp is not None
    acts = _activations(req, len(req.mlp.sizes) - 1)
    param = req.mlp.activation_param
    if isinstance(req.mlp.activation, list):  # a list: the parameter of those that take one
        if param is not None and not any(core.activations.takes_param(a) for a in acts):
            raise InvalidParameterError(
                f"activation_param {param!r} has no activation to go to: none of "
                f"{sorted(set(acts))} takes a parameter (leaky_relu, elu and celu do).",
                field="mlp.activation_param",
            )
        pairs = [(a, param if core.activations.takes_param(a) else None) for a in acts]
    else:  # one name for the hidden layers; the implicit linear readout takes none
        pairs = [(a, None if i == len(acts) - 1 else param) for i, a in enumerate(acts)]
    for act, param in sorted(set(pairs), key=str):
        _check_activation(act, param, "mlp.activation_param")
    return pairs


def _mlp_chain(req: DiagnosticsRequest) -> tuple[list[ChainLayer], tuple[int, ...], None]:
    assert req.mlp is not None
    sizes = list(req.mlp.sizes)
    if req.input_shape is not None and list(req.input_shape) != sizes[:1]:
        raise InvalidParameterError(
            f"The mlp takes {sizes[0]} features: input_shape must be [{sizes[0]}] or absent.",
            field="input_shape",
        )
    chain = [
        ChainLayer(f"W{i}", "dense", None, act, param, (n,), n_prev * n, index=i)
        for i, (n_prev, n, (act, param)) in enumerate(
            zip(sizes[:-1], sizes[1:], _mlp_activations(req), strict=True), start=1
        )
    ]
    return chain, (sizes[0],), None


# ---- runs: one POST /v1/models request each ------------------------------------------------


def _model_fields(req: DiagnosticsRequest) -> dict[str, Any]:
    base = req.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        include={"seed", "dtype", "layout", "algorithm", "scheme", "bias_scheme", "role_schemes"},
    )
    parts = recipe_parts(req.recipe)
    if parts is not None:
        base["recipe"] = {"name": parts[0], **parts[1]}
    return base


def _model_body(req: DiagnosticsRequest) -> dict[str, Any]:
    """The POST /v1/models body of the request's own run."""
    body = _model_fields(req)
    if req.architecture is not None:
        body |= req.model_dump(
            mode="json",
            by_alias=True,
            exclude_none=True,
            include={"architecture", "config", "class_"},
        )
    elif req.mlp is not None:
        body["mlp"] = {"sizes": list(req.mlp.sizes)}
    else:
        body["layers"] = [
            item.model_dump(
                mode="json",
                by_alias=True,
                exclude_unset=True,
                include={"name", "layer", "scheme", "bias_scheme", "role_schemes", "role"},
            )
            for item in req.layers or []
        ]
    return body


def _label(spec: object) -> str:
    parts = scheme_parts(spec)
    assert parts is not None
    name, params = parts
    if not params:
        return name
    return f"{name}(" + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) + ")"


def _models(body: dict[str, Any], settings: Settings, where: str | None = None) -> Job:
    """A /v1/models job (plans only): the run's tensors exactly as /v1/models plans them."""
    try:
        return model_job(ModelRequest.model_validate(body), settings, Selection("safetensors"))
    except WeightInitError as exc:
        if where is not None and (exc.field is None or exc.field.split(".")[0] == "scheme"):
            exc.field = where + (exc.field or "")[len("scheme") :]
        raise


def _runs(req: DiagnosticsRequest, settings: Settings) -> list[Run]:
    body = _model_body(req)
    if req.compare is None:
        label = _label(req.scheme) if req.scheme is not None else _own_label(req)
        return [Run(label, None, _models(body, settings))]
    if req.recipe is not None or req.scheme is not None:
        raise InvalidParameterError(
            "'compare' replaces 'scheme' once per listed scheme: give either 'compare' or "
            "'scheme'/'recipe'.",
            field="compare",
        )
    runs = []
    for i, spec in enumerate(req.compare):
        parts = scheme_parts(spec)
        assert parts is not None
        name, params = parts
        scheme = {"name": name, **params}
        job = _models(body | {"scheme": scheme}, settings, where=f"compare[{i}]")
        runs.append(Run(_label(spec), scheme, job))
    return runs


def _own_label(req: DiagnosticsRequest) -> str:
    parts = recipe_parts(req.recipe)
    if parts is not None:
        return f"recipe {parts[0]}"
    if req.architecture is not None:
        return f"{req.architecture} default (_init_weights)"
    return f"{req.layout.value} defaults"  # each tensor's layout default (README, roles)


def _check_recipe(req: DiagnosticsRequest) -> None:
    parts = recipe_parts(req.recipe)
    name = "" if parts is None else parts[0]
    if name in FORWARD_CHANGING:
        raise InvalidParameterError(
            f"Recipe {name!r} also changes a residual network's forward pass (see GET "
            "/v1/recipes), and a diagnostics chain has no residual branch to apply it to. "
            "Initialise with it through POST /v1/models.",
            field="recipe",
        )


# ---- the coordinate check -------------------------------------------------------------------


def _width_body(req: DiagnosticsRequest, width: int) -> dict[str, Any]:
    """POST /v1/models body of the coordinate check's model at ``width``."""
    assert req.mlp is not None and req.widths is not None
    sizes = [req.mlp.sizes[0], *([width] * (len(req.mlp.sizes) - 2)), req.mlp.sizes[-1]]
    names = ["input", *(f"hidden{i}" for i in range(1, len(sizes) - 2)), "readout"]
    roles = ["embedding", *(["mlp_in"] * (len(sizes) - 3)), "readout"]
    body = _model_fields(req)
    if req.recipe is None and req.bias_scheme is None:
        body["bias_scheme"] = "zeros"  # the mlp shorthand's default
    recipe = body.get("recipe")
    if recipe is not None and recipe["name"] == "mup":
        recipe["d_model"] = width
        recipe.setdefault("base_config", {"d_model": req.widths[0]})
        recipe.setdefault("tie_word_embeddings", False)  # an MLP's input and readout are apart
    body["layers"] = [
        {
            "name": name,
            "layer": {"kind": "dense", "in_features": a, "out_features": b},
            "role": role,
        }
        for name, role, a, b in zip(names, roles, sizes[:-1], sizes[1:], strict=True)
    ]
    return body


COORDINATE_FIELDS = ("steps", "optimizer", "learning_rate")


def _no_stray_coordinate_fields(req: DiagnosticsRequest) -> None:
    stray = [f for f in COORDINATE_FIELDS if f in req.model_fields_set]
    if req.widths is None and stray:
        raise InvalidParameterError(
            f"'{stray[0]}' belongs to the coordinate check: give 'widths' too (or drop it; "
            "unknown and unused fields are refused, never ignored).",
            field=stray[0],
        )


def _no_stray_architecture_fields(req: DiagnosticsRequest) -> None:
    stray = [f for f in ("config", "class_") if getattr(req, f) is not None]
    if req.architecture is None and stray:
        name = stray[0].rstrip("_")
        raise InvalidParameterError(
            f"'{name}' and 'class' belong to 'architecture': give it too (or drop them; "
            "unknown and unused fields are refused, never ignored).",
            field=name,
        )


def _coordinate(req: DiagnosticsRequest, settings: Settings) -> CoordinatePlan | None:
    if req.widths is None:
        _no_stray_coordinate_fields(req)
        return None
    if len(set(req.widths)) != len(req.widths):
        raise InvalidParameterError(
            "Each width once: the coordinate check compares different widths.", field="widths"
        )
    if req.mlp is None:
        raise InvalidParameterError(
            "The coordinate check ('widths') varies the hidden width of an 'mlp'; give the "
            "model as 'mlp'.",
            field="widths",
        )
    if len(req.mlp.sizes) < 3:
        raise InvalidParameterError(
            "The coordinate check needs a hidden layer: give 'mlp.sizes' at least 3 widths.",
            field="mlp.sizes",
        )
    if req.compare is not None:
        raise InvalidParameterError(
            "Give 'compare' or 'widths', not both: a coordinate check runs one scheme or recipe.",
            field="widths",
        )
    acts = _mlp_activations(req)
    chains, jobs = [], []
    for width in req.widths:
        body = _width_body(req, width)
        chain = []
        for layer, (act, param) in zip(body["layers"], acts, strict=True):
            d = layer["layer"]
            spec = DenseSpec(d["in_features"], d["out_features"])
            out, macs = (d["out_features"],), d["in_features"] * d["out_features"]
            chain.append(ChainLayer(layer["name"], "dense", spec, act, param, out, macs))
        chains.append(chain)
        jobs.append(_models(body, settings, where="widths"))
    return CoordinatePlan(
        list(req.widths), req.steps, req.optimizer, req.learning_rate, chains, jobs
    )


# ---- limits ---------------------------------------------------------------------------------


def _chain_memory(chain: Sequence[ChainLayer], batch: int) -> int:
    values = sum(math.prod(layer.out_shape) for layer in chain)
    unfolded = max(  # a conv's im2col columns: output positions x (in/groups) x taps
        (
            layer.macs // layer.spec.out_channels
            for layer in chain
            if isinstance(layer.spec, ConvSpec)
        ),
        default=0,
    )
    return 8 * batch * (VALUES_PER_ELEMENT * values + unfolded)


def _weights_memory(jobs: Sequence[Job]) -> int:
    return max((16 * sum(p.numel for p in job.plans) for job in jobs), default=0)


def diagnostics_job(req: DiagnosticsRequest, settings: Settings) -> DiagnosticsJob:
    """Validate the request into one job; every limit is checked here, before any work."""
    given = [f for f in ("mlp", "layers") if getattr(req, f) is not None]
    if req.architecture is not None:
        return _architecture_job(req, settings)
    _no_stray_architecture_fields(req)
    if len(given) != 1:
        raise InvalidParameterError(
            "Give exactly one of 'mlp' (the MLP shorthand with activations) or 'layers' "
            "(named layers forming a chain, each with its activation).",
            field="mlp",
        )
    _check_recipe(req)
    seed = parse_seed(req.seed)
    chain, sample, tokens = _mlp_chain(req) if req.mlp is not None else _layers_chain(req)
    runs_count = 0 if req.widths is not None else len(req.compare or [None])
    flops = FLOPS_PER_MAC * req.batch * sum(layer.macs for layer in chain) * runs_count
    memory = _chain_memory(chain, req.batch)
    if req.widths is not None and req.mlp is not None:
        sizes = req.mlp.sizes
        for w in req.widths:
            macs = sizes[0] * w + (len(sizes) - 3) * w * w + w * sizes[-1]
            flops += FLOPS_PER_MAC * req.batch * macs * (req.steps + 1)
            memory = max(memory, 8 * req.batch * VALUES_PER_ELEMENT * w * len(sizes) + 32 * macs)
    limits.check_diagnostics(flops, memory, settings)
    coordinate = _coordinate(req, settings)
    runs = [] if coordinate is not None else _runs(req, settings)
    memory += _weights_memory([r.job for r in runs] + (coordinate.jobs if coordinate else []))
    limits.check_diagnostics(flops, memory, settings)
    model = _model_body(req)
    model.pop("seed", None)
    if req.mlp is not None:
        model["mlp"]["activation"] = [layer.activation for layer in chain]
        model["mlp"]["activation_param"] = [layer.activation_param for layer in chain]
    else:
        for entry, layer in zip(model["layers"], chain, strict=True):
            entry["activation"] = layer.activation
            entry["activation_param"] = layer.activation_param
            if isinstance(layer.spec, ConvSpec):
                entry |= {
                    "stride": list(layer.stride),
                    "padding": list(layer.padding),
                    "dilation": list(layer.dilation),
                }
            if layer.kind in NORM_EPS:
                entry["eps"] = layer.eps
    return DiagnosticsJob(
        seed,
        req.batch,
        req.layout,
        req.dtype,
        sample,
        tokens,
        chain,
        runs,
        coordinate,
        model,
        flops,
        memory,
    )


def _architecture_job(req: DiagnosticsRequest, settings: Settings) -> DiagnosticsJob:
    """A GPT-2 or Llama model (:mod:`app.jobs.diagnostics_arch`): its cost is checked from
    the config before any plan is made, then again with the runs' weights."""
    parts = recipe_parts(req.recipe)
    if parts is not None:
        arch.check_recipe(parts[0])
    seed = parse_seed(req.seed)
    if req.widths is None:
        _no_stray_coordinate_fields(req)
    runs_count = len(req.compare or [None])
    plan, model = arch.decoder_plan(req, settings, runs_count)
    flops, memory = arch.cost(plan, req.batch, runs_count)
    runs = _runs(req, settings)
    memory += _weights_memory([r.job for r in runs])
    limits.check_diagnostics(flops, memory, settings)
    body = _model_body(req)
    for key in ("scheme", "bias_scheme", "role_schemes", "recipe"):
        if key in body:
            model[key] = body[key]
    return DiagnosticsJob(
        seed,
        req.batch,
        req.layout,
        req.dtype,
        plan.image if plan.image is not None else (plan.positions,),
        None if plan.image is not None else plan.vocab,
        [],
        runs,
        None,
        model,
        flops,
        memory,
        plan,
    )


# ---- running it -----------------------------------------------------------------------------


def _draw(name: str, shape: tuple[int, ...], law: Law, seed: int) -> NDArray[np.float64]:
    plan = TensorPlan(name, shape, DType.FLOAT64, law)
    return np.asarray(generate_tensor(plan, seed), dtype=np.float64).reshape(shape)


def probe_inputs(job: DiagnosticsJob) -> NDArray[Any]:
    """The probe batch: standard normal, or token ids for an embedding chain."""
    shape = (job.batch, *job.sample_shape)
    if job.tokens is None:
        return _draw(INPUT_STREAM, shape, NormalLaw(0.0, 1.0), job.seed)
    u = _draw(INPUT_STREAM, shape, UniformLaw(0.0, float(job.tokens)), job.seed)
    return np.minimum(np.floor(u), job.tokens - 1).astype(np.int64)


def _f64(array: NDArray[Any]) -> NDArray[np.float64]:
    return np.asarray(array, dtype=np.float64)


def generate_job(job: Job) -> list[NDArray[Any]]:
    """Every tensor of a /v1/models job, whole, read as its body would be (each algorithm's own
    readers: blocks-v1, numpy-legacy, torch-cpu, jax-threefry)."""
    return [
        reader.read_range(0, output.numel).reshape(output.shape)
        for reader, output in zip(readers(job), job.outputs, strict=True)
    ]


class _Tensors:
    """A run's generated tensors by name, with each one's plan."""

    def __init__(self, job: Job) -> None:
        arrays = generate_job(job)
        plans = [o.plan for o in job.outputs]  # the whole tensors, in order (no shard here)
        self.plans = {p.name: p for p in plans}
        self.arrays = {p.name: a for p, a in zip(plans, arrays, strict=True)}
        self.sha256 = [
            {
                "name": p.name,
                "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest(),
            }
            for p, a in zip(plans, arrays, strict=True)
        ]

    def get(self, name: str) -> NDArray[np.float64] | None:
        a = self.arrays.get(name)
        return None if a is None else _f64(a)

    def need(self, name: str) -> NDArray[np.float64]:
        a = self.get(name)
        assert a is not None, name
        return a

    def theory(self, name: str) -> tuple[float | None, float]:
        """The scheme's (std, mean) of a tensor: (None, 0) when its law has no std."""
        plan = self.plans.get(name)
        stats = None if plan is None else law_stats(plan.law, plan.shape)
        if stats is None or not math.isfinite(stats.std):
            return None, 0.0
        return float(stats.std), float(stats.mean)


_WEIGHT = {Layout.TORCH: "weight", Layout.KERAS: "kernel", Layout.JAX: "kernel"}
_EMBEDDING = {Layout.TORCH: "weight", Layout.KERAS: "embeddings", Layout.JAX: "embedding"}
_SCALE = {
    Layout.TORCH: ("weight", "bias"),
    Layout.KERAS: ("gamma", "beta"),
    Layout.JAX: ("scale", "bias"),
}


def _dense(layer: ChainLayer, t: _Tensors, layout: Layout) -> tuple[core.Dense, str]:
    if layer.spec is None:  # the mlp shorthand: W (out, in) and b (out, 1) under torch
        w_name, b_name = f"W{layer.index}", f"b{layer.index}"
    else:
        w_name, b_name = layer.prefix + _WEIGHT[layout], layer.prefix + "bias"
    w = t.need(w_name)
    weight = w.T if layout is Layout.TORCH else w
    bias = t.get(b_name)
    return core.Dense(
        layer.name, np.ascontiguousarray(weight), None if bias is None else bias.ravel()
    ), w_name


def _conv(layer: ChainLayer, t: _Tensors, layout: Layout) -> tuple[core.Conv, str]:
    spec = layer.spec
    assert isinstance(spec, ConvSpec)
    w_name = layer.prefix + _WEIGHT[layout]
    w = t.need(w_name)
    if layout is not Layout.TORCH:  # (*kernel, in/groups, out) -> (out, in/groups, *kernel)
        rank = w.ndim - 2
        w = np.transpose(w, (rank + 1, rank, *range(rank)))
    conv = core.Conv(
        layer.name,
        np.ascontiguousarray(w),
        t.get(layer.prefix + "bias"),
        layer.stride,
        layer.padding,
        layer.dilation,
        spec.groups,
    )
    return conv, w_name


def _torch_attention(e: int, p: str, t: _Tensors) -> tuple[list[Any], list[Any], Any, Any]:
    """in_proj_weight (3E, E) holds q, k, v as (out, in) rows; in_proj_bias (3E,)."""
    w = t.need(p + "in_proj_weight")
    b = t.get(p + "in_proj_bias")
    qkv = [np.ascontiguousarray(w[i * e : (i + 1) * e].T) for i in range(3)]
    biases = [None if b is None else b[i * e : (i + 1) * e] for i in range(3)]
    return (
        qkv,
        biases,
        np.ascontiguousarray(t.need(p + "out_proj.weight").T),
        t.get(p + "out_proj.bias"),
    )


def _attention(layer: ChainLayer, t: _Tensors, layout: Layout) -> tuple[core.Attention, str]:
    """torch: in_proj_weight; keras and flax: query, key, value kernels (E, heads, head_dim)
    and the output kernel (heads, head_dim, E), flattened to matrices."""
    spec = layer.spec
    assert isinstance(spec, MultiheadAttentionSpec)
    p = layer.prefix
    if layout is Layout.TORCH:
        qkv, biases, out, out_bias = _torch_attention(spec.embed_dim, p, t)
        name = p + "in_proj_weight"
    else:
        parts = ("query", "key", "value")
        qkv = [t.need(f"{p}{n}.kernel").reshape(spec.embed_dim, -1) for n in parts]
        biases = [_ravel(t.get(f"{p}{n}.bias")) for n in parts]
        o = f"{p}attention_output" if layout is Layout.KERAS else f"{p}out"
        kernel = t.need(f"{o}.kernel")
        out, out_bias = kernel.reshape(-1, kernel.shape[-1]), t.get(f"{o}.bias")
        name = p + "query.kernel"
    step = core.Attention(
        layer.name,
        qkv[0],
        qkv[1],
        qkv[2],
        out,
        spec.num_heads,
        q_bias=biases[0],
        k_bias=biases[1],
        v_bias=biases[2],
        out_bias=out_bias,
    )
    return step, name


def _ravel(a: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
    return None if a is None else a.ravel()


def _norm(layer: ChainLayer, t: _Tensors, layout: Layout) -> tuple[core.Norm, str]:
    scale_name, shift_name = _SCALE[layout]
    spec = layer.spec
    groups = 1
    if isinstance(spec, GroupNormSpec):
        groups = spec.num_channels if spec.num_groups == -1 else spec.num_groups
    name = layer.prefix + scale_name
    norm = core.Norm(
        layer.name,
        layer.kind,
        scale=t.get(name),
        shift=t.get(layer.prefix + shift_name),
        eps=layer.eps,
        num_groups=groups,
        normalized_ndim=1 if layer.kind in ("layer_norm", "rms_norm") else None,
    )
    return norm, name


def _step(layer: ChainLayer, t: _Tensors, layout: Layout) -> tuple[core.Step, str]:
    if layer.kind == "dense":
        return _dense(layer, t, layout)
    if layer.kind.startswith("conv"):
        return _conv(layer, t, layout)
    if layer.kind == "embedding":
        name = layer.prefix + _EMBEDDING[layout]
        return core.Embedding(layer.name, t.need(name)), name
    if layer.kind == "multihead_attention":
        return _attention(layer, t, layout)
    return _norm(layer, t, layout)


def _readout_multiplier(job: Job, weight: str) -> float:
    report = job.recipe or {}
    plan = next((p for p in job.plans if p.name == weight), None)
    if plan is None or plan.role.value != "readout":
        return 1.0
    return float(report.get("multipliers", {}).get("readout", 1.0))


def links_of(chain: Sequence[ChainLayer], job: Job, t: _Tensors) -> list[core.Link]:
    links = []
    for layer in chain:
        step, weight = _step(layer, t, job.layout)
        std, mean = t.theory(weight)
        links.append(
            core.Link(
                step,
                layer.activation,
                layer.activation_param,
                std,
                _readout_multiplier(job, weight),
                weight_mean_theory=mean,
            )
        )
    return links


def _number(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _optional(x: float | None) -> float | None:
    return None if x is None else _number(x)


def _stats(
    stats: core.LayerStats, depth: int, prediction: core.Prediction | None
) -> dict[str, Any]:
    predicted = None
    if prediction is not None:
        predicted = {
            "preactivation_std": _number(prediction.preactivation_std),
            "activation_std": _number(prediction.activation_std),
            "activation_squared_mean": _number(prediction.activation_squared_mean),
            "gradient_std": _optional(prediction.gradient_std),
            "tolerance": _number(prediction.tolerance),
            "preactivation_tolerance": _number(prediction.preactivation_tolerance),
            "gradient_tolerance": _optional(prediction.gradient_tolerance),
        }
    histogram = None
    if stats.weight_histogram is not None:
        edges, counts = stats.weight_histogram
        histogram = {"edges": [_number(e) for e in edges], "counts": list(counts)}
    return {
        "name": stats.name,
        "depth": depth,
        "kind": stats.kind,
        "activation": stats.activation,
        "fan_in": stats.fan_in,
        "preactivation_std": _number(stats.preactivation_std),
        "activation_mean": _number(stats.activation_mean),
        "activation_std": _number(stats.activation_std),
        "activation_squared_mean": _number(stats.activation_squared_mean),
        "dead_fraction": _number(stats.dead_fraction),
        "saturated_fraction": None
        if stats.saturated_fraction is None
        else _number(stats.saturated_fraction),
        "gradient_std": _number(stats.gradient_std),
        "weight_std": None if stats.weight_std is None else _number(stats.weight_std),
        "weight_std_theory": stats.weight_std_theory,
        "symmetric": stats.symmetric,
        "overflow": stats.overflow,
        "weight_histogram": histogram,
        "predicted": predicted,
    }


def _run(
    job: DiagnosticsJob, run: Run, inputs: NDArray[Any], upstream: NDArray[Any]
) -> dict[str, Any]:
    tensors = _Tensors(run.job)
    links = links_of(job.chain, run.job, tensors)
    stats = core.forward_backward(links, inputs, upstream)
    predictions = core.predict(links, input_shape=inputs.shape)
    out: dict[str, Any] = {"label": run.label}
    if run.scheme is not None:
        out["scheme"] = run.scheme
    if run.job.recipe is not None:
        out["recipe"] = run.job.recipe
    out["layers"] = [
        _stats(s, depth, p) for depth, (s, p) in enumerate(zip(stats, predictions, strict=True), 1)
    ]
    out["tensors"] = tensors.sha256
    return out


def _coordinate_check(
    job: DiagnosticsJob, plan: CoordinatePlan, inputs: NDArray[Any]
) -> dict[str, Any]:
    first, last = plan.chains[0][0], plan.chains[0][-1]
    del first
    targets = _draw(TARGET_STREAM, (job.batch, *last.out_shape), NormalLaw(0.0, 1.0), job.seed)
    models = []
    for width, chain, model in zip(plan.widths, plan.chains, plan.jobs, strict=True):
        tensors = _Tensors(model)
        links = links_of(chain, model, tensors)
        scales = (model.recipe or {}).get("lr_scales", {})
        lr = [
            (
                float(scales.get(_weight_name(layer, job.layout), 1.0)),
                float(scales.get(layer.prefix + "bias", 1.0)),
            )
            for layer in chain
        ]
        models.append((width, core.Trainable(links, lr)))
    rows = core.coordinate_check(
        models,
        inputs,
        targets,
        steps=plan.steps,
        optimizer="adam" if plan.optimizer == "adam" else "sgd",
        learning_rate=plan.learning_rate,
    )
    return {
        "optimizer": plan.optimizer,
        "learning_rate": plan.learning_rate,
        "steps": plan.steps,
        "widths": plan.widths,
        "targets": "standard normal N(0, 1) from the seed (stream "
        f"'{TARGET_STREAM}'); loss 0.5 * mean over the batch of ||y - t||^2",
        "models": [_width_model(m) for m in plan.jobs],
        "rows": [
            {"width": r.width, "step": r.step, "layer": r.layer, "l1": _number(r.l1)} for r in rows
        ],
    }


def _width_model(job: Job) -> dict[str, Any]:
    out: dict[str, Any] = {"layers": job.canonical.get("layers")}
    if job.recipe is not None:
        out["recipe"] = job.recipe
    return out


def _weight_name(layer: ChainLayer, layout: Layout) -> str:
    return layer.prefix + _WEIGHT[layout]


def run_diagnostics(
    job: DiagnosticsJob, check: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    """The JSON document (README, "Why initialization matters"). ``check`` is called between
    runs (cancellation)."""
    if job.decoder is not None:
        return _run_architecture(job, job.decoder, check)
    inputs = probe_inputs(job)
    last = job.chain[-1].out_shape
    upstream = _draw(UPSTREAM_STREAM, (job.batch, *last), NormalLaw(0.0, 1.0), job.seed)
    runs = []
    for run in job.runs:
        check()
        runs.append(_run(job, run, inputs, upstream))
    coordinate = None
    if job.coordinate is not None:
        check()
        coordinate = _coordinate_check(job, job.coordinate, inputs)
    return _document(job, UPSTREAM_DESCRIPTION, runs, coordinate)


def _document(
    job: DiagnosticsJob,
    upstream: str,
    runs: list[dict[str, Any]],
    coordinate: dict[str, Any] | None,
) -> dict[str, Any]:
    """The response document: what was resolved, then the runs and the coordinate check."""
    return {
        "seed": job.seed,
        "batch": job.batch,
        "layout": job.layout.value,
        "dtype": job.dtype.value,
        "input_shape": list(job.sample_shape),
        "input": TOKENS_DESCRIPTION if job.tokens is not None else INPUT_DESCRIPTION,
        "upstream": upstream,
        "model": job.model,
        "cost": {"flops": job.flops, "bytes": job.memory},
        "runs": runs,
        "coordinate_check": coordinate,
    }


def _is_mup(job: Job) -> bool:
    return (job.recipe or {}).get("name") == "mup"


def _architecture_run(
    plan: arch.DecoderPlan, run: Run, inputs: NDArray[Any], upstream: NDArray[np.float64]
) -> dict[str, Any]:
    tensors = _Tensors(run.job)
    trace = arch.trace_run(
        plan,
        arch.Weights(tensors.get, lambda name: tensors.theory(name)[0]),
        _is_mup(run.job),
        inputs,
        upstream,
    )
    out: dict[str, Any] = {"label": run.label}
    if run.scheme is not None:
        out["scheme"] = run.scheme
    if run.job.recipe is not None:
        out["recipe"] = run.job.recipe
    out["layers"] = [
        {**_stats(stats, depth, None), "block": block}
        for depth, (stats, block) in enumerate(trace.layers, 1)
    ]
    out["blocks"] = [arch.block_document(b) for b in trace.blocks]
    out["tensors"] = tensors.sha256
    return out


def _run_architecture(
    job: DiagnosticsJob, plan: arch.DecoderPlan, check: Callable[[], None]
) -> dict[str, Any]:
    inputs = probe_inputs(job)  # token ids, or ViT's images
    shape = (job.batch, plan.positions, plan.d)
    upstream = _draw(UPSTREAM_STREAM, shape, NormalLaw(0.0, 1.0), job.seed)
    runs = []
    for run in job.runs:
        check()
        runs.append(_architecture_run(plan, run, inputs, upstream))
    return _document(job, arch.UPSTREAM_DESCRIPTION, runs, None)
