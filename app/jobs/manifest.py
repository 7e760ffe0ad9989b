"""The init manifest: per returned tensor, what it was initialised with and what its values
should look like, from the plans alone (nothing is generated).

One document, three places: ``POST /v1/models/manifest`` and ``/v1/weights/manifest`` answer
it alone; ``?manifest=true`` puts it into a safetensors body's ``__metadata__`` under
:data:`METADATA_KEY` (a JSON string: safetensors metadata maps str to str) or at the end of a
JSON body under ``"manifest"``; ``POST /v1/audit`` takes it back. Off by default, so every
existing response keeps its bytes.

Each entry (:func:`manifest_entry`): ``name``, ``shape`` (and ``full_shape``/``slice`` for a
part), ``dtype``, ``role``, ``scheme``, ``fan_in``, ``fan_out``, ``law`` (normal, uniform,
truncated_normal, constant, orthogonal, sparse, identity, segments, dirac, deltaorthogonal,
counter), the expected ``mean`` and ``std`` (the law's), ``kurtosis`` (which sets the audit's
std tolerance), hard bounds ``low``/``high``, ``bound`` (a symmetric uniform's half-width),
``sigma``/``truncation`` (truncated laws) and, when a recipe chose the scheme, ``rule``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from app.core.law_stats import law_name, law_stats
from app.core.laws import IdentityLaw, SegmentsLaw, TruncatedNormalLaw, law_bound
from app.core.plans import TensorPlan

from .job import Job, Output

MANIFEST_FORMAT = "weightinit.manifest/1"
METADATA_KEY = "weightinit.manifest"


def _fan(value: float | None) -> float | int | None:
    if value is not None and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def rule_of(plan: TensorPlan) -> str | None:
    """The recipe rule that chose ``plan``'s scheme (None: no recipe)."""
    return plan.rule


def manifest_entry(output: Output, rule: str | None = None) -> dict[str, Any]:
    """One tensor's manifest entry (module docstring); ``rule`` names the recipe rule that
    chose its scheme, when one did."""
    plan = output.plan
    law = plan.law
    exact_whole = isinstance(law, IdentityLaw | SegmentsLaw)  # stats of the whole tensor only
    stats = None if output.partial and exact_whole else law_stats(law, plan.shape)
    truncated = law if isinstance(law, TruncatedNormalLaw) else None
    entry: dict[str, Any] = {"name": plan.name, "shape": list(output.shape)}
    if output.partial:
        entry["full_shape"] = list(plan.shape)
        entry["slice"] = output.region.text()
    entry |= {
        "dtype": "int64" if plan.is_integer else plan.dtype.value,
        "role": plan.role.value,
        "scheme": plan.scheme or {},
        "fan_in": _fan(plan.fans.fan_in) if plan.fans else None,
        "fan_out": _fan(plan.fans.fan_out) if plan.fans else None,
        "law": stats.law if stats else law_name(law),
        "mean": stats.mean if stats else None,
        "std": stats.std if stats else None,
        "kurtosis": stats.kurtosis if stats else None,
        "low": stats.low if stats else None,
        "high": stats.high if stats else None,
        "bound": law_bound(law),
        "sigma": truncated.sigma if truncated else None,
        "truncation": list(truncated.truncation) if truncated else None,
    }
    if rule is not None:
        entry["rule"] = rule
    return entry


def manifest(job: Job) -> dict[str, Any]:
    """The manifest of ``job``'s returned tensors, in the response's order."""
    return {
        "format": MANIFEST_FORMAT,
        "seed": job.seed,
        "dtype": job.dtype.value,
        "layout": job.layout.value,
        "algorithm": job.algorithm.value,
        "tensors": [manifest_entry(o, rule_of(o.plan)) for o in job.outputs],
    }


def manifest_text(job: Job) -> str:
    """The manifest as compact JSON (the safetensors ``__metadata__`` value)."""
    return json.dumps(manifest(job), separators=(",", ":"))
