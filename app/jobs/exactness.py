"""Framework-exact algorithms: per-tensor readers and the ``exactness`` fields of a response.

``exactness(job, plan)`` is ``{}`` for weightinit's own algorithms (blocks-v1, numpy-legacy:
their JSON, digests and headers are unchanged) and, for an algorithm that reproduces a
framework, ``{"exactness": "exact"}`` or ``{"exactness": "approximate", "max_ulp": n}``
(the largest difference from the framework's value, in float32 units in the last place,
measured against the framework version the README names).
"""

from __future__ import annotations

from typing import Any

from app.core import jax_threefry
from app.core.plans import TensorPlan
from app.core.reading import TensorReader
from app.core.types import Algorithm

from .job import Job

EXACTNESS_HEADER = "X-Weightinit-Exactness"


def jax_raw(job: Job) -> bool:
    """A raw tensor of /v1/weights is ``init(jax.random.key(seed), shape)``: the root key."""
    layer = job.canonical.get("layer")
    return job.op == "weights" and isinstance(layer, dict) and layer.get("kind") == "tensor"


def jax_readers(job: Job) -> list[TensorReader]:
    """jax-threefry readers: each tensor's key (Flax's parameter key, or the root key)."""
    keys = jax_threefry.tensor_keys([p.name for p in job.plans], job.seed, raw=jax_raw(job))
    return [jax_threefry.JaxTensorReader(o.plan, job.seed, keys[o.plan.name]) for o in job.outputs]


def exactness(job: Job, plan: TensorPlan) -> dict[str, Any]:
    """The tensor's exactness fields (none for weightinit's own algorithms)."""
    if job.algorithm is Algorithm.JAX_THREEFRY:
        return jax_threefry.exactness(plan)
    return {}


def exactness_header(fields: dict[str, Any]) -> str | None:
    """``exact`` or ``approximate; max_ulp=n`` for a one-tensor binary body, else None."""
    if not fields:
        return None
    if fields["exactness"] == "exact":
        return "exact"
    return f"approximate; max_ulp={fields['max_ulp']}"
