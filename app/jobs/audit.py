"""``POST /v1/audit``: compare a model's tensors, as the client measured them, with what a
request or a manifest says they should be.

The expected side is always a manifest (:mod:`.manifest`): a request is planned into one
(nothing is generated), a manifest is taken as sent. Each tensor gets a verdict:

* ``ok``: every check passed (:func:`app.core.audit.check_tensor`);
* ``deviates``: a check failed: std, mean or a bound; with the recipe ``rule`` it breaks,
  when the manifest names one;
* ``missing``: in the manifest, not measured; ``unexpected``: measured, not in the manifest;
* ``shape_mismatch``: both, with different shapes (no statistics compared);
* ``unchecked``: a law whose values an audit cannot check from summary statistics (dirac,
  delta-orthogonal, a slice of an identity).

The summary counts each verdict and ``passed`` is true when nothing deviates, is missing,
unexpected or mismatched.
"""

from __future__ import annotations

import math
from typing import Any

from app.core.audit import Check, Observed, check_tensor, dtype_eps
from app.core.errors import InvalidParameterError, WeightInitError
from app.core.law_stats import LawStats

from . import limits
from .audit_requests import AuditRequest, TensorStats
from .job import Selection, model_job, weights_job
from .limits import Settings
from .manifest import manifest
from .requests import WeightsRequest

VERDICTS = ("ok", "deviates", "missing", "unexpected", "shape_mismatch", "unchecked")
FAILING = ("deviates", "missing", "unexpected", "shape_mismatch")


def expected_manifest(body: AuditRequest, settings: Settings) -> dict[str, Any]:
    """The manifest the tensors are audited against: the request's (planned), or the one sent."""
    if body.request is not None:
        selection = Selection("safetensors")
        req = body.request
        try:
            job = (
                weights_job(req, settings, selection)
                if isinstance(req, WeightsRequest)
                else model_job(req, settings, selection)
            )
        except WeightInitError as exc:  # the field is within the audit's 'request'
            exc.field = "request" if exc.field is None else f"request.{exc.field}"
            raise
        return manifest(job)
    assert body.manifest is not None
    return body.manifest.model_dump(exclude_none=True)


def _check_observed(tensors: dict[str, TensorStats], settings: Settings) -> None:
    limits.check_layers(len(tensors), settings, "tensors")
    for name, stats in tensors.items():
        if stats.numel != math.prod(stats.shape):
            raise InvalidParameterError(
                f"Tensor {name[:80]!r}: numel {stats.numel} is not the product of its shape "
                f"{stats.shape} ({math.prod(stats.shape)}).",
                field=f"tensors[{name}].numel",
            )
        wanted = [k for k in ("mean", "std", "min", "max") if getattr(stats, k) is None]
        if stats.numel and wanted:
            raise InvalidParameterError(
                f"Tensor {name[:80]!r} has {stats.numel} elements: give its "
                f"{', '.join(wanted)} too (float64, population std).",
                field=f"tensors[{name}].{wanted[0]}",
            )


def _law_stats(entry: dict[str, Any]) -> LawStats | None:
    if entry.get("std") is None or entry.get("mean") is None:
        return None
    return LawStats(
        str(entry.get("law", "")),
        float(entry["mean"]),
        float(entry["std"]),
        entry.get("kurtosis"),
        entry.get("low"),
        entry.get("high"),
    )


def _check_out(check: Check) -> dict[str, Any]:
    return {
        "statistic": check.statistic,
        "expected": check.expected,
        "observed": check.observed,
        "tolerance": check.tolerance,
        "passed": check.passed,
    }


def _failure(check: Check, law: str) -> str:
    if check.statistic == "min":
        return f"min {check.observed:.6g} is below the {law} law's bound {check.expected:.6g}"
    if check.statistic == "max":
        return f"max {check.observed:.6g} is above the {law} law's bound {check.expected:.6g}"
    ratio = (
        f" ({check.observed / check.expected:.4g}x)"
        if check.statistic == "std" and check.expected
        else ""
    )
    return (
        f"{check.statistic} {check.observed:.6g} where the {law} law has {check.expected:.6g}"
        f"{ratio}, beyond the tolerance ±{check.tolerance:.3g}"
    )


def _expected_out(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("shape", "dtype", "law", "mean", "std", "kurtosis", "low", "high")
    return {k: entry.get(k) for k in keys}


def _observed_out(stats: TensorStats) -> dict[str, Any]:
    return stats.model_dump()


def _audit_one(entry: dict[str, Any], stats: TensorStats, z: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": entry["name"],
        "role": entry.get("role"),
        "scheme": entry.get("scheme"),
        "law": entry.get("law"),
    }
    if entry.get("rule") is not None:
        out["rule"] = entry["rule"]
    out["expected"] = _expected_out(entry)
    out["observed"] = _observed_out(stats)
    if list(stats.shape) != list(entry["shape"]):
        out |= {
            "verdict": "shape_mismatch",
            "checks": [],
            "message": f"shape {stats.shape} where the manifest has {entry['shape']}",
        }
        return out
    expected = _law_stats(entry)
    if expected is None:
        out |= {
            "verdict": "unchecked",
            "checks": [],
            "message": f"a {entry.get('law')} tensor: summary statistics cannot check it",
        }
        return out
    # values rounded to the coarser of the two dtypes (a bfloat16 model stored as float32)
    eps = max(dtype_eps(stats.dtype), dtype_eps(entry["dtype"]))
    observed = Observed(
        stats.numel,
        stats.mean or 0.0,
        stats.std or 0.0,
        stats.min if stats.min is not None else 0.0,
        stats.max if stats.max is not None else 0.0,
    )
    checks = check_tensor(expected, observed, z=z, eps=eps)
    failed = [c for c in checks if not c.passed]
    out["checks"] = [_check_out(c) for c in checks]
    if failed:
        out["verdict"] = "deviates"
        out["message"] = "; ".join(_failure(c, expected.law) for c in failed)
        if entry.get("rule") is not None:
            out["violated_rule"] = entry["rule"]
    else:
        out["verdict"] = "ok"
        out["message"] = f"within tolerance of the {expected.law} law (n={stats.numel}, z={z:g})"
    if stats.dtype != entry["dtype"]:
        out["message"] += f"; stored as {stats.dtype}, the manifest says {entry['dtype']}"
    return out


def audit(expected: dict[str, Any], tensors: dict[str, TensorStats], z: float) -> dict[str, Any]:
    """The audit report of ``tensors`` against the manifest ``expected``."""
    results = []
    named = set()
    for entry in expected["tensors"]:
        named.add(entry["name"])
        stats = tensors.get(entry["name"])
        if stats is None:
            results.append(
                {
                    "name": entry["name"],
                    "role": entry.get("role"),
                    "scheme": entry.get("scheme"),
                    "law": entry.get("law"),
                    **({"rule": entry["rule"]} if entry.get("rule") is not None else {}),
                    "verdict": "missing",
                    "expected": _expected_out(entry),
                    "checks": [],
                    "message": "in the manifest, not among the tensors measured",
                }
            )
            continue
        results.append(_audit_one(entry, stats, z))
    for name, stats in tensors.items():
        if name not in named:
            results.append(
                {
                    "name": name,
                    "verdict": "unexpected",
                    "observed": _observed_out(stats),
                    "checks": [],
                    "message": "measured, not in the manifest",
                }
            )
    counts = {v: sum(r["verdict"] == v for r in results) for v in VERDICTS}
    violated = sorted({r["violated_rule"] for r in results if "violated_rule" in r})
    summary = {
        "tensors": len(results),
        **counts,
        "passed": not any(counts[v] for v in FAILING),
        "violated_rules": violated,
    }
    return {"z": z, "summary": summary, "tensors": results}


def audit_request(body: AuditRequest, settings: Settings) -> dict[str, Any]:
    """``POST /v1/audit``: check the observed statistics, plan the expectation, compare."""
    if (body.request is None) == (body.manifest is None):
        raise InvalidParameterError(
            "Give exactly one of 'request' (a /v1/weights or /v1/models body) or 'manifest' "
            "(an init manifest) to audit the tensors against.",
            field="request",
        )
    _check_observed(body.tensors, settings)
    expected = expected_manifest(body, settings)
    limits.check_layers(len(expected["tensors"]), settings, "manifest.tensors")
    return audit(expected, body.tensors, body.z)
