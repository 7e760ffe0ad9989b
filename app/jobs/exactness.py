"""Framework-exact algorithms: per-tensor readers and the ``exactness`` fields of a response.

``exactness(job, plan)`` is ``{}`` for weightinit's own algorithms (blocks-v1, numpy-legacy:
their JSON, digests and headers are unchanged) and, for an algorithm that reproduces a
framework (torch-cpu, jax-threefry), ``{"exactness": "exact"}`` or ``{"exactness":
"approximate", "max_ulp": n}``: the largest difference from the framework's value in units in
the last place of the tensor's dtype, measured against the framework version the README
names. torch-cpu's ``max_ulp`` is null (unbounded) after an approximate ``trunc_normal_``,
whose number of draws depends on its values (``app/core/torch_modules.py``). JSON metadata,
digests, the ``X-Weightinit-Exactness`` header of a one-tensor binary body and the
``X-Weightinit-Tensors`` manifest all come from :func:`exactness`.
"""

from __future__ import annotations

from typing import Any

from app.core import jax_threefry
from app.core.plans import TensorPlan
from app.core.reading import TensorReader
from app.core.torch_modules import plan_exactness
from app.core.types import Algorithm

from .job import Job

EXACTNESS_HEADER = "X-Weightinit-Exactness"
_TORCH_CACHE = "_torch_exactness"


def jax_raw(job: Job) -> bool:
    """A raw tensor of /v1/weights is ``init(jax.random.key(seed), shape)``: the root key."""
    layer = job.canonical.get("layer")
    return job.op == "weights" and isinstance(layer, dict) and layer.get("kind") == "tensor"


def jax_readers(job: Job) -> list[TensorReader]:
    """jax-threefry readers: each tensor's key (Flax's parameter key, or the root key)."""
    keys = jax_threefry.tensor_keys([p.name for p in job.plans], job.seed, raw=jax_raw(job))
    return [jax_threefry.JaxTensorReader(o.plan, job.seed, keys[o.plan.name]) for o in job.outputs]


def _torch_by_name(job: Job) -> dict[str, dict[str, Any]]:
    """torch-cpu's fields of every tensor: one depends on the draws before it, so all at once."""
    cached: dict[str, dict[str, Any]] | None = job.__dict__.get(_TORCH_CACHE)
    if cached is None:
        cached = {}
        for plan, how in zip(job.plans, plan_exactness(job.plans), strict=True):
            fields: dict[str, Any] = {"exactness": how.label}
            if not how.exact:
                fields["max_ulp"] = how.max_ulp
            cached[plan.name] = fields
        object.__setattr__(job, _TORCH_CACHE, cached)  # a frozen Job: computed once
    return cached


def exactness(job: Job, plan: TensorPlan) -> dict[str, Any]:
    """The tensor's exactness fields (none for weightinit's own algorithms)."""
    if job.algorithm is Algorithm.JAX_THREEFRY:
        return jax_threefry.exactness(plan)
    if job.algorithm is Algorithm.TORCH_CPU:
        return dict(_torch_by_name(job)[plan.name])
    return {}


def exactness_header(fields: dict[str, Any]) -> str | None:
    """``exact``, ``approximate; max_ulp=n`` or ``approximate; max_ulp=unbounded`` (None for
    weightinit's own algorithms)."""
    if not fields:
        return None
    if fields["exactness"] == "exact":
        return "exact"
    bound = fields["max_ulp"]
    return f"approximate; max_ulp={'unbounded' if bound is None else bound}"
