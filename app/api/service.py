"""From validated requests to tensor plans, arrays and response bodies.

Order of work for every request: build plans (pure, cheap), check every limit, then generate
on the bounded pool (``Settings.workers`` threads), then encode. No array exists before the
limits pass.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import anyio
from numpy.typing import NDArray

from app.core.errors import InvalidParameterError, LimitExceededError
from app.core.fans import Fans
from app.core.generate import TensorPlan, check_limits, generate_all, generate_tensor
from app.core.laws import TruncatedNormalLaw, law_bound
from app.core.layers import (
    LayerSpec,
    RecurrentSpec,
    TensorSpec,
    count_elements,
    make_layer,
)
from app.core.planning import plan_layer, plan_tensor
from app.core.schemes import ResolvedScheme, resolve_scheme
from app.core.types import Algorithm, DType, Family, Layout, Role
from app.encoders import (
    encode_npy,
    encode_npz,
    encode_safetensors,
    json_base64,
    json_values,
    sha256_hex,
)

from .schemas import ModelRequest, WeightsRequest, layer_fields, parse_seed, scheme_parts
from .settings import Settings


@dataclass(frozen=True)
class Job:
    """Everything that determines the response's numbers."""

    seed: int
    dtype: DType
    layout: Layout
    algorithm: Algorithm
    plans: list[TensorPlan]
    canonical: dict[str, Any]  # the canonical request, for ETags

    def etag(self, *variant: str) -> str:
        text = json.dumps([self.canonical, *variant], sort_keys=True, separators=(",", ":"))
        return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _resolve(spec: object, field: str) -> ResolvedScheme | None:
    parts = scheme_parts(spec)
    if parts is None:
        return None
    name, params = parts
    return resolve_scheme(name, params, field=field)


def _describe(resolved: ResolvedScheme | None) -> dict[str, Any] | None:
    return resolved.describe() if resolved is not None else None


class _Budget:
    """Refuse a request over the limits layer by layer, before its tensors are expanded."""

    def __init__(self, settings: Settings, layout: Layout) -> None:
        self.settings = settings
        self.layout = layout
        self.total = 0

    def add(self, layer: LayerSpec) -> LayerSpec:
        self.total += count_elements(layer, self.layout)
        if self.total > self.settings.max_elements:
            raise LimitExceededError(
                "WEIGHTINIT_MAX_ELEMENTS", self.settings.max_elements, self.total
            )
        if isinstance(layer, RecurrentSpec) and layer.num_layers > self.settings.max_layers:
            raise LimitExceededError(
                "WEIGHTINIT_MAX_LAYERS",
                self.settings.max_layers,
                layer.num_layers,
                unit="layers",
                field="layer.num_layers",
            )
        return layer


def weights_job(req: WeightsRequest, settings: Settings) -> Job:
    seed = parse_seed(req.seed)
    scheme = _resolve(req.scheme, "scheme")
    bias = _resolve(req.bias_scheme, "bias_scheme")
    kind, fields = layer_fields(req.layer)
    plans = plan_layer(
        _Budget(settings, req.layout).add(make_layer(kind, fields)),
        layout=req.layout,
        dtype=req.dtype,
        scheme=scheme,
        bias_scheme=bias,
        algorithm=req.algorithm,
    )
    canonical = {
        "op": "weights",
        "seed": seed,
        "dtype": req.dtype.value,
        "layout": req.layout.value,
        "algorithm": req.algorithm.value,
        "layer": {"kind": kind, **fields},
        "scheme": _describe(scheme),
        "bias_scheme": _describe(bias),
    }
    return Job(seed, req.dtype, req.layout, req.algorithm, plans, canonical)


def _mlp_plans(
    sizes: list[int], req: ModelRequest, scheme: ResolvedScheme | None, bias: ResolvedScheme | None
) -> list[TensorPlan]:
    plans: list[TensorPlan] = []
    for index, (n_prev, n) in enumerate(itertools.pairwise(sizes), start=1):
        fans = Fans(float(n_prev), float(n))
        weight = TensorSpec(f"W{index}", (n, n_prev), Role.WEIGHT, Family.DENSE, fans)
        bias_spec = TensorSpec(f"b{index}", (n, 1), Role.BIAS, Family.DENSE, fans)
        for spec in (weight, bias_spec):
            plans.append(
                plan_tensor(
                    spec,
                    layout=Layout.TORCH,
                    dtype=req.dtype,
                    scheme=scheme,
                    bias_scheme=bias,
                    algorithm=req.algorithm,
                )
            )
    return plans


def model_job(req: ModelRequest, settings: Settings) -> Job:
    seed = parse_seed(req.seed)
    if (req.layers is None) == (req.mlp is None):
        raise InvalidParameterError(
            "Give exactly one of 'layers' (named layers) or 'mlp' (the textbook shorthand).",
            field="layers",
        )
    scheme = _resolve(req.scheme, "scheme")
    bias = _resolve(req.bias_scheme, "bias_scheme")
    canonical: dict[str, Any] = {
        "op": "model",
        "seed": seed,
        "dtype": req.dtype.value,
        "layout": req.layout.value,
        "algorithm": req.algorithm.value,
        "scheme": _describe(scheme),
        "bias_scheme": _describe(bias),
    }
    plans: list[TensorPlan] = []
    if req.mlp is not None:
        sizes = list(req.mlp.sizes)
        if len(sizes) - 1 > settings.max_layers:
            raise LimitExceededError("WEIGHTINIT_MAX_LAYERS", settings.max_layers, len(sizes) - 1)
        plans = _mlp_plans(sizes, req, scheme, bias)
        canonical["mlp"] = sizes
    else:
        layers = req.layers or []
        if len(layers) > settings.max_layers:
            raise LimitExceededError("WEIGHTINIT_MAX_LAYERS", settings.max_layers, len(layers))
        if not layers:
            raise InvalidParameterError("'layers' needs at least one layer.", field="layers")
        seen: set[str] = set()
        described = []
        budget = _Budget(settings, req.layout)
        for i, item in enumerate(layers):
            if item.name in seen:
                raise InvalidParameterError(
                    f"Layer name {item.name!r} is used twice; names must be unique.",
                    field=f"layers[{i}].name",
                )
            seen.add(item.name)
            layer_scheme = _resolve(item.scheme, f"layers[{i}].scheme") or scheme
            layer_bias = _resolve(item.bias_scheme, f"layers[{i}].bias_scheme") or bias
            kind, fields = layer_fields(item.layer)
            plans += plan_layer(
                budget.add(make_layer(kind, fields, where=f"layers[{i}].layer")),
                layout=req.layout,
                dtype=req.dtype,
                scheme=layer_scheme,
                bias_scheme=layer_bias,
                algorithm=req.algorithm,
                prefix=f"{item.name}.",
            )
            described.append(
                {
                    "name": item.name,
                    "layer": {"kind": kind, **fields},
                    "scheme": _describe(layer_scheme),
                    "bias_scheme": _describe(layer_bias),
                }
            )
        canonical["layers"] = described
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidParameterError(f"Two tensors would be named {dup!r}.", field="layers")
    return Job(seed, req.dtype, req.layout, req.algorithm, plans, canonical)


# ---- limits, generation ----------------------------------------------------------------------


def select(job: Job, tensor: str | None) -> list[TensorPlan]:
    """The plans a single-tensor format returns (``tensor`` or the first)."""
    if tensor is None:
        return job.plans[:1]
    for plan in job.plans:
        if plan.name == tensor:
            return [plan]
    from app.core.errors import UnknownNameError

    raise UnknownNameError("tensor", tensor, [p.name for p in job.plans], field="tensor")


def check(job: Job, settings: Settings, returned: list[TensorPlan], fmt: str) -> None:
    """Every limit, before any array exists."""
    check_limits(
        job.plans,
        max_elements=settings.max_elements,
        max_matrix_elements=settings.max_matrix_elements,
    )
    if fmt == "json":
        total = sum(p.numel for p in returned)
        if total > settings.max_json_elements:
            raise LimitExceededError(
                "WEIGHTINIT_MAX_JSON_ELEMENTS",
                settings.max_json_elements,
                total,
                hint="Ask for format=npy, npz or safetensors for large tensors.",
            )
    if fmt in ("npy", "npz") and job.dtype is DType.BFLOAT16:
        raise InvalidParameterError(
            ".npy has no bfloat16; ask for format=safetensors or json instead.", field="dtype"
        )


def _generate(job: Job, returned: list[TensorPlan]) -> list[NDArray[Any]]:
    if job.algorithm is Algorithm.NUMPY_LEGACY:
        arrays = generate_all(job.plans, job.seed, job.algorithm)
        by_name = dict(zip([p.name for p in job.plans], arrays, strict=True))
        return [by_name[p.name] for p in returned]
    return [generate_tensor(p, job.seed) for p in returned]


async def generate(
    job: Job, returned: list[TensorPlan], limiter: anyio.CapacityLimiter
) -> list[NDArray[Any]]:
    """Generate on the bounded pool: concurrent large requests queue, not multiply memory."""
    return await anyio.to_thread.run_sync(_generate, job, returned, limiter=limiter)


# ---- rendering --------------------------------------------------------------------------------


def tensor_meta(plan: TensorPlan, array: NDArray[Any]) -> dict[str, Any]:
    law = plan.law
    truncated = law if isinstance(law, TruncatedNormalLaw) else None
    return {
        "name": plan.name,
        "shape": list(plan.shape),
        "dtype": "int64" if plan.is_integer else plan.dtype.value,
        "scheme": plan.scheme or {},
        "fan_in": plan.fans.fan_in if plan.fans else None,
        "fan_out": plan.fans.fan_out if plan.fans else None,
        "std": law.std,
        "bound": law_bound(law),
        "sigma": truncated.sigma if truncated else None,
        "truncation": list(truncated.truncation) if truncated else None,
        "sha256": sha256_hex(array),
    }


def render_json(
    job: Job, plans: list[TensorPlan], arrays: list[NDArray[Any]], layout: str, encoding: str
) -> bytes:
    """The JSON body, with each tensor's data rendered by the encoders (shortest decimals)."""
    parts = []
    for plan, array in zip(plans, arrays, strict=True):
        meta = tensor_meta(plan, array)
        for key in ("fan_in", "fan_out"):
            if meta[key] is not None and math.isfinite(meta[key]) and meta[key] == int(meta[key]):
                meta[key] = int(meta[key])
        head = json.dumps(meta)[:-1]
        data = (
            json.dumps(json_base64(array))
            if encoding == "base64"
            else json_values(array, "nested" if layout == "nested" else "flat")
        )
        parts.append(f'{head}, "data": {data}}}')
    head = json.dumps(
        {
            "seed": job.seed,
            "dtype": job.dtype.value,
            "layout": job.layout.value,
            "algorithm": job.algorithm.value,
        }
    )[:-1]
    return f'{head}, "tensors": [{", ".join(parts)}]}}'.encode()


def sha_header(plans: list[TensorPlan], arrays: list[NDArray[Any]]) -> str:
    return ",".join(f"{p.name}={sha256_hex(a)}" for p, a in zip(plans, arrays, strict=True))


def render_binary(fmt: str, job: Job, plans: list[TensorPlan], arrays: list[NDArray[Any]]) -> bytes:
    if fmt == "npy":
        return encode_npy(arrays[0])
    named = {p.name: a for p, a in zip(plans, arrays, strict=True)}
    if fmt == "npz":
        return encode_npz(named)
    metadata = {
        "seed": str(job.seed),
        "dtype": job.dtype.value,
        "layout": job.layout.value,
        "algorithm": job.algorithm.value,
        "producer": "weightinit",
    }
    return encode_safetensors(named, metadata)
