"""How exactly a torch-cpu response reproduces torch's bytes, per tensor.

Only torch-cpu responses carry it (blocks-v1 and numpy-legacy bytes and JSON stay as they
were): ``"exactness": "exact"``, or ``"approximate"`` with ``"max_ulp"`` (an integer bound, or
null when an earlier approximate ``trunc_normal_`` may have drawn a different number of words;
``app/core/torch_modules.py``). JSON metadata, digests and the ``X-Weightinit-Exactness``
header of a single-tensor binary body all come from :func:`exactness_fields`.
"""

from __future__ import annotations

from typing import Any

from app.core.torch_modules import plan_exactness
from app.core.types import Algorithm

from .job import Job

_CACHE = "_torch_exactness"


def _by_name(job: Job) -> dict[str, dict[str, Any]]:
    cached: dict[str, dict[str, Any]] | None = job.__dict__.get(_CACHE)
    if cached is None:
        cached = {}
        for plan, how in zip(job.plans, plan_exactness(job.plans), strict=True):
            fields: dict[str, Any] = {"exactness": how.label}
            if not how.exact:
                fields["max_ulp"] = how.max_ulp
            cached[plan.name] = fields
        object.__setattr__(job, _CACHE, cached)  # a frozen Job: computed once, never changes
    return cached


def exactness_fields(job: Job, name: str) -> dict[str, Any]:
    """``{"exactness": ..., "max_ulp": ...}`` of tensor ``name`` (torch-cpu), else ``{}``."""
    if job.algorithm is not Algorithm.TORCH_CPU:
        return {}
    return dict(_by_name(job)[name])


def exactness_header(fields: dict[str, Any]) -> str:
    """``exact``, ``approximate;max_ulp=2`` or ``approximate;max_ulp=unbounded``."""
    if fields["exactness"] == "exact":
        return "exact"
    bound = fields["max_ulp"]
    return f"approximate;max_ulp={'unbounded' if bound is None else bound}"
